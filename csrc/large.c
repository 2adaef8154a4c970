/* The large tier: blocks above 64 KiB, as runs of 4 KiB pages inside arenas.
 *
 * An arena is 1 GiB of address space reserved once (MAP_NORESERVE, aligned to
 * 1 GiB, so one table load finds it from a pointer). A block is a run of whole
 * pages and the pointer handed out is its first page; larger alignments cut
 * the run at an aligned page. A descriptor array beside the arena (one entry
 * per page, touched only where runs begin and end) holds the boundary tags:
 * a run's length at its first page, its first page at its last, so a freed run
 * merges with free neighbours at once. Free runs sit in bins by length (four
 * per power of two) and the first that fits in the smallest bin is cut from
 * its front, lowest arena first: what follows a block usually stays free, and
 * realloc grows it in place by taking those pages.
 *
 * Freed pages stay committed ("dirty"), so a block that comes back soon costs
 * no page fault. A bit per page says which pages may hold data: calloc clears
 * only those (from 4 MiB on with streaming stores, clear_bytes), a decommit
 * advises only those. Free runs holding dirty pages are
 * aged on a list; they are decommitted (MADV_DONTNEED, address space kept) once
 * idle for HAKMEM_SS_LRU_TTL_SEC (by the next large call or by the background
 * releaser in decay.c, whichever comes first), at once beyond HAKMEM_LARGE_CACHE_MAX_MB
 * or HAKMEM_LARGE_CACHE_MAX_RUNS runs or when live blocks and cached pages
 * would pass the most ever live by an eighth (at least 64 MiB:
 * above_live_peak), and by hak_trim. realloc shrinking a block by 1 MiB or
 * more returns the pages it cuts off at once; by less, they are cached like
 * freed pages. A block that realloc doubles gets room for its next doubling
 * (its descriptor keeps what was asked). The number of mappings is the
 * number of arenas (at most HK_MAX_ARENAS) plus the huge blocks.
 *
 * Each thread parks the last block it freed (up to 4 MiB) in a slot of its
 * own, without the lock, for its next request of the same size (see "the
 * thread cache" below); a request of another size gives it back to the page
 * heap first, so its committed pages are the first candidates.
 *
 * Huge blocks (above HAKMEM_LARGE_MAX_BLOCK, or when no arena can be had) get a
 * mapping of their own with a 64-byte header before the pointer, found through
 * an open-addressing hash set; realloc resizes them with mremap; free unmaps
 * them. A munmap the kernel refuses is kept on a list and retried, and counted
 * (os_release_failures), never dropped.
 *
 * The arenas are shared out among pools (HK_LARGE_POOLS), each with its own
 * lock, free runs, age list and counts: a thread allocates from the pool it
 * was given at its first large request (the least used), and a block goes back
 * to the pool of its arena, whichever thread frees it. Two threads replacing
 * blocks of 64 KiB..1 MiB at random (bench_large_mt) ran at 2.9 M
 * replacements a second with one lock for the tier (5.8 for one thread; the
 * lock's waits and wakes were half the time); with a pool each, 4.3 while the
 * locks were counted in hk_ctr (two threads bouncing one line of counters),
 * 6.9 with the counts kept in the pools, under their locks, and 10.6 with the
 * arenas aligned to cache lines too (those of two pools shared one). The
 * cache's bounds are shared out among the pools that hold memory. Huge blocks
 * have a lock of their own, and so has the list of threads' parked blocks; no
 * thread holds two of these locks but for the list's, taken before a pool's or
 * the huge blocks'. Each operation takes one pool's lock once, but for a
 * request that its pool has too few cached pages for: that one looks at the
 * other pools' cached pages first (alloc_borrowed), one lock at a time, so
 * that what one thread freed serves another's growth. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include "internal.h"

/* ---- arenas ------------------------------------------------------------------ */
#define ARENA_SHIFT 30
#define ARENA_BYTES ((size_t)1 << ARENA_SHIFT)
#define PAGE_SHIFT 12
#define ARENA_PAGES ((uint32_t)(ARENA_BYTES >> PAGE_SHIFT))
#define NBINS 72
#define HK_MAX_ARENAS 64          /* 64 GiB of large blocks in arenas; beyond, huge mappings */
#define ARENA_INDEX_SLOTS ((size_t)1 << (47 - ARENA_SHIFT))

enum { RUN_NONE = 0, RUN_FREE = 1, RUN_USED = 2, RUN_CACHED = 3 /* used, parked in a thread's cache */ };

/* One per page. Meaningful at a run's first page (state != RUN_NONE exactly
 * there) and, for `first`, at its last page. */
typedef struct hk_run {
  uint32_t npages;             /* first page: length of the run */
  uint32_t first;              /* last page: the run's first page (boundary tag) */
  union {
    uint32_t ndirty;           /* free run: pages that may be committed */
    uint32_t asked;            /* used run: the pages its last request asked for (the rest is room realloc gave it) */
  };
  uint8_t state;               /* atomic: a thread cache changes it without the lock */
  uint8_t bin;
  uint16_t pad;
  uint64_t idle_since;         /* free run with dirty pages: when they were last freed */
  struct hk_run *next, *prev;  /* free run: its bin */
  struct hk_run *older, *newer; /* free run with dirty pages: the age list */
} hk_run;

struct hk_pool;
/* Aligned to a cache line: arenas of different pools side by side in
 * `arenas` shared one, and every free run made or taken in one wrote the line
 * the other's threads read their arena's base and pool from. */
typedef struct hk_arena {
  _Alignas(64) uint8_t *base;
  struct hk_pool *pool;        /* the pool whose lock covers it */
  hk_run *runs;                /* ARENA_PAGES entries */
  uint64_t *dirty;             /* ARENA_PAGES bits */
  hk_run *bins[NBINS];
  uint64_t nonempty[2];        /* bit b: bins[b] has a run */
} hk_arena;

/* ---- huge blocks --------------------------------------------------------------- */
#define HUGE_HDR 64u
typedef struct hk_huge_hdr {
  uint8_t *map_base;
  size_t map_size;
  size_t align;
} hk_huge_hdr;

#define EMPTY ((uintptr_t)0)
#define TOMB ((uintptr_t)1)

/* Mappings munmap refused, retried on later calls (linked through their first word). */
typedef struct hk_pending_unmap {
  struct hk_pending_unmap *next;
  size_t len;
} hk_pending_unmap;

/* The most recently freed huge pointers, so that a second free of one is
 * reported as a double free rather than taken for a foreign pointer (its
 * mapping is gone; an arena block's pages tell, hk_large_recently_freed).
 * Only asked about pointers that are not live blocks: a pointer that was
 * freed, handed out again and is live is found live first. */
#define RECENT 64

#define HK_LARGE_POOLS 8

typedef struct hk_pool {
  _Alignas(64) pthread_mutex_t lock;
  uint8_t arena_ids[HK_MAX_ARENAS]; /* its arenas, lowest first: indexes into arenas */
  unsigned narenas;
  hk_run *oldest, *newest;      /* age list of its free runs with dirty pages */
  size_t cached_runs, cached_pages;
  uint64_t allocs, frees, live_bytes;
  uint64_t slot_allocs;         /* allocations served by exited threads' slots (in allocs too) */
  uint64_t live_peak;           /* the most live_bytes ever were (live_add) */
  uint64_t cache_hits, cache_misses; /* allocations whose pages were committed (some) or not */
  _Atomic uint64_t locks;       /* times its lock was taken: a load and a store under it */
  bool busy;                    /* holds live blocks or cached pages: its bit in pools_busy */
  bool caching;                 /* holds cached pages: its bit in pools_caching */
  _Atomic unsigned threads;     /* live threads it was given to */
} hk_pool;

#define POOL_INIT(i) [i] = {.lock = PTHREAD_MUTEX_INITIALIZER}
static hk_pool pools[HK_LARGE_POOLS] = {POOL_INIT(0), POOL_INIT(1), POOL_INIT(2), POOL_INIT(3),
                                        POOL_INIT(4), POOL_INIT(5), POOL_INIT(6), POOL_INIT(7)};
_Static_assert(HK_LARGE_POOLS == 8, "one initialiser per pool");
static _Atomic uint32_t pools_busy;    /* bit i: pools[i].busy */
static _Atomic uint32_t pools_caching; /* bit i: pools[i].caching */
static __thread hk_pool *my_pool;      /* this thread's, from its first large request */

/* Every arena, in the order made; an arena belongs to one pool for good. */
static hk_arena arenas[HK_MAX_ARENAS];
static _Atomic unsigned arenas_made;

