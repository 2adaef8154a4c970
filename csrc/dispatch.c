/* The paths above the inline fast paths, shared by api.c, buffer.c and
 * preload.c: a request routed to the slab or the large tier (large sizes,
 * alignment, calloc, realloc), and the state of a block for validation. */
#include <errno.h>
#include <string.h>
#include "internal.h"

void *hk_alloc_slow(size_t size) {
  hk_init();
  return hk_large_alloc(size, 0, NULL);
}

void *hk_alloc_aligned(size_t align, size_t size) {
  if (align <= 16) return hk_alloc(size);
  if (HK_UNLIKELY(align > HK_ALIGN_MAX)) { /* would reserve align bytes of address space */
    errno = ENOMEM;
    return NULL;
  }
  size_t need = size < align ? align : size;
  if (need <= HK_SLAB_MAX && align <= HK_PAGE_SIZE) {
    /* Slab starts are page aligned, so a class whose size is a multiple of
     * align gives aligned blocks. */
    for (unsigned c = hk_thread_class_of(need); c < HK_NCLASSES; c++)
      if ((hk_class_size[c] & (align - 1)) == 0) return hk_alloc_class(c);
  }
  hk_init();
  return hk_large_alloc(size, align, NULL);
}

bool hk_free_large_or_null(void *p) { return p == NULL || hk_large_free(p); }

static int block_state(const void *p) {
  uintptr_t a = (uintptr_t)p;
  if (hk_registry_has(a)) {
    hk_slab *s = hk_slab_at(a);
    if (s->cls == HK_CLASS_NONE) return (a & 15) == 0 ? HAK_BLOCK_FREE : HAK_BLOCK_INTERIOR;
    s = hk_slab_head(s);
    hk_heap *owner = s->owner;
    if (owner == hk_tl.heap) return hk_slab_block_state(s, a, true);
    int state = hk_slab_block_state(s, a, false);
    /* live as far as the remote list tells: an abandoned owner's own lists may know better */
    return state == HAK_BLOCK_LIVE && owner && !g_hk.check ? hk_heap_foreign_block_state(owner, s, a) : state;
  }
  if (!p) return HAK_BLOCK_FOREIGN;
  if (hk_large_usable(p)) return HAK_BLOCK_LIVE;
  return hk_large_recently_freed(p) ? HAK_BLOCK_FREE : HAK_BLOCK_FOREIGN;
}

int hk_block_state(const void *p) {
  int state = block_state(p);
  /* A block lent to JavaScript with no guard (buffer.c) is not the caller's to free, resize or own. */
  return state == HAK_BLOCK_LIVE && HK_UNLIKELY(hk_lent_unguarded(p)) ? HAK_BLOCK_FOREIGN : state;
}

/* Frees p, known to be a live block (slab or large): the inline free first
 * (realloc's moves went through the slow one, 58 instructions a free against
 * 15; it declines in check and secure modes, and for large blocks). */
void hk_free_live(void *p) {
  if (hk_free_slab_block(p)) return;
  if (!hk_free_slab_block_slow(p)) hk_free_large_or_null(p);
}

/* The error a free of a block in state (not LIVE) returns. */
int hk_free_error(int state) { return state == HAK_BLOCK_FREE ? HAK_E_DOUBLE_FREE : HAK_E_FOREIGN; }

int hk_free_validated(void *p) {
  int state = p ? hk_block_state(p) : HAK_BLOCK_FOREIGN;
  if (state == HAK_BLOCK_LIVE) {
    hk_free_live(p);
    return HAK_OK;
  }
  if (p) HK_COUNT(invalid_frees, 1);
  return hk_free_error(state);
}

size_t hk_usable_size(const void *p) {
  uintptr_t a = (uintptr_t)p;
  if (hk_registry_has(a)) return hk_slab_usable(a);
  return p ? hk_large_usable(p) : 0;
}

/* A buffer that grows past this leaves the slab tier for the large tier,
 * where it grows in place, instead of being copied into each size class. */
#define HK_REALLOC_LARGE_FROM (16u * 1024)

