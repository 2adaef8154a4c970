/* The large tier: above 64 KiB each block is its own mapping.
 *
 * A 64-byte header just below the returned pointer records the mapping; the
 * pointer itself is recorded in an open-addressing hash set, so ownership is
 * decided by a lookup, never by reading memory that may not be ours.
 *
 * Freed mappings go to the ACE cache (the seeds' name) with their pages still
 * committed, so repeated large malloc/free does not reach the kernel: binned
 * by mapping size (four size steps per power of two), evicted oldest first
 * beyond HAKMEM_ACE_MAX_CACHED entries or HAKMEM_ACE_MAX_MB. A request the
 * cache cannot serve is a failure of one kind, traced by HAKMEM_ACE_TRACE:
 * Threshold (bigger than HAKMEM_ACE_MAX_BLOCK, or over-aligned), Exhaustion
 * (no cached mapping of its size) or MapFail (the OS refused).
 * One lock covers the set and the cache; each operation takes it once. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "internal.h"

#define HK_LARGE_HDR 64u
#define HK_ACE_BINS 160                        /* size classes from 64 KiB up to 2^56 */

typedef struct hk_large_hdr {
  uint8_t *map_base;
  size_t map_size;
  size_t align;
} hk_large_hdr;

/* Written at the base of a mapping while it waits in the cache. */
typedef struct hk_ace_node {
  size_t map_size;
  unsigned bin;
  struct hk_ace_node *bin_next, *bin_prev; /* newest first */
  struct hk_ace_node *age_next, *age_prev; /* age list: head newest, tail oldest */
} hk_ace_node;

#define EMPTY ((uintptr_t)0)
#define TOMB ((uintptr_t)1)

static struct {
  pthread_mutex_t lock;
  uintptr_t *slots;
  size_t cap, count, tombs;
  hk_ace_node *bins[HK_ACE_BINS];
  hk_ace_node *newest, *oldest;
  size_t cached, cached_bytes;
} tab = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Atomic uint64_t n_allocs, n_frees, live_bytes;

/* The most recently freed large pointers, so that a second free of one is
 * reported as a double free rather than taken for a foreign pointer (and
 * handed to the next allocator, which would read a header that may be gone).
 * A pointer leaves the ring when a new block is placed at the same address. */
#define RECENT 64
static uintptr_t recent[RECENT];
static unsigned recent_next;

static void recent_forget(uintptr_t p) {
  for (unsigned i = 0; i < RECENT; i++)
    if (recent[i] == p) recent[i] = 0;
}

/* ---- the set of live large pointers ----------------------------------------- */
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
  while ((tab.count + 1) * 4 > cap) cap *= 2;
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

static bool take_locked(const void *p) {
  size_t i = find_locked((uintptr_t)p);
  if (i == SIZE_MAX) return false;
  tab.slots[i] = TOMB;
  tab.count--;
  tab.tombs++;
  return true;
}

/* ---- the ACE cache ------------------------------------------------------------ */
/* Mapping sizes are rounded to four steps per power of two, so that freed
 * mappings fit later requests of a similar size (untouched pages cost nothing). */
static size_t round_map_size(size_t n, unsigned *bin) {
  if (n <= HK_SLAB_MAX * 2) {
    *bin = 0;
    return HK_SLAB_MAX * 2;
  }
  unsigned e = 63 - (unsigned)__builtin_clzll(n - 1); /* 2^e < n <= 2^(e+1) */
  size_t step = (size_t)1 << (e - 2);
  size_t rounded = (n + step - 1) & ~(step - 1);
  *bin = (e - 17) * 4 + (unsigned)((rounded - ((size_t)1 << e)) / step);
  return rounded;
}

static void age_unlink(hk_ace_node *n) {
  if (n->age_prev) n->age_prev->age_next = n->age_next; else tab.newest = n->age_next;
  if (n->age_next) n->age_next->age_prev = n->age_prev; else tab.oldest = n->age_prev;
}

static void cache_unlink(hk_ace_node *n) {
  if (n->bin_prev) n->bin_prev->bin_next = n->bin_next; else tab.bins[n->bin] = n->bin_next;
  if (n->bin_next) n->bin_next->bin_prev = n->bin_prev;
  age_unlink(n);
  tab.cached--;
  tab.cached_bytes -= n->map_size;
}