/* Huge blocks: the set of live huge pointers. */
static struct {
  pthread_mutex_t lock;
  uintptr_t *slots;
  size_t cap, count, tombs;
  hk_pending_unmap *pending;
  uint64_t allocs, frees, live_bytes;
  uintptr_t recent[RECENT];     /* freed, the newest at recent_next - 1 */
  unsigned recent_next;
} H = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Threads' parked blocks (the thread cache, below). */
static struct {
  pthread_mutex_t lock;
  struct hk_large_tl *threads;  /* thread caches in use */
  _Atomic uint64_t epoch;       /* decay passes so far: the age of a thread-cached block */
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* arena index + 1 by 1 GiB granule; written under the lock, never cleared */
static uint8_t arena_at[ARENA_INDEX_SLOTS];
/* The same granules' descriptor arrays, so that a block's descriptor is two
 * dependent loads from its address (hk_large_usable, on every realloc of a
 * large block, and a free's park): through arena_at it was three and a
 * multiply. 1 MiB of address space, a page of it touched per arena. */
static hk_run *runs_at[ARENA_INDEX_SLOTS];


static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t pages_for(size_t bytes) { return (uint32_t)((bytes + HK_PAGE_SIZE - 1) >> PAGE_SHIFT); }

static void pool_lock(hk_pool *P) {
  hk_mutex_lock(&P->lock);
  atomic_store_explicit(&P->locks, atomic_load_explicit(&P->locks, memory_order_relaxed) + 1, memory_order_relaxed);
}
/* Sets or clears bit in *mask where flag changes to now (an atomic operation, rare). */
static void mask_follow(_Atomic uint32_t *mask, bool *flag, bool now, uint32_t bit) {
  if (HK_LIKELY(now == *flag)) return;
  *flag = now;
  if (now) atomic_fetch_or_explicit(mask, bit, memory_order_relaxed);
  else atomic_fetch_and_explicit(mask, ~bit, memory_order_relaxed);
}

/* A pool's bits in pools_busy and pools_caching follow whether it holds
 * memory (read by pools_in_use) and cached pages (read by alloc_borrowed). */
static void pool_unlock(hk_pool *P) {
  uint32_t bit = 1u << (P - pools);
  mask_follow(&pools_busy, &P->busy, P->live_bytes != 0 || P->cached_pages != 0, bit);
  mask_follow(&pools_caching, &P->caching, P->cached_pages != 0, bit);
  hk_mutex_unlock(&P->lock);
}

/* How many pools share the cache's bounds: those that hold memory (at least
 * one). Not those ever handed out: a program whose threads came and went
 * would keep an eighth of the cache for the one left. */
static unsigned pools_in_use(void) {
  unsigned n = (unsigned)__builtin_popcount(atomic_load_explicit(&pools_busy, memory_order_relaxed));
  return n ? n : 1;
}

/* live_bytes grown by bytes, and its peak kept (under the pool's lock). */
static void live_add(hk_pool *P, uint64_t bytes) {
  P->live_bytes += bytes;
  if (P->live_bytes > P->live_peak) P->live_peak = P->live_bytes;
}

/* Free dirty pages stay committed while the tier's resident bytes (live
 * blocks and those pages) are within an eighth, and at least 64 MiB, above
 * the most it ever had live; the oldest go back beyond that. The cache's
 * other bounds (runs, MB, TTL) cap what a program that shrank keeps; this one
 * keeps its peak down where the live bytes wander at random below their peak
 * and the cache alone let the resident size reach live + cache: 20 blocks of
 * 5..25 MiB calloc'd at random, peak RSS 503 -> 457 MiB (glibc 473) at 1,280
 * -> 1,060 ops/s (glibc 576). An eighth with no floor kept 441 MiB at 928
 * ops/s, but 256 KiB..8 MiB blocks (80 MiB live) then ran 40% slower for
 * nothing: their peak RSS did not move. */
#define LIVE_PEAK_SLACK_MIN ((uint64_t)64 << 20)
static bool above_live_peak(const hk_pool *P) {
  uint64_t slack = P->live_peak >> 3, floor = LIVE_PEAK_SLACK_MIN / pools_in_use();
  if (slack < floor) slack = floor;
  return ((uint64_t)P->cached_pages << PAGE_SHIFT) + P->live_bytes > P->live_peak + slack;
}

/* The cache's other bounds: each pool's share, rounded up. */
static bool above_cache_bounds(const hk_pool *P) {
  size_t n = pools_in_use(), pages = g_hk.large_cache_max_bytes >> PAGE_SHIFT, runs = g_hk.large_cache_max_runs;
  return P->cached_pages > (pages + n - 1) / n || P->cached_runs > (runs + n - 1) / n;
}

/* ---- clearing for calloc ----------------------------------------------------------------- */
/* From 4 MiB on, calloc clears reused pages with stores that bypass the cache:
 * a plain memset (rep stosb) first reads every line it writes from memory,
 * and what it leaves in the cache is mostly evicted again before the program
 * reads it. Measured here (8 GiB cleared in regions of each size, picked at
 * random from 512 MiB; then one byte a page written, or the whole region):
 * 256 KiB 0.79 -> 0.44 s and 0.93 -> 1.23 s; 4 MiB 0.81 -> 0.43 s and 1.22 ->
 * 1.22 s; 16 MiB 1.00 -> 0.42 s and 1.44 -> 1.27 s. Below 4 MiB the region
 * the program writes next is still in the cache after a memset. */
#define STREAM_CLEAR_MIN ((size_t)4 << 20)

/* Clears n bytes at p, which is page-aligned (the streamed stores need 16). */
static void clear_bytes(uint8_t *p, size_t n) {
#if defined(__x86_64__)
  if (n >= STREAM_CLEAR_MIN) {
    size_t lines = n & ~(size_t)63;
    __m128i zero = _mm_setzero_si128();
    for (size_t i = 0; i < lines; i += 64) {
      _mm_stream_si128((__m128i *)(p + i), zero);
      _mm_stream_si128((__m128i *)(p + i + 16), zero);
      _mm_stream_si128((__m128i *)(p + i + 32), zero);
      _mm_stream_si128((__m128i *)(p + i + 48), zero);
    }
    _mm_sfence(); /* streamed stores are weakly ordered: visible before the block is handed out */
    memset(p + lines, 0, n - lines);
    return;
  }
#endif
  memset(p, 0, n);
}

/* ---- the dirty bitmap -------------------------------------------------------------- */
/* Calls f(word, mask) for the words covering pages [i, end). */
#define FOR_EACH_WORD(i, end, w, m, body)                                            \
  for (uint32_t at_ = (i); at_ < (end);) {                                           \
    uint32_t w = at_ >> 6, stop_ = ((w + 1) << 6) < (end) ? ((w + 1) << 6) : (end);  \
    uint32_t hi_ = stop_ - (w << 6);                                                 \
    uint64_t m = (hi_ == 64 ? ~0ull : (1ull << hi_) - 1) & (~0ull << (at_ & 63));    \
    body;                                                                            \
    at_ = stop_;                                                                     \
  }

static uint32_t popcount64(uint64_t x) {
#ifdef __POPCNT__
  return (uint32_t)__builtin_popcountll(x);
#else /* no popcnt instruction assumed: the compiler would call a library routine */
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return (uint32_t)((x * 0x0101010101010101ull) >> 56);
#endif
}

static uint32_t bits_count(const hk_arena *a, uint32_t i, uint32_t n) {
  uint32_t c = 0;
  FOR_EACH_WORD(i, i + n, w, m, c += popcount64(a->dirty[w] & m))
  return c;
}

static void bits_fill(hk_arena *a, uint32_t i, uint32_t n, bool on) {
  FOR_EACH_WORD(i, i + n, w, m, if (on) a->dirty[w] |= m; else a->dirty[w] &= ~m)
}

/* First page in [i, end) whose bit is `on`, or end. */
static uint32_t bits_next(const hk_arena *a, uint32_t i, uint32_t end, bool on) {
  while (i < end) {
    uint64_t w = a->dirty[i >> 6];
    if (!on) w = ~w;
    w &= ~0ull << (i & 63);
    if (w) {
      uint32_t j = (i & ~63u) + (uint32_t)__builtin_ctzll(w);
      return j < end ? j : end;
    }
    i = (i & ~63u) + 64;
  }
  return end;
}

/* Last dirty page in [i, end), or end when none. */
static uint32_t bits_last(const hk_arena *a, uint32_t i, uint32_t end) {
  if (i >= end) return end;
  for (uint32_t j = end - 1;;) {
    uint32_t w = j >> 6;
    uint64_t m = a->dirty[w] & ((j & 63) == 63 ? ~0ull : (1ull << ((j & 63) + 1)) - 1);
    if (m) {
      uint32_t k = (w << 6) + 63 - (uint32_t)__builtin_clzll(m);
      return k >= i ? k : end;
    }
    if ((w << 6) <= i) return end;
    j = (w << 6) - 1;
  }
}

/* ---- runs, bins, the age list ---------------------------------------------------------- */
static uint8_t state_get(const hk_run *r) { return __atomic_load_n(&r->state, __ATOMIC_RELAXED); }
static void state_set(hk_run *r, uint8_t st) { __atomic_store_n(&r->state, st, __ATOMIC_RELAXED); }

static uint32_t page_of(const hk_arena *a, const hk_run *r) { return (uint32_t)(r - a->runs); }
static uint8_t *addr_of(const hk_arena *a, uint32_t page) { return a->base + ((size_t)page << PAGE_SHIFT); }
/* The descriptor of the page holding p; arenas are ARENA_BYTES-aligned, so
 * the page's index is in p's bits alone (no load of the base). */
static hk_run *run_at(const hk_arena *a, uintptr_t p) { return &a->runs[(p >> PAGE_SHIFT) & (ARENA_PAGES - 1)]; }

static unsigned bin_of(uint32_t n) {
  if (n < 8) return n;
  unsigned e = 31 - (unsigned)__builtin_clz(n);
  return 8 + (e - 3) * 4 + ((n >> (e - 2)) & 3);
}

static hk_run *run_set(hk_arena *a, uint32_t first, uint32_t n, uint8_t state) {
  HK_ASSERT(n > 0 && first + n <= ARENA_PAGES, "a run is at least a page, inside its arena");
  hk_run *r = &a->runs[first];
  __atomic_store_n(&r->npages, n, __ATOMIC_RELAXED); /* read without the lock by hk_large_usable */
  state_set(r, state);
  a->runs[first + n - 1].first = first;
  return r;
}

static void bin_push(hk_arena *a, hk_run *r) {
  unsigned b = bin_of(r->npages);
  r->bin = (uint8_t)b;
  r->prev = NULL;
  r->next = a->bins[b];
  if (r->next) r->next->prev = r;
  a->bins[b] = r;
  a->nonempty[b >> 6] |= 1ull << (b & 63);
}

static void bin_remove(hk_arena *a, hk_run *r) {
  if (r->prev) r->prev->next = r->next; else a->bins[r->bin] = r->next;
  if (r->next) r->next->prev = r->prev;
  if (!a->bins[r->bin]) a->nonempty[r->bin >> 6] &= ~(1ull << (r->bin & 63));
}

static void age_remove(hk_pool *P, hk_run *r) {
  if (r->older) r->older->newer = r->newer; else P->oldest = r->newer;
  if (r->newer) r->newer->older = r->older; else P->newest = r->older;
  P->cached_runs--;
}

/* Inserts r just newer than `older` (NULL: as the oldest). */
static void age_insert_after(hk_pool *P, hk_run *r, hk_run *older) {
  r->older = older;
  r->newer = older ? older->newer : P->oldest;
  if (r->newer) r->newer->older = r; else P->newest = r;
  if (older) older->newer = r; else P->oldest = r;
  P->cached_runs++;
}

/* A free run of the arena: in its bin, and on the age list at `older`'s side
 * when it has dirty pages. */
static hk_run *free_run_add(hk_arena *a, uint32_t first, uint32_t n, uint32_t ndirty, uint64_t idle, hk_run *older) {
  HK_ASSERT(ndirty <= n, "a free run's dirty pages are among its pages");
  hk_run *r = run_set(a, first, n, RUN_FREE);
  r->ndirty = ndirty;
  r->idle_since = idle;
  bin_push(a, r);
  if (ndirty) age_insert_after(a->pool, r, older);
  return r;
}

static void free_run_remove(hk_arena *a, hk_run *r) {
  bin_remove(a, r);
  if (r->ndirty) age_remove(a->pool, r);
  a->pool->cached_pages -= r->ndirty;
}

/* Takes [at, at + n) out of free run r; what is left before and after stays
 * free where r was on the age list. Returns the pages taken that may be dirty. */
static uint32_t carve(hk_arena *a, hk_run *r, uint32_t at, uint32_t n) {
  uint32_t s = page_of(a, r), len = r->npages, dirty = r->ndirty;
  uint64_t idle = r->idle_since;
  hk_run *older = dirty ? r->older : NULL;
  HK_ASSERT(state_get(r) == RUN_FREE && at >= s && at + n <= s + len, "carve takes pages of one free run");
  free_run_remove(a, r);
  /* all clean or all dirty (the common cases) need no count */
  bool mixed = dirty && dirty < len;
  uint32_t taken = mixed ? bits_count(a, at, n) : dirty ? n : 0;
  uint32_t front = at == s ? 0 : mixed ? bits_count(a, s, at - s) : dirty ? at - s : 0;
  if (at > s) {
    hk_run *f = free_run_add(a, s, at - s, front, idle, older);
    if (front) older = f;
  }
  state_set(&a->runs[at], RUN_NONE); /* the caller makes it a used run */
  if (at + n < s + len) free_run_add(a, at + n, s + len - at - n, dirty - taken - front, idle, older);
  HK_ASSERT(taken + front <= dirty, "the dirty pages taken and left in front are among the run's");
  a->pool->cached_pages += dirty - taken;
  return taken;
}

/* Whether pages [from, from + n) of free run r hold no data (never written
 * or decommitted): room given there costs no memory until it is used. */
static bool pages_clean(const hk_arena *a, const hk_run *r, uint32_t from, uint32_t n) {
  return r->ndirty == 0 || (r->ndirty < r->npages && bits_count(a, from, n) == 0);
}

/* First free run of at least n pages in the smallest bin that has one. */
static hk_run *find_fit(hk_arena *a, uint32_t n) {
  unsigned b = bin_of(n);
  for (hk_run *r = a->bins[b]; r; r = r->next)
    if (r->npages >= n) return r;
  for (unsigned w = (b + 1) >> 6; w < 2; w++) {
    uint64_t m = a->nonempty[w];
    if (w == (b + 1) >> 6) m &= ~0ull << ((b + 1) & 63);
    if (m) return a->bins[w * 64 + (unsigned)__builtin_ctzll(m)];
  }
  return NULL;
}

/* Gives the OS the dirty pages of free run r; false when madvise failed (the
 * pages stay dirty, counted, and the next pass tries again). */
static bool decommit_run(hk_arena *a, hk_run *r) {
  uint32_t s = page_of(a, r), end = s + r->npages;
  bool ok = true;
  for (uint32_t i = bits_next(a, s, end, true); i < end; i = bits_next(a, i, end, true)) {
    uint32_t j = bits_next(a, i, end, false);
    if (hk_os_decommit(addr_of(a, i), (size_t)(j - i) << PAGE_SHIFT)) {
      bits_fill(a, i, j - i, false);
      r->ndirty -= j - i;
      a->pool->cached_pages -= j - i;
    } else {
      ok = false;
    }
    i = j;
  }
  if (r->ndirty == 0) age_remove(a->pool, r);
  return ok;
}

/* The arena of P's that holds descriptor r. */
static hk_arena *arena_of_run(const hk_pool *P, hk_run *r) {
  for (unsigned i = 0; i < P->narenas; i++) {
    hk_arena *a = &arenas[P->arena_ids[i]];
    if (r >= a->runs && r < a->runs + ARENA_PAGES) return a;
  }
  return NULL;
}

/* Decommits P's free runs, oldest first, while fewer than `want` bytes went
 * back (SIZE_MAX: all of them), or one is older than the TTL, or a bound is
 * broken. Returns bytes released. */
static size_t decay_locked(hk_pool *P, uint64_t now, size_t want) {
  size_t bytes = 0;
  while (P->oldest) {
    hk_run *r = P->oldest;
    bool due = bytes < want || above_cache_bounds(P) || above_live_peak(P) || now - r->idle_since >= g_hk.lru_ttl_ns;
    if (!due) break;
    uint32_t before = r->ndirty;
    bool ok = decommit_run(arena_of_run(P, r), r);
    bytes += (size_t)(before - r->ndirty) << PAGE_SHIFT;
    if (!ok) {
      /* keep it, newest, so the pass ends; the next one retries */
      age_remove(P, r);
      r->idle_since = now;
      age_insert_after(P, r, P->newest);
      break;
    }
  }
  return bytes;
}

static size_t shed_cached_pages(size_t bytes);

/* A new arena for P (under its lock). */
static bool arena_new(hk_pool *P) {
  if (atomic_load_explicit(&arenas_made, memory_order_relaxed) == HK_MAX_ARENAS) return false;
  size_t meta = (size_t)ARENA_PAGES * sizeof(hk_run) + ARENA_PAGES / 8;
  uint8_t *raw = hk_os_map(2 * ARENA_BYTES);
  if (!raw) return false;
  uint8_t *m = hk_os_map(meta);
  if (!m) {
    hk_os_unmap(raw, 2 * ARENA_BYTES);
    return false;
  }
  hk_ss_on_growth(shed_cached_pages); /* the tier may cache pages from now on */
  uint8_t *base = (uint8_t *)(((uintptr_t)raw + ARENA_BYTES - 1) & ~(uintptr_t)(ARENA_BYTES - 1));
  /* the unaligned head and tail go back; if the kernel refuses, they stay reserved, never touched */
  if (base > raw) hk_os_unmap(raw, (size_t)(base - raw));
  if (base + ARENA_BYTES < raw + 2 * ARENA_BYTES) hk_os_unmap(base + ARENA_BYTES, (size_t)(raw + 2 * ARENA_BYTES - base - ARENA_BYTES));
  /* an index of its own, though another pool may be making one at once */
  unsigned i = atomic_load_explicit(&arenas_made, memory_order_relaxed);
  do {
    if (i == HK_MAX_ARENAS) { /* the others took the last ones meanwhile */
      hk_os_unmap(base, ARENA_BYTES);
      hk_os_unmap(m, meta);
      return false;
    }
  } while (!atomic_compare_exchange_weak_explicit(&arenas_made, &i, i + 1, memory_order_relaxed, memory_order_relaxed));
  hk_arena *a = &arenas[i];
  a->base = base;
  a->pool = P;
  a->runs = (hk_run *)m;
  a->dirty = (uint64_t *)(m + (size_t)ARENA_PAGES * sizeof(hk_run));
  free_run_add(a, 0, ARENA_PAGES, 0, 0, NULL);
  __atomic_store_n(&runs_at[(uintptr_t)base >> ARENA_SHIFT], a->runs, __ATOMIC_RELEASE);
  __atomic_store_n(&arena_at[(uintptr_t)base >> ARENA_SHIFT], (uint8_t)(i + 1), __ATOMIC_RELEASE);
  P->arena_ids[P->narenas++] = (uint8_t)i;
  return true;
}

/* The arena holding address p, or NULL. */
static hk_arena *arena_of(uintptr_t p) {
  uintptr_t g = p >> ARENA_SHIFT;
  if (g >= ARENA_INDEX_SLOTS) return NULL;
  unsigned i = __atomic_load_n(&arena_at[g], __ATOMIC_ACQUIRE);
  return i ? &arenas[i - 1] : NULL;
}

/* The descriptor of the page at p, an arena's page-aligned address; NULL for
 * any other address. */
static hk_run *page_run_of(uintptr_t p) {
  uintptr_t g = p >> ARENA_SHIFT;
  if (g >= ARENA_INDEX_SLOTS || (p & (HK_PAGE_SIZE - 1))) return NULL;
  hk_run *runs = __atomic_load_n(&runs_at[g], __ATOMIC_ACQUIRE);
  return runs ? &runs[(p >> PAGE_SHIFT) & (ARENA_PAGES - 1)] : NULL;
}

/* The used run that starts at p, or NULL. */
static hk_run *used_run_at(const void *p, hk_arena **out) {
  uintptr_t a = (uintptr_t)p;
  hk_arena *ar = arena_of(a);
  if (!ar || (a & (HK_PAGE_SIZE - 1))) return NULL;
  hk_run *r = run_at(ar, a);
  if (state_get(r) != RUN_USED) return NULL;
  *out = ar;
  return r;
}

/* Makes [first, first + n) of a free (its dirty bits set when `dirty`) and
 * merges it with its free neighbours. */
static hk_run *release_pages(hk_arena *a, uint32_t first, uint32_t n, bool dirty) {
  uint32_t ndirty = dirty ? n : 0;
  if (dirty) bits_fill(a, first, n, true);
  state_set(&a->runs[first], RUN_NONE);
  if (first > 0) {
    hk_run *left = &a->runs[a->runs[first - 1].first];
    if (state_get(left) == RUN_FREE) {
      HK_ASSERT(page_of(a, left) + left->npages == first, "the boundary tag before a run names the run that ends there");
      free_run_remove(a, left);
      ndirty += left->ndirty;
      n += left->npages;
      first = page_of(a, left);
    }
  }
  if (first + n < ARENA_PAGES) {
    hk_run *right = &a->runs[first + n];
    if (state_get(right) == RUN_FREE) {
      HK_ASSERT(a->runs[first + n + right->npages - 1].first == first + n,
                "the last page of the free run after this one names its first (the boundary tag)");
      free_run_remove(a, right);
      ndirty += right->ndirty;
      n += right->npages;
      state_set(right, RUN_NONE);
    }
  }
  a->pool->cached_pages += ndirty;
  /* The merged run is the newest on the age list: a dirty neighbour's clock
   * restarts (its pages go back at most one TTL later than they would have),
   * and the list stays in order, so the decay pass looks at its oldest end only. */
  return free_run_add(a, first, n, ndirty, now_ns(), a->pool->newest);
}

/* ---- the thread cache -----------------------------------------------------------
 * Each thread parks the last arena block it freed (up to TL_MAX_PAGES) in its
 * own slot, with no lock: the run is marked RUN_CACHED, so it reads as free to
 * every check (hak_owns, double free) and as used to the page heap. A request
 * for the same number of pages takes it back with one atomic exchange, and so
 * does a buffer realloc moves into the tier doubling, if the block is at most
 * TL_ROOM_MAX_PAGES (hk_large_alloc_grown). So a program that frees a buffer
 * and asks for one of the same size again (a request loop, the FFI pair), or
 * grows the next one the same way, never takes the lock. The slot is an atomic
 * pointer that the owner and the others (under T.lock) both may empty by
 * exchange, so the block goes to exactly one of them: the decay pass takes
 * back blocks parked for a TTL, hak_trim takes back all of them, and a thread
 * that exits gives its block back (a pthread key destructor). A parked block
 * is live to its pool (RUN_CACHED) until it goes back to the pool's free
 * runs. Counters are per thread, written only by the owner (but `reclaimed`),
 * summed under T.lock. */
#define TL_MAX_PAGES ((uint32_t)((4u << 20) >> PAGE_SHIFT)) /* 4 MiB */
#define TL_DECAY_PASSES 4                                   /* decay passes come every TTL / 4 */

typedef struct hk_large_tl {
  _Atomic(uint8_t *) block;        /* parked block, RUN_CACHED; NULL: none */
  uint32_t npages;                 /* its length (owner only) */
  _Atomic uint64_t parked_epoch;   /* T.epoch when it was parked */
  _Atomic uint64_t allocs, frees;  /* served from / freed into the slot (owner writes) */
  _Atomic int64_t bytes;           /* their net bytes in use */
  _Atomic int64_t reclaimed;       /* bytes of parked blocks that went back to their pools */
  struct hk_large_tl *next, *prev; /* T.threads, under T.lock */
  bool registered;                 /* on T.threads */
  bool watched;                    /* tl_key set: tl_thread_exit runs at its exit */
  bool pool_counted;               /* counted in my_pool->threads */
} hk_large_tl;

static __thread hk_large_tl tl;
static pthread_key_t tl_key;
static pthread_once_t tl_key_once = PTHREAD_ONCE_INIT;

/* Owner-only counter update: a plain load and store, readers load atomically. */
#define TL_ADD(field, n) atomic_store_explicit(&tl.field, atomic_load_explicit(&tl.field, memory_order_relaxed) + (n), \
                                               memory_order_relaxed)

