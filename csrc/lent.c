/* Blocks lent to JavaScript with no guard (buffer.c): a bit per block in
 * the slab's metadata (hk_slab.lent), in slabs of at most 64 blocks (classes
 * of 1 KiB and up), which hk_block_state (dispatch.c) reads as foreign. The
 * owner sets a bit when it lends the block; whichever thread gives the buffer
 * back clears it, so both are atomic. A block lent with fewer bytes than its
 * class's size also has its size in a small set here: open addressing at most
 * half full, with tombstones, in a private mapping (never in the user's heap),
 * one lock, taken only while such records exist. */
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
static _Atomic size_t n_unguarded; /* keys in the set: 0 lets hk_lent_size skip the lock */

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

static size_t recorded_size(uintptr_t key, bool take) {
  if (atomic_load_explicit(&n_unguarded, memory_order_relaxed) == 0) return 0;
  hk_lock(&set.lock, HK_LOCK_META);
  lent_slot *slot = find_locked(key);
  size_t size = slot ? slot->size : 0;
  if (slot && take) {
    slot->key = TOMB;
    atomic_fetch_sub_explicit(&n_unguarded, 1, memory_order_relaxed);
  }
  hk_unlock(&set.lock);
  return size;
}

/* a's index in (head) slab s; -1 when a is no block start of a formatted slab of at most 64 blocks. */
static int lent_index(const hk_slab *s, uintptr_t a) {
  if (s->cls == HK_CLASS_NONE || s->capacity > 64) return -1;
  return hk_block_start_ok(s, a) ? (int)((a - s->start) / s->block_size) : -1;
}

/* The (head) slab holding a when a is in a slab with a block lent, else NULL: the test every buffer free makes. */
static inline hk_slab *slab_with_lent(uintptr_t a) {
  if (!hk_registry_has(a)) return NULL;
  hk_slab *s = hk_head_slab_of(a);
  return atomic_load_explicit(&s->lent, memory_order_relaxed) != 0 ? s : NULL;
}

bool hk_lent_mark(void *p, size_t size) {
  uintptr_t a = (uintptr_t)p;
  HK_ASSERT(hk_registry_has(a), "a lent block is a slab block");
  hk_slab *s = hk_head_slab_of(a);
  int i = lent_index(s, a);
  HK_ASSERT(i >= 0 && size <= s->block_size, "a lent block is a whole block of a slab of at most 64");
  if (i < 0) return false; /* no bit for it: the caller gives the block back */
  HK_ASSERT(!(atomic_load_explicit(&s->lent, memory_order_relaxed) >> i & 1), "a new block is not marked lent");
  if (size != s->block_size) {
    hk_lock(&set.lock, HK_LOCK_META);
    bool ok = insert_locked(a, size);
    hk_unlock(&set.lock);
    if (!ok) return false;
  }
  atomic_fetch_or_explicit(&s->lent, (uint64_t)1 << i, memory_order_relaxed);
  return true;
}

static bool marked(const hk_slab *s, int i) {
  return i >= 0 && (atomic_load_explicit(&s->lent, memory_order_relaxed) >> i) & 1;
}

bool hk_lent_unguarded(const void *p) {
  hk_slab *s = slab_with_lent((uintptr_t)p);
  return s && marked(s, lent_index(s, (uintptr_t)p));
}

size_t hk_lent_size(const void *p, bool take) {
  hk_slab *s = slab_with_lent((uintptr_t)p);
  if (!s) return 0;
  int i = lent_index(s, (uintptr_t)p);
  if (!marked(s, i)) return 0;
  size_t recorded = recorded_size((uintptr_t)p, take);
  if (take) atomic_fetch_and_explicit(&s->lent, ~((uint64_t)1 << i), memory_order_relaxed);
  return recorded ? recorded : s->block_size;
}

void hk_lent_fork_prepare(void) { pthread_mutex_lock(&set.lock); }
void hk_lent_fork_parent(void) { pthread_mutex_unlock(&set.lock); }
