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
 * 64 KiB block with no guard instead, recorded in a small set of unguarded
 * lent blocks; hk_block_state reads a recorded block as foreign, so every
 * validating function (free, realloc, batches, owns) refuses it as it
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

/* ---- the set of unguarded lent blocks --------------------------------------
 * Open addressing at most half full, with tombstones, in a private mapping
 * (never in the user's heap). One lock; taken only while such blocks exist. */
typedef struct lent_slot {
  uintptr_t key;   /* block address; EMPTY or TOMB */
  size_t size;
} lent_slot;

#define EMPTY ((uintptr_t)0)
#define TOMB ((uintptr_t)1)

static struct {
  pthread_mutex_t lock;
  lent_slot *slots;
  size_t cap, used; /* used: keys and tombstones */
} set = {.lock = PTHREAD_MUTEX_INITIALIZER};
static _Atomic size_t n_unguarded; /* keys in the set: 0 lets hk_lent_unguarded return at once */

static size_t slot_of(uintptr_t key, size_t cap) {
  return (size_t)(((key >> 16) * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static lent_slot *find_locked(uintptr_t key) {
  if (!set.slots) return NULL;
  for (size_t i = slot_of(key, set.cap);; i = (i + 1) & (set.cap - 1)) {
    if (set.slots[i].key == key) return &set.slots[i];
    if (set.slots[i].key == EMPTY) return NULL;
  }
}

static bool insert_locked(uintptr_t key, size_t size) {
  if ((set.used + 1) * 2 > set.cap) { /* grow (or clean out tombstones) */
    size_t live = atomic_load_explicit(&n_unguarded, memory_order_relaxed), cap = 64;
    while ((live + 1) * 4 > cap) cap *= 2;
    lent_slot *slots = hk_os_map(cap * sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < set.cap; i++) {
      uintptr_t k = set.slots[i].key;
      if (k <= TOMB) continue;
      size_t j = slot_of(k, cap);
      while (slots[j].key != EMPTY) j = (j + 1) & (cap - 1);
      slots[j] = set.slots[i];
    }
    if (set.slots) hk_os_unmap(set.slots, set.cap * sizeof *set.slots);
    set.slots = slots;
    set.cap = cap;
    set.used = live;
  }
  size_t i = slot_of(key, set.cap);
  while (set.slots[i].key > TOMB) i = (i + 1) & (set.cap - 1);
  if (set.slots[i].key == EMPTY) set.used++;
  set.slots[i] = (lent_slot){key, size};
  atomic_fetch_add_explicit(&n_unguarded, 1, memory_order_relaxed);
  return true;
}

/* The size of the unguarded lent block at p, 0 when it is none; removes it when take. */
static size_t lookup(const void *p, bool take) {
  if (atomic_load_explicit(&n_unguarded, memory_order_relaxed) == 0) return 0;
  hk_lock(&set.lock, HK_LOCK_META);
  lent_slot *slot = find_locked((uintptr_t)p);
  size_t size = slot ? slot->size : 0;
  if (slot && take) {
    slot->key = TOMB;
    atomic_fetch_sub_explicit(&n_unguarded, 1, memory_order_relaxed);
  }
  hk_unlock(&set.lock);
  return size;
}

bool hk_lent_unguarded(const void *p) {
  return atomic_load_explicit(&n_unguarded, memory_order_relaxed) != 0 && hk_registry_has((uintptr_t)p) &&
         hk_usable_size(p) == HK_SLAB_MAX && lookup(p, false) != 0;
}

void hk_lent_fork_prepare(void) { pthread_mutex_lock(&set.lock); }
void hk_lent_fork_parent(void) { pthread_mutex_unlock(&set.lock); }

/* ---- the exported functions ------------------------------------------------- */
static void *lend_alloc(size_t size, int zeroed) {
  if (size > SIZE_MAX - GUARD) return NULL;
  if (size > HK_SLAB_MAX - GUARD && size <= HK_SLAB_MAX) { /* a 64 KiB block, recorded instead of guarded */
    void *p = zeroed ? hk_calloc(1, size) : hk_alloc(size);
    if (!p) return NULL;
    hk_lock(&set.lock, HK_LOCK_META);
    bool ok = insert_locked((uintptr_t)p, size);
    hk_unlock(&set.lock);
    if (!ok) hak_free(p);
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
  size_t unguarded = lookup(bytes, false);
  if (unguarded) return unguarded;
  const guard *g = (const guard *)(a - GUARD);
  if (hk_block_state(g) != HAK_BLOCK_LIVE) return 0; /* only then is the guard ours to read */
  return g->tag == ((uintptr_t)g ^ MAGIC) ? (size_t)g->size : 0;
}

void hak_buffer_free(void *bytes, void *ctx) {
  (void)ctx;
  if (!bytes) return;
  if (lookup(bytes, true)) {
    hak_free(bytes);
    return;
  }
  guard *g = (guard *)((uint8_t *)bytes - GUARD);
  g->tag = 0;
  hak_free(g);
}

void *hak_buffer_free_fn(void) { return (void *)&hak_buffer_free; }