static void cache_push(uint8_t *base, size_t map_size, unsigned bin) {
  hk_ace_node *n = (hk_ace_node *)base;
  *n = (hk_ace_node){.map_size = map_size, .bin = bin, .bin_next = tab.bins[bin], .age_next = tab.newest};
  if (n->bin_next) n->bin_next->bin_prev = n;
  tab.bins[bin] = n;
  if (tab.newest) tab.newest->age_prev = n; else tab.oldest = n;
  tab.newest = n;
  tab.cached++;
  tab.cached_bytes += map_size;
}

/* Unlinks the oldest entries while a bound is broken; the caller unmaps them
 * once the lock is dropped (linked through bin_next). */
static hk_ace_node *evict_locked(bool everything) {
  hk_ace_node *out = NULL;
  while (tab.oldest && (everything || tab.cached > g_hk.ace_max_cached || tab.cached_bytes > g_hk.ace_max_bytes)) {
    hk_ace_node *n = tab.oldest;
    cache_unlink(n);
    n->bin_next = out;
    out = n;
  }
  return out;
}

static size_t unmap_all(hk_ace_node *n) {
  size_t bytes = 0;
  while (n) {
    hk_ace_node *next = n->bin_next;
    bytes += n->map_size;
    hk_os_unmap(n, n->map_size);
    n = next;
  }
  return bytes;
}

static void trace(const char *kind, size_t size, size_t map_size) {
  if (g_hk.ace_trace)
    hk_log("[ACE] %s size=%zu map=%zu (cache %zu/%zu entries, %zu/%zu MiB)", kind, size, map_size, tab.cached,
           g_hk.ace_max_cached, tab.cached_bytes >> 20, g_hk.ace_max_bytes >> 20);
}

/* ---- allocation ------------------------------------------------------------------ */
static hk_large_hdr *hdr_of(const void *p) { return (hk_large_hdr *)((uint8_t *)p - HK_LARGE_HDR); }

static size_t usable_of(const void *p) {
  hk_large_hdr *h = hdr_of(p);
  return (size_t)(h->map_base + h->map_size - (const uint8_t *)p);
}

/* Writes the header for the block in [base, base + map_size) and records it. */
static uint8_t *place(uint8_t *base, size_t map_size, size_t align) {
  uint8_t *p = (uint8_t *)(((uintptr_t)base + HK_LARGE_HDR + align - 1) & ~(uintptr_t)(align - 1));
  *hdr_of(p) = (hk_large_hdr){base, map_size, align};
  insert_raw(tab.slots, tab.cap, (uintptr_t)p);
  tab.count++;
  recent_forget((uintptr_t)p);
  return p;
}

void *hk_large_alloc(size_t size, size_t align, bool *fresh) {
  if (align < HK_LARGE_HDR) align = HK_LARGE_HDR;
  if (size == 0) size = 1; /* a unique block that leaves room after the pointer */
  /* p = align_up(base + header, align) <= base + align */
  if (size > PTRDIFF_MAX / 2 - align) {
    errno = ENOMEM;
    return NULL;
  }
  unsigned bin;
  size_t map_size = round_map_size(size + align, &bin);
  bool cacheable = map_size <= g_hk.ace_max_block && align == HK_LARGE_HDR;
  uint8_t *base = NULL, *p = NULL;
  bool hit = false;

  hk_lock(&tab.lock, HK_LOCK_LARGE);
  bool ok = reserve_locked();
  if (ok && cacheable && tab.bins[bin]) {
    hk_ace_node *n = tab.bins[bin];
    cache_unlink(n);
    base = (uint8_t *)n;
    HK_COUNT(ace_hits, 1);
    p = place(base, map_size, align);
    hit = true;
  } else if (ok) {
    if (cacheable) HK_COUNT(ace_exhaustion, 1); else HK_COUNT(ace_threshold, 1);
    trace(cacheable ? "Exhaustion" : "Threshold", size, map_size);
  }
  hk_unlock(&tab.lock);
  if (!ok) {
    errno = ENOMEM;
    return NULL;
  }
  if (!p) {
    if (!(base = hk_os_map(map_size))) {
      HK_COUNT(ace_mapfail, 1);
      trace("MapFail", size, map_size);
      errno = ENOMEM;
      return NULL;
    }
    hk_lock(&tab.lock, HK_LOCK_LARGE);
    /* reserve_locked above left room: the table stays under half load plus
     * one slot per thread between reserve and insert */
    p = place(base, map_size, align);
    hk_unlock(&tab.lock);
  }
  atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&live_bytes, map_size, memory_order_relaxed);
  if (fresh) *fresh = !hit;
  return p;
}