static hk_run *run_of(uint8_t *p, hk_arena **out) {
  hk_arena *a = arena_of((uintptr_t)p);
  *out = a;
  return run_at(a, (uintptr_t)p);
}

/* Under its pool's lock: p, a block taken out of t's slot, back to the
 * pool's free runs; the merged free run. */
static hk_run *tl_release_locked(hk_large_tl *t, uint8_t *p) {
  hk_arena *a;
  hk_run *r = run_of(p, &a);
  uint32_t n = r->npages;
  a->pool->live_bytes -= (uint64_t)n << PAGE_SHIFT;
  atomic_fetch_add_explicit(&t->reclaimed, (int64_t)n << PAGE_SHIFT, memory_order_relaxed);
  return release_pages(a, page_of(a, r), n, true);
}

/* p, a block taken out of t's slot, back to its pool (whose lock is taken
 * here); decommitted too when `decommit`. */
static void tl_give_back(hk_large_tl *t, uint8_t *p, bool decommit) {
  hk_arena *a = arena_of((uintptr_t)p);
  pool_lock(a->pool);
  hk_run *merged = tl_release_locked(t, p);
  if (decommit) decommit_run(a, merged);
  pool_unlock(a->pool);
}

/* The parked block of t, if still there, back to its pool. */
static void tl_reclaim(hk_large_tl *t, bool decommit) {
  uint8_t *p = atomic_exchange_explicit(&t->block, NULL, memory_order_acquire);
  if (p) tl_give_back(t, p, decommit);
}

