/* The large tier: above the slab tier, each allocation is its own mapping.
 * A 64-byte header just below the returned pointer records the mapping; the
 * pointer itself is recorded in an open-addressing hash set, so ownership is
 * decided by a lookup and never by reading memory that may not be ours.
 * Growth uses mremap where the alignment allows it. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "internal.h"

#define HK_LARGE_HDR 64u
#define HK_LARGE_MAGIC 0x68616b6c61726765ull /* "haklarge" */

typedef struct hk_large_hdr {
  uint64_t magic;
  uint8_t *map_base;
  size_t map_size;
  size_t align;
} hk_large_hdr;

#define EMPTY ((uintptr_t)0)
#define TOMB ((uintptr_t)1)

static struct {
  pthread_mutex_t lock;
  uintptr_t *slots;
  size_t cap, count, tombs;
} tab = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Atomic uint64_t n_allocs, n_frees, live_bytes;

static size_t slot_of(uintptr_t key, size_t cap) {
  return (size_t)(((key >> 6) * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static void insert_raw(uintptr_t *slots, size_t cap, uintptr_t key) {
  size_t i = slot_of(key, cap);
  while (slots[i] > TOMB) i = (i + 1) & (cap - 1);
  slots[i] = key;
}

/* Grows (or cleans) the table so that one more key fits under half load. */
static bool reserve_locked(void) {
  if ((tab.count + tab.tombs + 1) * 2 <= tab.cap) return true;
  size_t cap = tab.cap ? tab.cap : 512;
  while ((tab.count + 1) * 2 > cap) cap *= 2;
  if ((tab.count + 1) * 4 > cap) cap *= 2;
  uintptr_t *slots = hk_os_map(cap * sizeof *slots);
  if (!slots) return false;
  for (size_t i = 0; i < tab.cap; i++)
    if (tab.slots[i] > TOMB) insert_raw(slots, cap, tab.slots[i]);
  if (tab.slots) hk_os_unmap(tab.slots, tab.cap * sizeof *tab.slots);
  tab.slots = slots;
  tab.cap = cap;
  tab.tombs = 0;
  return true;
}

static size_t find_locked(uintptr_t key) {
  if (!tab.cap || key <= TOMB) return SIZE_MAX;
  for (size_t i = slot_of(key, tab.cap);; i = (i + 1) & (tab.cap - 1)) {
    if (tab.slots[i] == key) return i;
    if (tab.slots[i] == EMPTY) return SIZE_MAX;
  }
}

static hk_large_hdr *hdr_of(const void *p) { return (hk_large_hdr *)((uint8_t *)p - HK_LARGE_HDR); }

static size_t usable_of(const void *p) {
  hk_large_hdr *h = hdr_of(p);
  return (size_t)(h->map_base + h->map_size - (const uint8_t *)p);
}

void *hk_large_alloc(size_t size, size_t align, bool *fresh) {
  if (align < HK_LARGE_HDR) align = HK_LARGE_HDR;
  size_t slack = align; /* p = align_up(base + header, align) <= base + align */
  if (size > PTRDIFF_MAX - slack - HK_PAGE_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  size_t map_size = (size + slack + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1);
  uint8_t *base = hk_os_map(map_size);
  if (!base) {
    errno = ENOMEM;
    return NULL;
  }
  uint8_t *p = (uint8_t *)(((uintptr_t)base + HK_LARGE_HDR + align - 1) & ~(uintptr_t)(align - 1));
  hk_large_hdr *h = hdr_of(p);
  *h = (hk_large_hdr){HK_LARGE_MAGIC, base, map_size, align};
  hk_lock(&tab.lock);
  bool ok = reserve_locked();
  if (ok) {
    insert_raw(tab.slots, tab.cap, (uintptr_t)p);
    tab.count++;
  }
  hk_unlock(&tab.lock);
  if (!ok) {
    hk_os_unmap(base, map_size);
    errno = ENOMEM;
    return NULL;
  }
  atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&live_bytes, map_size, memory_order_relaxed);
  if (fresh) *fresh = true;
  return p;
}

/* Removes p from the set; false if it is not a large block. */
static bool take(const void *p) {
  hk_lock(&tab.lock);
  size_t i = find_locked((uintptr_t)p);
  if (i != SIZE_MAX) {
    tab.slots[i] = TOMB;
    tab.count--;
    tab.tombs++;
  }
  hk_unlock(&tab.lock);
  return i != SIZE_MAX;
}

bool hk_large_free(void *p) {
  if (!take(p)) return false;
  hk_large_hdr *h = hdr_of(p);
  atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live_bytes, h->map_size, memory_order_relaxed);
  hk_os_unmap(h->map_base, h->map_size);
  return true;
}

size_t hk_large_usable(const void *p) {
  pthread_mutex_lock(&tab.lock);
  size_t n = find_locked((uintptr_t)p) != SIZE_MAX ? usable_of(p) : 0;
  pthread_mutex_unlock(&tab.lock);
  return n;
}

/* Resizes a large block in place or by mremap; NULL when neither applies
 * (the caller then allocates, copies and frees). */
void *hk_large_realloc(void *p, size_t size) {
  hk_large_hdr *h = hdr_of(p);
  if (size <= usable_of(p)) return p;
  if (h->align > HK_PAGE_SIZE || size > PTRDIFF_MAX - HK_PAGE_SIZE) return NULL;
  size_t offset = (size_t)((uint8_t *)p - h->map_base);
  size_t map_size = (offset + size + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1);
  if (!take(p)) return NULL;
  size_t old_size = h->map_size;
  uint8_t *base = mremap(h->map_base, old_size, map_size, MREMAP_MAYMOVE);
  uint8_t *np = base == MAP_FAILED ? (uint8_t *)p : base + offset;
  if (base != MAP_FAILED) {
    hk_large_hdr *nh = hdr_of(np);
    nh->map_base = base;
    nh->map_size = map_size;
    HK_COUNT(os_maps, 1);
    HK_COUNT(os_map_bytes, map_size - old_size);
    atomic_fetch_add_explicit(&live_bytes, map_size - old_size, memory_order_relaxed);
  }
  hk_lock(&tab.lock);
  reserve_locked(); /* a slot was just freed, so the insert below always fits */
  insert_raw(tab.slots, tab.cap, (uintptr_t)np);
  tab.count++;
  hk_unlock(&tab.lock);
  return base == MAP_FAILED ? NULL : np;
}

void hk_large_counts(uint64_t *allocs, uint64_t *frees, uint64_t *bytes) {
  *allocs = atomic_load_explicit(&n_allocs, memory_order_relaxed);
  *frees = atomic_load_explicit(&n_frees, memory_order_relaxed);
  *bytes = atomic_load_explicit(&live_bytes, memory_order_relaxed);
}

void hk_large_fork_prepare(void) { pthread_mutex_lock(&tab.lock); }
void hk_large_fork_parent(void) { pthread_mutex_unlock(&tab.lock); }
void hk_large_fork_child(void) { pthread_mutex_init(&tab.lock, NULL); }
