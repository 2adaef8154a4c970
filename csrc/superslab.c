/* SuperSlabs and slabs: formatting, lazy carving of free lists, collection of
 * remote frees, and the state of a block for validation. Ownership and list
 * membership belong to heap.c; this file only knows one SuperSlab at a time. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define HK_EXTEND_BYTES 4096u /* carve about a page of blocks at a time */
/* but at least 4 blocks: one at a time, each allocation of a class above
 * 4 KiB from a fresh slab took the slow path (refill, carve) */
#define HK_EXTEND_MIN_BLOCKS 4u

/* A free-list link that leaves its slab (HAKMEM_SECURE): never returns. */
void hk_corrupt_list(const hk_slab *s, const hk_block *at) {
  hk_log("hakmem: free list of the slab at %p is corrupted: the link stored in free block %p was overwritten "
         "(use after free or overflow); aborting",
         (void *)s->start, (const void *)at);
  abort();
}

/* What a fresh SuperSlab calls first: the large tier's release of its cached
 * pages (set by large.c once it holds any; a layer above this one). */
static _Atomic(hk_shed_fn) growth_shed;
void hk_ss_on_growth(hk_shed_fn shed) { atomic_store_explicit(&growth_shed, shed, memory_order_relaxed); }

/* A SuperSlab for owner: from the LRU cache first (pages still committed),
 * else a fresh slot from the OS layer (zero pages), once the large tier gave
 * back as much of what it caches. */
hk_ss *hk_ss_acquire(hk_heap *owner) {
  hk_ss *ss = hk_lru_pop();
  if (!ss) {
    ss = hk_os_ss_alloc();
    if (!ss) return NULL;
    hk_shed_fn shed = atomic_load_explicit(&growth_shed, memory_order_relaxed);
    if (shed) shed(g_hk.ss_size);
    ss->nslabs = g_hk.nslabs;
    for (unsigned i = 0; i < ss->nslabs; i++) {
      hk_slab *s = hk_ss_slab(ss, i);
      s->index = (uint8_t)i;
      s->cls = HK_CLASS_NONE;
    }
    if (g_hk.prefault == HK_PREFAULT_POPULATE) {
      hk_os_prefault_range((void *)hk_ss_base(ss), g_hk.ss_size);
      ss->populated_slabs = ~0ull;
    }
  }
  ss->free_mask = ss->nslabs == 64 ? ~0ull : (1ull << ss->nslabs) - 1;
  ss->owner = owner;
  ss->next = ss->prev = ss->avail_next = ss->avail_prev = NULL;
  ss->in_avail = 0;
  HK_COUNT(superslabs_live, 1);
  return ss;
}

/* All slabs are empty: the SuperSlab goes to the LRU cache. */
void hk_ss_release(hk_ss *ss) {
  atomic_fetch_sub_explicit(&hk_ctr.superslabs_live, 1, memory_order_relaxed);
  if (g_hk.trace_ss_free) hk_log("[SS_FREE] ss=%p empty, to the LRU cache", (void *)hk_ss_base(ss));
  hk_lru_push(ss);
}

/* Past HAKMEM_SS_PREFAULT_AFTER_MB, a slab is prefaulted only for a class
 * of which its heap holds this many already: one that fills slabs will carve
 * this one whole too (jq's and perl's classes hold hundreds), while a class
 * with fewer may carve a few of its pages and no more. With every slab
 * prefaulted, the partly carved current slab of each class of each thread
 * was resident whole: bench_server_handoff with 16 threads (20 classes
 * each) peaked at 96.6 MB, and at 88.3 with no prefault at all. */
#define PREFAULT_CLASS_SLABS 4

void hk_slab_format(hk_ss *ss, unsigned idx, unsigned cls, hk_heap *owner) {
  hk_slab *s = hk_ss_slab(ss, idx);
  unsigned span = hk_class_span[cls];
  uint32_t bytes = (uint32_t)(span * HK_SLAB_SIZE) - (idx + span == ss->nslabs ? HK_SS_HDR_BYTES : 0);
  s->free = HK_END;
  s->used = 0;
  __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED);
  s->block_size = hk_class_size[cls];
  s->capacity = bytes / s->block_size;
  s->start = hk_ss_base(ss) + ((size_t)idx << HK_SLAB_SHIFT);
  uint64_t mul = UINT64_MAX / s->block_size + 1; /* hk_block_offset_ok */
  if (mul * s->block_size == 0) mul++;           /* a power of two: e must not be 0 */
  s->start_mul = mul;
  s->start_lim = (uint64_t)(s->capacity - 1) * (mul * s->block_size); /* capacity >= 1 (size_class.c) */
  s->cls = (uint8_t)cls;
  s->back = 0;
  s->shareable = hk_class_shareable(cls);
  s->span = (uint8_t)span;
  s->full = 0;
  s->was_formatted = 1;
  s->next = s->prev = NULL;
  atomic_store_explicit(&s->remote, NULL, memory_order_relaxed);
  atomic_store_explicit(&s->lent, 0, memory_order_relaxed); /* stale only after a lent block was given to hak_free */
  s->owner = owner;
  for (unsigned k = 1; k < span; k++) { /* followers: the head's fixed fields (internal.h) */
    hk_slab *f = hk_ss_slab(ss, idx + k);
    f->start = s->start;
    f->block_size = s->block_size;
    f->start_mul = s->start_mul;
    f->start_lim = s->start_lim;
    f->capacity = s->capacity;
    f->cls = s->cls;
    f->shareable = s->shareable;
    f->back = (uint8_t)k;
    f->owner = owner;
  }
  uint64_t units = ((span == 64 ? 0 : 1ull << span) - 1) << idx;
  if ((ss->populated_slabs & units) != units) {
    if (g_hk.prefault == HK_PREFAULT_MADVISE) {
      hk_os_prefault_range((void *)s->start, span * HK_SLAB_SIZE);
      ss->populated_slabs |= units;
    } else if (s->block_size <= HK_PAGE_SIZE && owner->class_slabs[cls] >= PREFAULT_CLASS_SLABS &&
               hk_os_prefault_auto() && hk_os_populate((void *)s->start, span * HK_SLAB_SIZE)) {
      /* Only where carving writes into every page anyway (a block start on each). A larger
       * block's middle pages are the program's to touch or not: bench_mid_large_mt writes the
       * two ends of 8-34 KiB blocks, and prefaulting their slabs took its peak RSS at 8
       * threads from 66 to 171 MB. */
      ss->populated_slabs |= units;
    }
  }
}