static void tl_thread_exit(void *arg) {
  hk_large_tl *t = arg;
  t->watched = false; /* a later destructor's large call sets the key again */
  if (t->pool_counted) {
    atomic_fetch_sub_explicit(&my_pool->threads, 1, memory_order_relaxed);
    t->pool_counted = false;
  }
  if (!t->registered) return;
  hk_lock(&T.lock, HK_LOCK_LARGE);
  tl_reclaim(t, false);
  HK_ASSERT(atomic_load(&t->bytes) + atomic_load(&t->reclaimed) == 0,
            "every block a slot served was parked there first, and none is parked now");
  hk_pool *P = my_pool ? my_pool : &pools[0];
  pool_lock(P);
  P->allocs += atomic_load(&t->allocs);
  P->slot_allocs += atomic_load(&t->allocs);
  P->frees += atomic_load(&t->frees);
  pool_unlock(P);
  /* counted now: a slot used again by a later destructor's free starts from zero */
  atomic_store(&t->allocs, 0);
  atomic_store(&t->frees, 0);
  atomic_store(&t->bytes, 0);
  atomic_store(&t->reclaimed, 0);
  if (t->prev) t->prev->next = t->next; else T.threads = t->next;
  if (t->next) t->next->prev = t->prev;
  t->registered = false;
  hk_unlock(&T.lock);
}

