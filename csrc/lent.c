/* The set of unguarded lent blocks: 64 KiB slab blocks lent to JavaScript
 * with no guard (buffer.c), which hk_block_state (dispatch.c) reads as
 * foreign. Open addressing at most half full, with tombstones, in a private
 * mapping (never in the user's heap). One lock; taken only while such blocks
 * exist. */
#include "internal.h"

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
size_t hk_lent_lookup(const void *p, bool take) {
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

bool hk_lent_record(void *p, size_t size) {
  hk_lock(&set.lock, HK_LOCK_META);
  bool ok = insert_locked((uintptr_t)p, size);
  hk_unlock(&set.lock);
  return ok;
}

bool hk_lent_unguarded(const void *p) {
  uintptr_t a = (uintptr_t)p;
  if (atomic_load_explicit(&n_unguarded, memory_order_relaxed) == 0 || !hk_registry_has(a)) return false;
  hk_slab *s = hk_slab_of(hk_ss_of(a), a);
  return s->cls != HK_CLASS_NONE && hk_slab_head(s)->block_size == HK_SLAB_MAX && hk_lent_lookup(p, false) != 0;
}

void hk_lent_fork_prepare(void) { pthread_mutex_lock(&set.lock); }
void hk_lent_fork_parent(void) { pthread_mutex_unlock(&set.lock); }
