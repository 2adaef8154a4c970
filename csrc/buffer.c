/* Blocks lent to JavaScript as ArrayBuffers (the bindings' buffer(), its
 * unzeroed variant and arena chunks).
 *
 * A lent block starts with a 16-byte guard and the ArrayBuffer begins after
 * it, so no address JavaScript can see (ptr(buffer), any view of it) is the
 * start of a hakmem block: hak_free_checked refuses it as an interior or
 * foreign pointer, and only the buffer's own deallocator gives the block
 * back. The guard's first word ties it to its block (address ^ magic), so
 * hak_buffer_size can tell a lent block from any other memory; the second
 * word holds the size asked for. Keeping the guard at 16 bytes keeps the
 * buffer 16-byte aligned.
 *
 * Buffers of 65521 to 65536 bytes would leave the slab tier with their guard
 * (64 KiB is the largest slab block) for a mapping of their own. They take a
 * 64 KiB block with no guard instead, marked lent in its slab (lent.c);
 * hk_block_state reads a marked block as foreign, so every validating
 * function (free, realloc, batches, owns) refuses it as it
 * refuses a guarded buffer. */
#include <string.h>
#include "internal.h"

#define GUARD 16u
#define MAGIC ((uintptr_t)0x68616b6d656d6266ull) /* "hakmembf" */

typedef struct guard {
  uintptr_t tag;   /* block address ^ MAGIC while lent; 0 once given back */
  uint64_t size;   /* bytes of the buffer (after the guard) */
} guard;
_Static_assert(sizeof(guard) == GUARD, "the guard keeps buffers 16-byte aligned");

/* Lend with no guard only where the guard would leave the slab tier. The
 * mark costs more than the guard: lending a 1 KiB .. 32 KiB class size with
 * no guard (a 4096-byte buffer in the 4096 rather than the 5120 class) took
 * 6-9 ns more per buffer in C, and bufferUnsafe(4096) was no faster in Bun. */
static bool lends_unguarded(size_t size) { return size > HK_SLAB_MAX - GUARD && size <= HK_SLAB_MAX; }

static void *lend_alloc(size_t size, int zeroed) {
  if (size > SIZE_MAX - GUARD) return NULL;
  if (lends_unguarded(size)) {
    void *p = zeroed ? hk_calloc(1, size) : hk_alloc(size);
    if (!p) return NULL;
    bool ok = hk_lent_mark(p, size);
    if (!ok) hk_free(p);
    return ok ? p : NULL;
  }
  /* Above the slab tier hk_calloc is hk_large_calloc, which clears only the
   * pages of the run that may hold data: none of a fresh or purged run (its
   * pages are not faulted in here), all of the block the thread parked on its
   * last large free (it was used). hk_large_alloc's known_zero says only "all
   * zero" or not, so calling it and zeroing on false would clear more. */
  guard *g = zeroed ? hk_calloc(1, size + GUARD) : hk_alloc(size + GUARD);
  if (!g) return NULL;
  g->tag = (uintptr_t)g ^ MAGIC;
  g->size = size;
  return (uint8_t *)g + GUARD;
}

void *hak_buffer_alloc(size_t size, int zeroed) { return lend_alloc(size, zeroed); }

void *hak_buffer_alloc_i32(int32_t size, int32_t zeroed) { return size < 0 ? NULL : lend_alloc((size_t)size, zeroed); }

size_t hak_buffer_size(const void *bytes) {
  uintptr_t a = (uintptr_t)bytes;
  if (a < GUARD || (a & 15) != 0) return 0;
  size_t unguarded = hk_lent_size(bytes, false);
  if (unguarded) return unguarded;
  const guard *g = (const guard *)(a - GUARD);
  if (hk_block_state(g) != HAK_BLOCK_LIVE) return 0; /* only then is the guard ours to read */
  return g->tag == ((uintptr_t)g ^ MAGIC) ? (size_t)g->size : 0;
}

/* ctx: NULL, or the size bytes was lent with (what the Bun bindings give
 * toBuffer as the deallocator's context). A size that lends_unguarded refuses
 * means a guarded buffer, freed with no look at its slab's marks: that look
 * cost 5-8 ns per 4 KiB buffer with 10,000 buffers live. */
void hak_buffer_free(void *bytes, void *ctx) {
  if (!bytes) return;
  if ((ctx == NULL || lends_unguarded((uintptr_t)ctx)) && hk_lent_size(bytes, true)) {
    hk_free(bytes);
    return;
  }
  guard *g = (guard *)((uint8_t *)bytes - GUARD);
  g->tag = 0;
  hk_free(g);
}

void *hak_buffer_free_fn(void) { return (void *)&hak_buffer_free; }