static void tl_make_key(void) { pthread_key_create(&tl_key, tl_thread_exit); }

/* tl_thread_exit to run when this thread exits; false if it cannot be. */
static bool tl_watch_exit(void) {
  if (tl.watched) return true;
  pthread_once(&tl_key_once, tl_make_key);
  return tl.watched = pthread_setspecific(tl_key, &tl) == 0;
}

/* First use of this thread's slot: known to the lock holder and to thread exit. */
static bool tl_register(void) {
  if (!tl_watch_exit()) return false;
  hk_lock(&T.lock, HK_LOCK_LARGE);
  tl.next = T.threads;
  tl.prev = NULL;
  if (T.threads) T.threads->prev = &tl;
  T.threads = &tl;
  tl.registered = true;
  hk_unlock(&T.lock);
  return true;
}

/* The calling thread's pool, given at its first large request: of those
 * fewest live threads were given, the lowest. Threads running at once get
 * pools of their own while there are pools for all; a thread that starts
 * after another exited gets the pool it left, with the pages it cached (a
 * thread per request reuses them instead of faulting in fresh ones). */
static hk_pool *pool_mine(void) {
  if (HK_LIKELY(my_pool != NULL)) return my_pool;
  for (;;) {
    hk_pool *best = &pools[0];
    unsigned least = atomic_load_explicit(&best->threads, memory_order_relaxed);
    for (unsigned i = 1; i < HK_LARGE_POOLS && least; i++) {
      unsigned n = atomic_load_explicit(&pools[i].threads, memory_order_relaxed);
      if (n < least) least = n, best = &pools[i];
    }
    /* another thread starting at once may have taken it: then look again */
    if (atomic_compare_exchange_strong_explicit(&best->threads, &least, least + 1, memory_order_relaxed, memory_order_relaxed)) {
      my_pool = best;
      tl.pool_counted = true;
      tl_watch_exit(); /* if it cannot be, the pool stays counted: only the sharing out suffers */
      return best;
    }
  }
}

/* Whether freed pages may stay committed at all (a TTL of 0 or a cache of
 * no runs asks for every page back at once). */
static bool pages_may_stay_committed(void) { return g_hk.lru_ttl_ns != 0 && g_hk.large_cache_max_runs != 0; }

/* Parks p, an arena block being freed, in the slot; false when it cannot be. */
static bool tl_park(void *p) {
  hk_run *r = page_run_of((uintptr_t)p);
  if (!r || atomic_load_explicit(&tl.block, memory_order_relaxed)) return false;
  if (!pages_may_stay_committed()) return false;
  if (state_get(r) != RUN_USED || r->npages > TL_MAX_PAGES) return false;
  if (HK_UNLIKELY(!tl.registered) && !tl_register()) return false;
  state_set(r, RUN_CACHED);
  tl.npages = r->npages;
  TL_ADD(frees, 1);
  TL_ADD(bytes, -((int64_t)r->npages << PAGE_SHIFT));
  atomic_store_explicit(&tl.parked_epoch, atomic_load_explicit(&T.epoch, memory_order_relaxed), memory_order_relaxed);
  atomic_store_explicit(&tl.block, (uint8_t *)p, memory_order_release);
  return true;
}

/* The parked block if it has from least to most pages, taken back for a
 * request of least pages (the rest is its room); NULL otherwise. */
static uint8_t *tl_take(uint32_t least, uint32_t most) {
  uint32_t n = tl.npages;
  if (n < least || n > most || !atomic_load_explicit(&tl.block, memory_order_relaxed)) return NULL;
  uint8_t *p = atomic_exchange_explicit(&tl.block, NULL, memory_order_acquire);
  if (!p) return NULL; /* taken back by another thread meanwhile */
  hk_arena *a;
  hk_run *r = run_of(p, &a);
  r->asked = least;
  state_set(r, RUN_USED);
  TL_ADD(allocs, 1);
  TL_ADD(bytes, (int64_t)n << PAGE_SHIFT);
  return p;
}

static void unmap_or_keep(void *p, size_t len);