bool hk_large_free(void *p) {
  hk_lock(&tab.lock, HK_LOCK_LARGE);
  if (!take_locked(p)) {
    hk_unlock(&tab.lock);
    return false;
  }
  hk_large_hdr h = *hdr_of(p);
  recent[recent_next++ % RECENT] = (uintptr_t)p;
  hk_ace_node *evicted = NULL;
  bool cached = h.map_size <= g_hk.ace_max_block && g_hk.ace_max_cached > 0 && h.map_size <= g_hk.ace_max_bytes;
  if (cached) {
    unsigned bin;
    round_map_size(h.map_size, &bin);
    cache_push(h.map_base, h.map_size, bin);
    evicted = evict_locked(false);
  }
  hk_unlock(&tab.lock);
  atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&live_bytes, h.map_size, memory_order_relaxed);
  if (!cached) hk_os_unmap(h.map_base, h.map_size);
  unmap_all(evicted);
  return true;
}

bool hk_large_recently_freed(const void *p) {
  bool found = false;
  hk_mutex_lock(&tab.lock);
  for (unsigned i = 0; i < RECENT && !found; i++) found = p && recent[i] == (uintptr_t)p;
  hk_mutex_unlock(&tab.lock);
  return found;
}

/* Is p inside a live large block (or its header) without being its start?
 * A scan of the whole set: only for frees of pointers hakmem would otherwise
 * hand to the next allocator, which are rare. */
bool hk_large_interior(const void *p) {
  uintptr_t a = (uintptr_t)p;
  bool found = false;
  hk_mutex_lock(&tab.lock);
  for (size_t i = 0; i < tab.cap && !found; i++) {
    uintptr_t key = tab.slots[i];
    if (key <= TOMB || key == a) continue;
    const hk_large_hdr *h = hdr_of((const void *)key);
    found = a >= (uintptr_t)h->map_base && a < (uintptr_t)h->map_base + h->map_size;
  }
  hk_mutex_unlock(&tab.lock);
  return found;
}

size_t hk_large_usable(const void *p) {
  hk_mutex_lock(&tab.lock);
  size_t n = find_locked((uintptr_t)p) != SIZE_MAX ? usable_of(p) : 0;
  hk_mutex_unlock(&tab.lock);
  return n;
}

/* Grows a large block in place or by mremap; NULL when neither applies (the
 * caller then allocates, copies and frees). A block that has to move gets
 * twice the room it asked for (address space only: untouched pages cost
 * nothing), so a buffer grown step by step is remapped a few times, not at
 * every step: mremap's page-table work is what such growth costs. */
void *hk_large_realloc(void *p, size_t size) {
  hk_large_hdr *h = hdr_of(p);
  if (size <= usable_of(p)) return p;
  if (h->align > HK_PAGE_SIZE || size > PTRDIFF_MAX / 4) return NULL;
  size_t offset = (size_t)((uint8_t *)p - h->map_base);
  unsigned bin;
  size_t map_size = round_map_size(offset + 2 * size, &bin);
  hk_lock(&tab.lock, HK_LOCK_LARGE);
  bool ours = take_locked(p);
  hk_unlock(&tab.lock);
  if (!ours) return NULL;
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
  hk_lock(&tab.lock, HK_LOCK_LARGE);
  reserve_locked(); /* a slot was just freed, so the insert below always fits */
  insert_raw(tab.slots, tab.cap, (uintptr_t)np);
  tab.count++;
  hk_unlock(&tab.lock);
  return base == MAP_FAILED ? NULL : np;
}

size_t hk_large_flush(void) {
  hk_lock(&tab.lock, HK_LOCK_LARGE);
  hk_ace_node *evicted = evict_locked(true);
  hk_unlock(&tab.lock);
  return unmap_all(evicted);
}

void hk_large_counts(uint64_t *allocs, uint64_t *frees, uint64_t *bytes) {
  *allocs = atomic_load_explicit(&n_allocs, memory_order_relaxed);
  *frees = atomic_load_explicit(&n_frees, memory_order_relaxed);
  *bytes = atomic_load_explicit(&live_bytes, memory_order_relaxed);
}

void hk_large_cache_counts(uint64_t *entries, uint64_t *bytes) {
  hk_mutex_lock(&tab.lock);
  *entries = tab.cached;
  *bytes = tab.cached_bytes;
  hk_mutex_unlock(&tab.lock);
}

void hk_large_fork_prepare(void) { pthread_mutex_lock(&tab.lock); }
void hk_large_fork_parent(void) { pthread_mutex_unlock(&tab.lock); }