/* A block grown out of its size class gets at least this much more than it
 * had (up to HK_REALLOC_LARGE_FROM): a buffer grown a little at a time was
 * copied into every class it passed (classes are 1/8 to 1/4 apart), and the
 * copies cost more than the rest of the call: realloc by 64 B from 16 B to
 * 16 KiB ran 89 M calls/s against glibc's 148 M, which grows in place; 156 M
 * with half more, 126 M with a quarter (tcmalloc's rule). A larger jump gets
 * what it asks for. */
#define HK_REALLOC_GROWTH_DIV 2u

/* n rounded up to the classes four per power of two (above 2 KiB): a
 * growing buffer passes over the classes an eighth above a power of two
 * (size_class.c), which are for a power of two plus a header; stopping there
 * it moved once more on its way (realloc by 64 B to 16 KiB: 13 moves instead
 * of 12, half as many bytes copied again, 136 -> 119 M calls/s). */
static size_t quarter_grid(size_t n) {
  if (n <= 2048) return n;
  size_t step = ((size_t)1 << (63 - __builtin_clzll(n - 1))) / 4; /* a quarter of the power of two below n */
  return (n + step - 1) & ~(step - 1);
}

/* p (old_usable bytes) moved to a new block of size bytes (or more, growing). */
static void *realloc_moved(void *p, size_t size, size_t old_usable) {
  bool grows = size > old_usable;
  bool to_large = grows && (size > HK_REALLOC_LARGE_FROM ||
                            (size > HK_REALLOC_VECTOR_LARGE_FROM && hk_grows_like_vector(size, old_usable)));
  size_t want = size;
  if (grows && !to_large) {
    size_t more = old_usable + old_usable / HK_REALLOC_GROWTH_DIV;
    if (more > want) want = more < HK_REALLOC_LARGE_FROM ? more : HK_REALLOC_LARGE_FROM;
    want = quarter_grid(want); /* within HK_REALLOC_LARGE_FROM, a power of two */
  }
  void *q = to_large ? hk_large_alloc_grown(size, old_usable) : hk_alloc(want);
  if (!q) return NULL;
  memcpy(q, p, size < old_usable ? size : old_usable);
  hk_free_live(p);
  return q;
}

void *hk_realloc_slab(void *p, size_t size, size_t old_usable) {
  if (size <= old_usable && size >= old_usable / 2) return p; /* wastes at most half */
  return realloc_moved(p, size, old_usable);
}

/* A large block resized to more than the least a vector moves in with stays
 * in the large tier where it can; smaller, it goes back to a slab class. */
void *hk_realloc_large_resized(void *p, size_t size, size_t old_usable) {
  if (size > HK_REALLOC_VECTOR_LARGE_FROM) {
    void *q = hk_large_realloc(p, size); /* grown or shrunk in place (or remapped) */
    if (q) return q;
  }
  return realloc_moved(p, size, old_usable);
}

void *hk_realloc_owned(void *p, size_t size, size_t old_usable) {
  return hk_registry_has((uintptr_t)p) ? hk_realloc_slab(p, size, old_usable) : hk_realloc_large(p, size, old_usable);
}

void *hk_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (total > HK_SLAB_MAX) {
    hk_init();
    return hk_large_calloc(total); /* clears only the pages that may hold data */
  }
  void *p = hk_alloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* hk_free off its fast path: check mode, large blocks, misuse. */
HK_NOINLINE void hk_free_slow(void *p) {
  if (g_hk.check) {
    int state = p ? hk_block_state(p) : HAK_BLOCK_LIVE;
    if (state != HAK_BLOCK_LIVE) {
      hk_report_invalid_free(p, state);
      return;
    }
  }
  if (hk_free_slab_block_slow(p) || hk_free_large_or_null(p)) return;
  hk_report_invalid_free(p, hk_large_recently_freed(p) ? HAK_BLOCK_FREE
                            : hk_large_interior(p)     ? HAK_BLOCK_INTERIOR
                                                       : HAK_BLOCK_FOREIGN);
}