/* ---- huge blocks: the set of live huge pointers ------------------------------------ */
static size_t slot_of(uintptr_t key, size_t cap) {
  return (size_t)(((key >> 6) * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* Inserts into a table with room (reserve_locked said so): stops at the
 * first empty or deleted slot. */
static void insert_raw(uintptr_t *slots, size_t cap, uintptr_t key, size_t *tombs) {
  size_t i = slot_of(key, cap);
  while (slots[i] > TOMB) i = (i + 1) & (cap - 1);
  if (slots[i] == TOMB) (*tombs)--;
  slots[i] = key;
}

/* Grows (or cleans) the table so that one more key fits under half load. On
 * failure the table is unchanged (and still has an empty slot: it never goes
 * above half load). */
static bool reserve_locked(void) {
  if ((H.count + H.tombs + 1) * 2 <= H.cap) return true;
  size_t cap = H.cap ? H.cap : 512;
  while ((H.count + 1) * 4 > cap) cap *= 2;
  uintptr_t *slots = hk_os_map(cap * sizeof *slots);
  if (!slots) return false;
  size_t tombs = 0;
  for (size_t i = 0; i < H.cap; i++)
    if (H.slots[i] > TOMB) insert_raw(slots, cap, H.slots[i], &tombs);
  if (H.slots) unmap_or_keep(H.slots, H.cap * sizeof *H.slots);
  H.slots = slots;
  H.cap = cap;
  H.tombs = 0;
  return true;
}

/* Slot of key, or SIZE_MAX; looks at each slot at most once. */
static size_t find_locked(uintptr_t key) {
  if (!H.cap || key <= TOMB) return SIZE_MAX;
  size_t i = slot_of(key, H.cap);
  for (size_t probes = 0; probes < H.cap; probes++, i = (i + 1) & (H.cap - 1)) {
    if (H.slots[i] == key) return i;
    if (H.slots[i] == EMPTY) return SIZE_MAX;
  }
  return SIZE_MAX;
}

static bool take_locked(const void *p) {
  size_t i = find_locked((uintptr_t)p);
  if (i == SIZE_MAX) return false;
  H.slots[i] = TOMB;
  H.count--;
  H.tombs++;
  return true;
}

static hk_huge_hdr *hdr_of(const void *p) { return (hk_huge_hdr *)((uint8_t *)p - HUGE_HDR); }

static size_t huge_usable(const void *p) {
  hk_huge_hdr *h = hdr_of(p);
  return (size_t)(h->map_base + h->map_size - (const uint8_t *)p);
}

/* munmap, or keep the range for a later try (the list node lives in it). */
static void unmap_or_keep(void *p, size_t len) {
  if (hk_os_unmap(p, len)) return;
  hk_pending_unmap *n = p;
  n->len = len;
  n->next = H.pending;
  H.pending = n;
}

static void retry_pending_locked(void) {
  hk_pending_unmap **at = &H.pending;
  while (*at) {
    hk_pending_unmap *n = *at;
    size_t len = n->len;
    hk_pending_unmap *next = n->next;
    if (hk_os_unmap(n, len)) *at = next;
    else at = &n->next;
  }
}

static void trace(const char *kind, size_t size) {
  if (g_hk.large_trace)
    hk_log("[LARGE] %s size=%zu (arenas %u)", kind, size, atomic_load_explicit(&arenas_made, memory_order_relaxed));
}

static void *huge_alloc(size_t size, size_t align) {
  if (align < HUGE_HDR) align = HUGE_HDR;
  size_t map_size = (size + align + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1);
  /* room in the table first, so that a refused table does not cost a mapping */
  hk_lock(&H.lock, HK_LOCK_LARGE);
  bool room = reserve_locked();
  hk_unlock(&H.lock);
  if (!room) return NULL;
  uint8_t *base = hk_os_map(map_size);
  if (!base) {
    HK_COUNT(huge_map_failures, 1);
    return NULL;
  }
  uint8_t *p = (uint8_t *)(((uintptr_t)base + HUGE_HDR + align - 1) & ~(uintptr_t)(align - 1));
  *hdr_of(p) = (hk_huge_hdr){base, map_size, align};
  hk_lock(&H.lock, HK_LOCK_LARGE);
  /* other threads may have filled it since: insert only where a slot is left */
  if (!reserve_locked() && H.count + 1 >= H.cap) {
    unmap_or_keep(base, map_size);
    hk_unlock(&H.lock);
    return NULL;
  }
  insert_raw(H.slots, H.cap, (uintptr_t)p, &H.tombs);
  H.count++;
  H.allocs++;
  H.live_bytes += map_size;
  hk_unlock(&H.lock);
  return p;
}

/* ---- allocation -------------------------------------------------------------------- */
/* Makes pages [at, at + n) of free run r (in arena a, of pool P) a used
 * block, which asked for `asked` of them. *dirty_first..*dirty_end: the
 * stretch of its pages that may hold data. Returns its address. */
static void *use_pages_locked(hk_pool *P, hk_arena *a, hk_run *r, uint32_t at, uint32_t n, uint32_t asked,
                              uint32_t *dirty_first, uint32_t *dirty_end) {
  uint32_t taken = carve(a, r, at, n);
  run_set(a, at, n, RUN_USED)->asked = asked;
  *dirty_first = *dirty_end = 0;
  if (taken) {
    *dirty_first = bits_next(a, at, at + n, true) - at;
    *dirty_end = bits_last(a, at, at + n) - at + 1;
    P->cache_hits++;
  } else {
    P->cache_misses++;
  }
  P->allocs++;
  live_add(P, (uint64_t)n << PAGE_SHIFT);
  /* fresh pages faulted in may break the bound on what the cache keeps */
  if (taken < n && above_live_peak(P)) decay_locked(P, now_ns(), 0);
  return addr_of(a, at);
}

/* A run of n pages at an `align`-aligned page (align a power of two), or NULL.
 * room: pages more to take after the n asked for, where the run has them clean. */
static void *arena_alloc_locked(hk_pool *P, uint32_t n, uint32_t room, size_t align, uint32_t *dirty_first, uint32_t *dirty_end) {
  uint32_t extra = align > HK_PAGE_SIZE ? (uint32_t)(align >> PAGE_SHIFT) - 1 : 0;
  if ((uint64_t)n + extra > ARENA_PAGES) return NULL;
  hk_arena *a = NULL;
  hk_run *r = NULL;
  for (unsigned i = 0; i < P->narenas && !r; i++) r = find_fit(a = &arenas[P->arena_ids[i]], n + extra);
  if (!r) {
    if (!arena_new(P)) return NULL;
    a = &arenas[P->arena_ids[P->narenas - 1]];
    r = find_fit(a, n + extra);
  }
  uint32_t s = page_of(a, r);
  uint32_t at = extra ? (uint32_t)((((uintptr_t)addr_of(a, s) + align - 1) & ~(uintptr_t)(align - 1)) - (uintptr_t)a->base) >> PAGE_SHIFT : s;
  uint32_t with_room = room && at + n + room <= s + r->npages && pages_clean(a, r, at + n, room) ? n + room : n;
  return use_pages_locked(P, a, r, at, with_room, n, dirty_first, dirty_end);
}

/* The pools other than P that hold cached pages (pools_caching, read
 * without their locks: a hint that a pool's lock confirms). */
static uint32_t other_pools_caching(const hk_pool *P) {
  return atomic_load_explicit(&pools_caching, memory_order_relaxed) & ~(1u << (P - pools));
}

/* n pages of Q's cached (committed) pages, or NULL: the newest free run on
 * Q's age list that has room, cut where its dirty pages begin. */
static void *cached_alloc_locked(hk_pool *Q, uint32_t n, uint32_t *dirty_first, uint32_t *dirty_end) {
  for (hk_run *r = Q->newest; r; r = r->older) {
    if (r->npages < n) continue;
    hk_arena *a = arena_of_run(Q, r);
    uint32_t s = page_of(a, r), end = s + r->npages;
    uint32_t at = bits_next(a, s, end, true);
    if (at + n > end) at = end - n;
    return use_pages_locked(Q, a, r, at, n, n, dirty_first, dirty_end);
  }
  return NULL;
}

/* n pages from another pool's cached pages, or NULL. A pool kept the pages
 * its threads freed for its threads alone: when one thread freed what it had
 * built while another kept building (mstress: two threads, one with half the
 * other's work), the builder faulted in fresh pages beside the other pool's
 * idle ones until those were decommitted. The block stays in the lender's
 * arena, and goes back to it when freed. One pool's lock at a time;
 * lenders (from other_pools_caching) says which to look at. */
static void *alloc_borrowed(uint32_t lenders, uint32_t n, uint32_t *dirty_first, uint32_t *dirty_end) {
  for (; lenders; lenders &= lenders - 1) {
    hk_pool *Q = &pools[__builtin_ctz(lenders)];
    pool_lock(Q);
    void *p = Q->cached_pages >= n ? cached_alloc_locked(Q, n, dirty_first, dirty_end) : NULL;
    pool_unlock(Q);
    if (p) return p;
  }
  return NULL;
}

static void *large_alloc(size_t size, uint32_t room, size_t align, bool zero, bool *known_zero) {
  if (size == 0) size = 1;
  if (size > PTRDIFF_MAX / 2 || align > PTRDIFF_MAX / 2) {
    errno = ENOMEM;
    return NULL;
  }
  uint8_t *p = NULL;
  uint32_t d0 = 0, d1 = 0;
  bool in_arena = size <= g_hk.large_max_block && align <= ARENA_BYTES / 2;
  if (size <= (size_t)TL_MAX_PAGES << PAGE_SHIFT && align <= HK_PAGE_SIZE && (p = tl_take(pages_for(size), pages_for(size))) != NULL) {
    if (zero) clear_bytes(p, size);
    if (known_zero) *known_zero = zero;
    return p;
  }
  if (in_arena) {
    hk_pool *P = pool_mine();
    /* A parked block this request does not fit goes back first: its pages,
     * still committed, are then the lowest free ones, so a buffer that grows
     * by realloc, is freed and grows again reuses them instead of faulting in
     * as many fresh pages beside them (realloc +64 B to 1 MiB: 2 MiB resident
     * for a 1 MiB buffer). One of another pool's goes back under that pool's
     * lock first; one of this pool's under the same lock as the allocation. */
    uint8_t *parked = atomic_load_explicit(&tl.block, memory_order_relaxed)
                          ? atomic_exchange_explicit(&tl.block, NULL, memory_order_acquire) : NULL;
    if (parked && arena_of((uintptr_t)parked)->pool != P) {
      tl_give_back(&tl, parked, false);
      parked = NULL;
    }
    pool_lock(P);
    /* no releaser thread (a single-threaded program, decay.c): the TTL is looked at here, before the
     * parked block merges with its free neighbours and makes them young again */
    if (!hk_decay_running()) decay_locked(P, now_ns(), 0);
    if (parked) tl_release_locked(&tl, parked);
    uint32_t n = pages_for(size);
    /* fewer cached pages than asked for: none of this pool's can serve it */
    uint32_t lenders = P->cached_pages < n && align <= HK_PAGE_SIZE && !room ? other_pools_caching(P) : 0;
    if (!lenders) p = arena_alloc_locked(P, n, room, align, &d0, &d1);
    pool_unlock(P);
    if (lenders && (p = alloc_borrowed(lenders, n, &d0, &d1)) == NULL) {
      pool_lock(P);
      p = arena_alloc_locked(P, n, room, align, &d0, &d1);
      pool_unlock(P);
    }
  }
  if (!p) {
    HK_COUNT(huge_mappings, 1);
    trace(in_arena ? "MapFail (no arena)" : "Threshold", size);
    p = huge_alloc(size, align);
    if (!p) {
      trace("MapFail", size);
      errno = ENOMEM;
      return NULL;
    }
  }
  if (zero && d1 > d0) {
    size_t end = (size_t)d1 << PAGE_SHIFT;
    clear_bytes(p + ((size_t)d0 << PAGE_SHIFT), (end < size ? end : size) - ((size_t)d0 << PAGE_SHIFT));
  }
  if (known_zero) *known_zero = zero || d1 == d0;
  return p;
}

void *hk_large_alloc(size_t size, size_t align, bool *known_zero) { return large_alloc(size, 0, align, false, known_zero); }

void *hk_large_calloc(size_t size) { return large_alloc(size, 0, 0, true, NULL); }

/* A parked block up to this size is taken whole by a buffer that moves into
 * the tier doubling: the rest is its room, to grow into without the lock. A
 * thread that builds a buffer, frees it and builds the next (a request loop:
 * each response grown by doubling) then takes no lock at all; two threads
 * doing so to 64 KiB ran slower than one, every growth and every parked
 * block's return to the page heap meeting at the tier's lock. The room is
 * pages committed already; bounded, as the slot holds one block. */
#define TL_ROOM_MAX_PAGES ((uint32_t)((1u << 20) >> PAGE_SHIFT))

/* A block that doubles gets room for its next doubling here too, where
 * realloc moves it into the tier (clean pages, as in arena_resize_locked;
 * arena blocks only: a huge block grows by mremap), or more: the parked
 * block. */
void *hk_large_alloc_grown(size_t size, size_t old) {
  if (!hk_grows_like_vector(size, old) || size > g_hk.large_max_block / 2) return hk_large_alloc(size, 0, NULL);
  void *p = tl_take(pages_for(size), TL_ROOM_MAX_PAGES);
  if (p) return p;
  return large_alloc(size, pages_for(size), 0, false, NULL);
}

bool hk_large_free(void *p) {
  if (tl_park(p)) {
    hk_decay_start(hk_large_decay);
    return true;
  }
  hk_arena *ar = arena_of((uintptr_t)p);
  if (ar) {
    hk_pool *P = ar->pool;
    pool_lock(P);
    hk_arena *a;
    hk_run *r = used_run_at(p, &a);
    if (!r) {
      pool_unlock(P);
      return false;
    }
    uint32_t n = r->npages;
    P->live_bytes -= (size_t)n << PAGE_SHIFT;
    release_pages(a, page_of(a, r), n, true);
    decay_locked(P, now_ns(), 0);
    P->frees++;
    bool cached = P->cached_runs > 0;
    pool_unlock(P);
    if (cached) hk_decay_start(hk_large_decay);
    return true;
  }
  hk_lock(&H.lock, HK_LOCK_LARGE);
  if (!take_locked(p)) {
    hk_unlock(&H.lock);
    return false;
  }
  hk_huge_hdr h = *hdr_of(p);
  H.live_bytes -= h.map_size;
  unmap_or_keep(h.map_base, h.map_size);
  if (H.pending) retry_pending_locked();
  H.frees++;
  H.recent[H.recent_next++ % RECENT] = (uintptr_t)p;
  hk_unlock(&H.lock);
  return true;
}

/* Under ar's pool's lock: the run holding address a of ar, by a walk back to
 * the descriptor of its first page (descriptors start runs only). */
static const hk_run *run_holding_locked(const hk_arena *ar, uintptr_t a) {
  uint32_t first = (uint32_t)((a - (uintptr_t)ar->base) >> PAGE_SHIFT);
  while (first > 0 && state_get(&ar->runs[first]) == RUN_NONE) first--;
  return &ar->runs[first];
}

/* Asked only about pointers that are not live blocks. In an arena, any
 * address outside a used run: free pages (a block freed, whether given back
 * at once, parked, or parked and given back since), never a pointer of the
 * next allocator's, however long ago the free; a huge block, among the last
 * RECENT freed. */
bool hk_large_recently_freed(const void *p) {
  if (!p) return false;
  uintptr_t a = (uintptr_t)p;
  hk_arena *ar = arena_of(a);
  bool found;
  if (ar) {
    hk_mutex_lock(&ar->pool->lock);
    found = state_get(run_holding_locked(ar, a)) != RUN_USED; /* free, or parked (RUN_CACHED) */
    hk_mutex_unlock(&ar->pool->lock);
  } else {
    hk_mutex_lock(&H.lock);
    found = false;
    for (unsigned i = 0; i < RECENT && !found; i++) found = H.recent[i] == a;
    hk_mutex_unlock(&H.lock);
  }
  return found;
}

/* Is p inside a live large block (or a huge block's header) without being its
 * start? For an arena, the run holding p; for huge blocks, a scan of the
 * whole set. Only asked about pointers hakmem would otherwise hand to the
 * next allocator, which are rare. */
bool hk_large_interior(const void *p) {
  uintptr_t a = (uintptr_t)p;
  bool found = false;
  hk_arena *ar = arena_of(a);
  if (ar) {
    hk_mutex_lock(&ar->pool->lock);
    const hk_run *r = run_holding_locked(ar, a);
    uint32_t first = page_of(ar, r), page = (uint32_t)((a - (uintptr_t)ar->base) >> PAGE_SHIFT);
    found = state_get(r) == RUN_USED && page < first + r->npages && a != (uintptr_t)addr_of(ar, first);
    hk_mutex_unlock(&ar->pool->lock);
  } else {
    hk_mutex_lock(&H.lock);
    for (size_t i = 0; i < H.cap && !found; i++) {
      uintptr_t key = H.slots[i];
      if (key <= TOMB || key == a) continue;
      const hk_huge_hdr *h = hdr_of((const void *)key);
      found = a >= (uintptr_t)h->map_base && a < (uintptr_t)h->map_base + h->map_size;
    }
    hk_mutex_unlock(&H.lock);
  }
  return found;
}

/* Arena blocks without the lock: a live block's descriptor changes only
 * through its owner (realloc, free), so what the owner reads is exact; for
 * any other address the answer is as of some moment (like hak_owns). */
static HK_NOINLINE size_t huge_usable_of(const void *p) {
  hk_mutex_lock(&H.lock);
  size_t n = find_locked((uintptr_t)p) != SIZE_MAX ? huge_usable(p) : 0;
  hk_mutex_unlock(&H.lock);
  return n;
}

/* The arena case is a leaf (realloc asks it on every call for a large
 * block); huge blocks, under the lock, out of line. */
size_t hk_large_usable(const void *p) {
  hk_run *r = page_run_of((uintptr_t)p);
  if (HK_UNLIKELY(!r)) return arena_of((uintptr_t)p) ? 0 : huge_usable_of(p);
  return state_get(r) == RUN_USED ? (size_t)__atomic_load_n(&r->npages, __ATOMIC_RELAXED) << PAGE_SHIFT : 0;
}

/* A shrink that gives up fewer pages than this (of those its last request
 * asked for) leaves the pages cut off committed, as freed pages are (aged,
 * bounded by the large cache): a buffer that shrinks and grows again (a
 * vector halved, then refilled) would otherwise fault its pages in again each
 * time. Larger shrinks return them to the OS at once. */
#define SHRINK_DECOMMIT_PAGES ((uint32_t)((1u << 20) >> PAGE_SHIFT))

/* Whether used run r, resized to want pages, stays within its room (at most
 * its pages, at least what was last asked); if so, want is recorded. Only a
 * call on the block writes its descriptor while it is used, so the owner
 * needs no lock for this. */
static bool grown_within_room(hk_run *r, uint32_t want) {
  if (want > r->npages || want < r->asked) return false;
  r->asked = want;
  return true;
}

/* In place in an arena: grows within the block's room, shrinks (the pages cut
 * off go back to the OS at once, or to the cache, SHRINK_DECOMMIT_PAGES) or
 * grows into the free run that follows. Under the arena's pool's lock. */
static bool arena_resize_locked(hk_arena *a, hk_run *r, size_t size) {
  hk_pool *P = a->pool;
  uint32_t s = page_of(a, r), n = r->npages, want = pages_for(size), asked = r->asked;
  if (grown_within_room(r, want)) return true;
  if (want < n) {
    /* Measured from what was asked: counting the room (never asked for,
     * so never written) made a 1 MiB buffer with room for 2 MiB, shrunk by a
     * little, decommit its written pages and fault them in again (realloc_walk:
     * 6,950 page faults became 74,294). */
    uint32_t cut = n - want;
    bool keep = asked - want < SHRINK_DECOMMIT_PAGES && pages_may_stay_committed();
    if (!keep) {
      if (!hk_os_decommit(addr_of(a, s + want), (size_t)cut << PAGE_SHIFT)) return false;
      bits_fill(a, s + want, cut, false);
    }
    run_set(a, s, want, RUN_USED)->asked = want;
    P->live_bytes -= (size_t)cut << PAGE_SHIFT;
    state_set(&a->runs[s + want], RUN_NONE);
    release_pages(a, s + want, cut, keep);
    if (keep) decay_locked(P, now_ns(), 0); /* the cache's bounds */
    return true;
  }
  if (s + n >= ARENA_PAGES) return false;
  hk_run *next = &a->runs[s + n];
  if (state_get(next) != RUN_FREE || n + next->npages < want) return false;
  /* A block grown a little (by less than 1/16 of it) takes 1/16 more pages
   * where they are free: a buffer grown a little at a time (a string
   * builder, a vector pushing) then comes back here once per 1/16 of its
   * size, not once a page; each time a lock, and a descriptor written on
   * every page it passed (realloc +64 B to 64 MiB: 16,384 growths and
   * 0.9 MiB of descriptors). Pages taken and never written cost no memory.
   * A block that doubles takes room for its next doubling too, where the
   * run after it has those pages clean, so every other doubling is in place
   * without the lock. (Room over committed pages kept them from the blocks
   * that would have reused them, which faulted in fresh ones instead:
   * realloc_walk's peak RSS 24.8 -> 27.6 MB.) Other growths get what they
   * ask for: given headroom too, random resizing
   * (tests/adversarial/realloc_walk) faulted in twice the pages. */
  uint32_t headroom = want >> HK_LARGE_HEADROOM_SHIFT, grown = want, room = n + next->npages;
  if (want - n < headroom && want + headroom <= room) grown = want + headroom;
  else if (hk_grows_like_vector(want, n) && 2 * want <= room && ((size_t)2 * want << PAGE_SHIFT) <= g_hk.large_max_block &&
           pages_clean(a, next, s + want, want))
    grown = 2 * want;
  carve(a, next, s + n, grown - n);
  run_set(a, s, grown, RUN_USED)->asked = want;
  live_add(P, (uint64_t)(grown - n) << PAGE_SHIFT);
  if (above_live_peak(P)) decay_locked(P, now_ns(), 0);
  return true;
}

/* A huge block resized by mremap; NULL when it cannot be (the caller moves it). */
static void *huge_resize(void *p, size_t size) {
  hk_huge_hdr *h = hdr_of(p);
  if (h->align > HK_PAGE_SIZE) return NULL;
  size_t offset = (size_t)((uint8_t *)p - h->map_base);
  size_t map_size = (offset + size + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1);
  if (map_size == h->map_size) return p;
  hk_lock(&H.lock, HK_LOCK_LARGE);
  bool ours = take_locked(p);
  hk_unlock(&H.lock);
  if (!ours) return NULL;
  size_t old_size = h->map_size;
  uint8_t *base = hk_os_remap(h->map_base, old_size, map_size);
  uint8_t *np = base ? base + offset : (uint8_t *)p;
  if (base) {
    hk_huge_hdr *nh = hdr_of(np);
    nh->map_base = base;
    nh->map_size = map_size;
  }
  hk_lock(&H.lock, HK_LOCK_LARGE);
  if (base) H.live_bytes += map_size - old_size;
  /* the slot freed by take_locked is still there: no growth needed */
  insert_raw(H.slots, H.cap, (uintptr_t)np, &H.tombs);
  H.count++;
  hk_unlock(&H.lock);
  return base ? np : NULL;
}

/* Resizes a large block where it is: in its arena, or by mremap for a huge
 * block that stays huge. NULL when it has to move (the caller allocates,
 * copies and frees). */
void *hk_large_realloc(void *p, size_t size) {
  hk_run *own = page_run_of((uintptr_t)p);
  if (own && state_get(own) == RUN_USED && size <= g_hk.large_max_block && grown_within_room(own, pages_for(size)))
    return p; /* no lock */
  hk_arena *ar = arena_of((uintptr_t)p);
  if (ar) {
    pool_lock(ar->pool);
    hk_arena *a;
    hk_run *r = used_run_at(p, &a);
    bool ok = r && size <= g_hk.large_max_block && arena_resize_locked(a, r, size);
    pool_unlock(ar->pool);
    return ok ? p : NULL;
  }
  if (size <= g_hk.large_max_block && size < huge_usable(p)) return NULL; /* back into an arena */
  if (size > PTRDIFF_MAX / 2) return NULL;
  return huge_resize(p, size);
}

/* Blocks parked for TL_DECAY_PASSES passes back to their pools, decommitted
 * at once (they have been idle a TTL); everything: all of them, left for the
 * caller to decommit. */
static void tl_reclaim_old(bool everything) {
  hk_lock(&T.lock, HK_LOCK_LARGE);
  uint64_t epoch = atomic_load_explicit(&T.epoch, memory_order_relaxed);
  for (hk_large_tl *t = T.threads; t; t = t->next) {
    uint8_t *p = atomic_load_explicit(&t->block, memory_order_relaxed);
    if (!p || (!everything && epoch - atomic_load_explicit(&t->parked_epoch, memory_order_relaxed) < TL_DECAY_PASSES))
      continue;
    tl_reclaim(t, !everything);
  }
  hk_unlock(&T.lock);
}

/* Every pool's decay pass (everything: all their cached pages); bytes
 * released. *left: whether some pool still keeps dirty free runs. */
static size_t decay_pools(bool everything, bool *left) {
  size_t want = everything ? SIZE_MAX : 0;
  size_t bytes = 0;
  uint64_t now = now_ns();
  *left = false;
  for (unsigned i = 0; i < HK_LARGE_POOLS; i++) {
    hk_pool *P = &pools[i];
    pool_lock(P);
    bytes += decay_locked(P, now, want);
    *left |= P->cached_runs > 0;
    pool_unlock(P);
  }
  return bytes;
}

/* Decommits cached free runs, oldest first in each pool, until at least
 * bytes went back or none is left; bytes released. Called before the slab
 * tier takes a fresh SuperSlab (superslab.c, hk_ss_on_growth): this tier's
 * cache is for its own reuse, and a program that freed large buffers and
 * then built a structure of small blocks peaked with both resident (Python
 * filling a dict, whose tables are large blocks, then making 100,000 strings,
 * most of 769 bytes: 211.5 MiB, 201.7 now; glibc 190.1, mimalloc 203.4). One way
 * only: the large tier taking fresh pages does not shed the slab tier's LRU
 * cache, or a program that alternates (8 blocks of 6 MiB written and freed,
 * then 20,000 of 4104 bytes, 50 times) sheds each tier's cache for the other
 * every round and faults everything in again: 0.20 -> 1.95 s (glibc 2.6 s,
 * mimalloc 0.35). One way, that program's small blocks come from the LRU
 * after the first round, no fresh SuperSlab sheds anything, and it runs in
 * 0.22 s. The TTL and the bounds still govern a program that does not grow. */
static size_t shed_cached_pages(size_t bytes) {
  size_t shed = 0;
  for (unsigned i = 0; i < HK_LARGE_POOLS && shed < bytes; i++) {
    hk_pool *P = &pools[i];
    if (!(atomic_load_explicit(&pools_busy, memory_order_relaxed) & (1u << i))) continue; /* holds nothing */
    pool_lock(P);
    shed += decay_locked(P, now_ns(), bytes - shed);
    pool_unlock(P);
  }
  return shed;
}

static bool huge_retry_pending(void) {
  hk_lock(&H.lock, HK_LOCK_LARGE);
  if (H.pending) retry_pending_locked();
  bool left = H.pending != NULL;
  hk_unlock(&H.lock);
  return left;
}

size_t hk_large_flush(void) {
  tl_reclaim_old(true);
  bool left;
  size_t bytes = decay_pools(true, &left);
  huge_retry_pending();
  return bytes;
}

bool hk_large_decay(void) {
  atomic_fetch_add_explicit(&T.epoch, 1, memory_order_relaxed);
  tl_reclaim_old(false);
  bool left;
  decay_pools(false, &left);
  left |= huge_retry_pending();
  hk_mutex_lock(&T.lock);
  left = left || T.threads;
  hk_mutex_unlock(&T.lock);
  return left;
}

/* Sums of the pools', the huge blocks' and the threads' slots' counts; the
 * threads' list held throughout, so that a thread's exit (which moves its
 * counts into a pool) is seen before or after, not half-way. */
void hk_large_counts(hk_large_tally *out) {
  hk_mutex_lock(&T.lock);
  uint64_t a = 0, f = 0, b = 0, slot = 0, hits = 0, misses = 0, locks = 0;
  for (unsigned i = 0; i < HK_LARGE_POOLS; i++) {
    hk_pool *P = &pools[i];
    hk_mutex_lock(&P->lock);
    a += P->allocs;
    f += P->frees;
    b += P->live_bytes;
    slot += P->slot_allocs;
    hits += P->cache_hits;
    misses += P->cache_misses;
    locks += atomic_load_explicit(&P->locks, memory_order_relaxed);
    hk_mutex_unlock(&P->lock);
  }
  hk_mutex_lock(&H.lock);
  a += H.allocs;
  f += H.frees;
  b += H.live_bytes;
  hk_mutex_unlock(&H.lock);
  for (hk_large_tl *t = T.threads; t; t = t->next) {
    uint64_t served = atomic_load_explicit(&t->allocs, memory_order_relaxed);
    a += served;
    slot += served;
    f += atomic_load_explicit(&t->frees, memory_order_relaxed);
    b += (uint64_t)(atomic_load_explicit(&t->bytes, memory_order_relaxed) + atomic_load_explicit(&t->reclaimed, memory_order_relaxed));
  }
  hk_mutex_unlock(&T.lock);
  *out = (hk_large_tally){.allocs = a, .frees = f, .bytes = b, .slot_allocs = slot,
                          .cache_hits = hits, .cache_misses = misses, .pool_locks = locks};
}

void hk_large_cache_counts(uint64_t *entries, uint64_t *bytes) {
  hk_mutex_lock(&T.lock);
  *entries = 0;
  *bytes = 0;
  for (unsigned i = 0; i < HK_LARGE_POOLS; i++) {
    hk_mutex_lock(&pools[i].lock);
    *entries += pools[i].cached_runs;
    *bytes += (uint64_t)pools[i].cached_pages << PAGE_SHIFT;
    hk_mutex_unlock(&pools[i].lock);
  }
  for (hk_large_tl *t = T.threads; t; t = t->next) {
    uint8_t *p = atomic_load_explicit(&t->block, memory_order_relaxed);
    if (!p) continue;
    hk_arena *a;
    *entries += 1;
    *bytes += (uint64_t)run_of(p, &a)->npages << PAGE_SHIFT;
  }
  hk_mutex_unlock(&T.lock);
}

/* In the order the tier nests them: the threads' list, the pools, the huge blocks. */
void hk_large_fork_prepare(void) {
  pthread_mutex_lock(&T.lock);
  for (unsigned i = 0; i < HK_LARGE_POOLS; i++) pthread_mutex_lock(&pools[i].lock);
  pthread_mutex_lock(&H.lock);
}
/* In the child, under the locks prepare took: the pools' thread counts are
 * the forking thread's alone (the parent's other threads are gone), so the
 * child's threads share the pools out afresh. */
void hk_large_fork_child(void) {
  for (unsigned i = 0; i < HK_LARGE_POOLS; i++) atomic_store_explicit(&pools[i].threads, 0, memory_order_relaxed);
  if (my_pool && tl.pool_counted) atomic_store_explicit(&my_pool->threads, 1, memory_order_relaxed);
}
void hk_large_fork_parent(void) {
  pthread_mutex_unlock(&H.lock);
  for (unsigned i = HK_LARGE_POOLS; i-- > 0;) pthread_mutex_unlock(&pools[i].lock);
  pthread_mutex_unlock(&T.lock);
}