/* Links the next run of never-used blocks, in address order, onto the free list. */
void hk_slab_extend(hk_ss *ss, hk_slab *s) {
  uint32_t bs = s->block_size;
  uint32_t n = HK_EXTEND_BYTES / bs;
  if (n < HK_EXTEND_MIN_BLOCKS) n = HK_EXTEND_MIN_BLOCKS;
  if (n > s->capacity - s->carved) n = s->capacity - s->carved;
  uint8_t *first = (uint8_t *)s->start + (size_t)s->carved * bs;
  uint8_t *p = first;
  for (uint32_t i = 1; i < n; i++, p += bs) hk_set_next((hk_block *)p, (hk_block *)(p + bs));
  hk_set_next((hk_block *)p, s->free);
  if (g_hk.check)
    for (uint8_t *q = first; q <= p; q += bs) __atomic_store_n((uintptr_t *)q + 1, hk_free_mark(q), __ATOMIC_RELAXED);
  s->free = (hk_block *)first;
  HK_ASSERT(s->carved + n <= s->capacity, "carving stops at the slab's capacity");
  __atomic_store_n(&s->carved, s->carved + n, __ATOMIC_RELAXED); /* hak_owns may read it from another thread */
}

/* A carved block of s (for validating decoded links). */
bool hk_block_in_slab(const hk_slab *s, const hk_block *b) {
  uint32_t carved = __atomic_load_n(&s->carved, __ATOMIC_RELAXED);
  return hk_block_start_ok(s, (uintptr_t)b) && (uintptr_t)b < s->start + (uintptr_t)carved * s->block_size;
}

/* Moves the remote-free list onto the local free list; returns the count. */
uint32_t hk_slab_collect(hk_slab *s) {
  if (!atomic_load_explicit(&s->remote, memory_order_relaxed)) return 0;
  hk_block *head = atomic_exchange_explicit(&s->remote, NULL, memory_order_acquire);
  if (!head) return 0;
  uint32_t n = 1;
  hk_block *tail = head, *next;
  while ((next = hk_next(tail)) != NULL) {
    if (g_hk.secure && !hk_block_in_slab(s, next)) hk_corrupt_list(s, tail);
    tail = next;
    n++;
  }
  HK_ASSERT(n <= s->used, "remote frees are counted in used until collected");
  hk_set_next(tail, s->free);
  s->free = head;
  s->used -= n;
  return n;
}

/* Only links to blocks of the same slab are followed: a list the owner is
 * changing concurrently may hand this walk a word a user has overwritten. */
static bool list_contains(const hk_slab *s, const hk_block *list, const hk_block *end, const hk_block *b) {
  uint32_t limit = __atomic_load_n(&s->carved, __ATOMIC_RELAXED);
  for (uint32_t i = 0; list != end && i <= limit; list = hk_next(list), i++) {
    if (list == b) return true;
    if (!hk_block_in_slab(s, list)) return false;
  }
  return false;
}

/* What the address a inside the formatted (head) slab s is. A free block's
 * first word links to a block of its own slab, or ends a list: HK_END for the
 * local list, NULL for the remote list. Any other first word means live,
 * without a walk. The local list is walked only when the caller owns it
 * (may_walk_local); the remote list only grows at its head, so walking it
 * races with nothing that unlinks. */
int hk_slab_block_state(hk_slab *s, uintptr_t a, bool may_walk_local) {
  if (!hk_block_start_ok(s, a)) return HAK_BLOCK_INTERIOR;
  uintptr_t idx = (a - s->start) / s->block_size;
  if (idx >= s->capacity) return HAK_BLOCK_INTERIOR;
  uint32_t carved = __atomic_load_n(&s->carved, __ATOMIC_RELAXED);
  if (idx >= carved) return HAK_BLOCK_FREE;
  if (g_hk.check) return hk_has_free_mark((const void *)a) ? HAK_BLOCK_FREE : HAK_BLOCK_LIVE;
  const hk_block *b = (const hk_block *)a, *next = hk_next(b);
  if (next != NULL && next != HK_END && !hk_block_in_slab(s, next)) return HAK_BLOCK_LIVE;
  if (list_contains(s, atomic_load_explicit(&s->remote, memory_order_acquire), NULL, b)) return HAK_BLOCK_FREE;
  if (next != NULL && may_walk_local && list_contains(s, s->free, HK_END, b)) return HAK_BLOCK_FREE;
  return HAK_BLOCK_LIVE;
}
