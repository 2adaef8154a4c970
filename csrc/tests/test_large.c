/* test_large: the large tier (blocks above 64 KiB).
 *
 *   - realloc grows a block in place when the pages after it are free, and a
 *     grown block keeps its contents; shrinking gives the cut pages back
 *     (RSS and usable size), for arena blocks and for huge blocks, except a
 *     cut under 1 MiB, kept for the block to grow back into;
 *   - freed pages are reused without page faults (also those of a block
 *     parked in the thread's slot, by a request of another size), and calloc
 *     of reused pages reads zero; live blocks and cached pages stay within
 *     an eighth (at least 64 MiB) of the most ever live;
 *   - the number of mappings stays bounded whatever the program does (the
 *     kernel's vm.max_map_count was reached by one mapping per block);
 *   - with every OS mapping refused, realloc and ownership lookups keep
 *     working (they used to spin forever with the lock held): a hang is a
 *     failure, by SIGALRM;
 *   - a block parked in its thread's slot reads as free, comes back to that
 *     thread, and is given back when the thread exits;
 *   - hak_trim and the TTL (with no call into hakmem at all) release cached
 *     large pages and empty SuperSlabs, seen in the statistics and in RSS;
 *   - the locks, elided while the process is single-threaded, are taken
 *     once it starts threads: threads resizing large blocks at random keep
 *     their contents and the counts exact.
 *
 * Each scenario runs in a fresh fork()ed child. */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "check.h"

/* ThreadSanitizer cannot start threads in the child of a process that has
 * threads, so under it a forked child (every scenario here) has no background
 * releaser (decay.c): those scenarios are skipped under it. RSS_CHECK: check.h. */

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)
#define U(x) ((unsigned long long)(x))

static void set_flag(const char *name, const char *value) {
  int rc = hak_config_set(name, value);
  CHECK(rc == HAK_OK, "hak_config_set(%s, %s) = %d", name, value, rc);
}

static hak_stats_t stats(void) {
  hak_stats_t s;
  hak_stats(&s);
  return s;
}

static size_t rss(void) { return (size_t)stats().rss_current; }

static long minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

static void write_pages(char *p, size_t from, size_t to, char v) {
  for (size_t off = from; off < to; off += 4096) p[off] = v;
  if (to > from) p[to - 1] = v;
}

/* Contents that survive a move: the pattern is keyed by a fixed address. */
static char key;
static void fill_k(void *p, size_t n) { fill_key(p, n, &key); }
static int verify_k(const void *p, size_t n) { return verify_key(p, n, n, &key) == (size_t)-1; }

static size_t count_mappings(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  size_t n = 0;
  int c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

static void grow_in_place(void *arg) {
  (void)arg;
  char *p = hak_malloc(100 * KiB);
  fill_k(p, 100 * KiB);
  char *q = hak_realloc(p, 120 * KiB);
  CHECK(q == p, "realloc 100K -> 120K moved the block (%p -> %p) with free pages after it", (void *)p, (void *)q);
  CHECK(verify_k(q, 100 * KiB), "grown block lost its contents");
  /* a growth by a fifth is taken as asked (large.c) */
  CHECK(hak_usable_size(q) == 120 * KiB, "usable %zu after growth to 120K", hak_usable_size(q));
  /* a doubling takes room for the next one, which then needs no lock */
  hak_stats_t s0, s1;
  q = hak_realloc(p, 240 * KiB);
  CHECK(q == p, "realloc 120K -> 240K moved the block (%p -> %p) with free pages after it", (void *)p, (void *)q);
  CHECK(hak_usable_size(q) == 480 * KiB, "usable %zu after doubling to 240K, want 480K", hak_usable_size(q));
  CHECK(hak_stats(&s0) == HAK_OK, "stats");
  q = hak_realloc(p, 480 * KiB);
  CHECK(hak_stats(&s1) == HAK_OK, "stats");
  CHECK(q == p && s1.locks_large == s0.locks_large, "the next doubling to 480K: moved %d, %llu locks of the large tier",
        q != p, (unsigned long long)(s1.locks_large - s0.locks_large));
  CHECK(verify_k(q, 100 * KiB), "doubled block lost its contents");
  /* +64 B steps: every step keeps the block where it is, and the headroom
   * makes most of them return without the tier's lock: one growth per 1/16
   * of the size (about 12 from 480K to 1M), not one per page (about 140) */
  size_t moved = 0;
  CHECK(hak_stats(&s0) == HAK_OK, "stats");
  for (size_t size = 480 * KiB; size < 1 * MiB; size += 64) {
    char *r = hak_realloc(q, size + 64);
    moved += r != q;
    q = r;
  }
  CHECK(hak_stats(&s1) == HAK_OK, "stats");
  CHECK(moved == 0, "%zu of the +64 B steps moved the block", moved);
  CHECK(s1.locks_large - s0.locks_large < 30, "%llu locks of the large tier for +64 B steps from 480K to 1M, want under 30",
        (unsigned long long)(s1.locks_large - s0.locks_large));
  CHECK(verify_k(q, 100 * KiB), "block grown by steps lost its contents");
  /* a block in the way: growth moves, contents kept */
  char *blocker = hak_malloc(100 * KiB);
  char *a = hak_malloc(100 * KiB);
  char *b = hak_malloc(100 * KiB);
  fill_k(a, 100 * KiB);
  char *a2 = hak_realloc(a, 300 * KiB);
  CHECK(a2 != NULL && verify_k(a2, 100 * KiB), "moved block lost its contents");
  hak_free(a2);
  hak_free(b);
  hak_free(blocker);
  hak_free(q);
}

static void shrink_gives_back(void *arg) {
  size_t big = (size_t)arg;
  size_t base = rss();
  char *p = hak_malloc(big);
  CHECK(p != NULL, "hak_malloc(%zu)", big);
  if (!p) return;
  memset(p, 1, big);
  size_t full = rss();
  RSS_CHECK(full >= base + big - 4 * MiB, "rss %zu after writing %zu bytes (base %zu)", full, big, base);
  char *q = hak_realloc(p, 100000);
  CHECK(q != NULL && q[0] == 1 && q[99999] == 1, "realloc to 100000 lost the contents");
  size_t after = rss();
  RSS_CHECK(after <= base + 2 * MiB, "rss %zu MiB after shrinking %zu MiB to 100000 bytes (base %zu MiB)", after / MiB,
        big / MiB, base / MiB);
  size_t usable = hak_usable_size(q);
  CHECK(usable >= 100000 && usable < 100000 + 4096, "usable size %zu after shrinking to 100000", usable);
  hak_free(q);
}

/* A cut under 1 MiB stays committed (cached like freed pages): the buffer
 * grows back over it without page faults. Larger cuts go back at once
 * (shrink_gives_back). */
static void shrink_then_grow(void *arg) {
  (void)arg;
  char *p = hak_malloc(1 * MiB);
  memset(p, 1, 1 * MiB);
  char *q = hak_realloc(p, 512 * KiB);
  CHECK(q == p, "realloc 1 MiB -> 512 KiB moved the block (%p -> %p)", (void *)p, (void *)q);
  long f0 = minor_faults();
  char *r = hak_realloc(q, 1 * MiB);
  CHECK(r == p, "realloc back to 1 MiB moved the block (%p -> %p) with its cut pages free after it", (void *)p, (void *)r);
  memset(r + 512 * KiB, 2, 512 * KiB);
  long faults = minor_faults() - f0;
  CHECK(faults < 16, "growing back over 128 cut pages took %ld page faults: they were not kept", faults);
  size_t bad = 0;
  for (size_t i = 0; i < 512 * KiB; i++) bad += r[i] != 1;
  CHECK(bad == 0, "%zu bytes of the kept half changed", bad);
  hak_free(r);
}

/* A doubling block's room is taken only where the pages after it are clean:
 * pages freed and still committed stay for the blocks that reuse them. */
static void room_only_over_clean_pages(void *arg) {
  (void)arg;
  hak_trim(); /* nothing parked, no committed pages cached */
  char *p = hak_malloc(120 * KiB);
  char *q = hak_malloc(5 * MiB); /* above what a thread parks: freed into the page heap */
  CHECK(p != NULL && q == p + 120 * KiB, "a block after another in a fresh arena: %p then %p", (void *)p, (void *)q);
  if (!p || q != p + 120 * KiB) return;
  memset(q, 1, 5 * MiB);
  hak_free(q); /* its pages stay committed, free, after p */
  char *r = hak_realloc(p, 240 * KiB);
  CHECK(r == p && hak_usable_size(r) == 240 * KiB,
        "doubling to 240K before committed free pages: %p -> %p, usable %zu (want 240K: no room over them)", (void *)p,
        (void *)r, hak_usable_size(r));
  hak_free(r ? r : p);
  hak_trim(); /* decommitted: now the same doubling gets its room */
  p = hak_malloc(120 * KiB);
  r = hak_realloc(p, 240 * KiB);
  CHECK(r == p && hak_usable_size(r) == 480 * KiB, "doubling to 240K before clean free pages: usable %zu, want 480K",
        hak_usable_size(r));
  hak_free(r ? r : p);
}

/* A doubling buffer, twice: the second time every page is already committed.
 * arg: its final size in MiB; 1 MiB fits the thread's slot, where the first
 * buffer is parked when the second one starts small (and must give its pages
 * to it rather than sit beside it). */
static void reuse_without_faults(void *arg) {
  size_t max = (size_t)arg * MiB;
  long pages = (long)(max / 4096);
  for (int round = 0; round < 2; round++) {
    long f0 = minor_faults();
    char *p = hak_malloc(16);
    size_t size = 16;
    while (size < max) {
      p = hak_realloc(p, size * 2);
      write_pages(p, size, size * 2, (char)round);
      size *= 2;
    }
    hak_free(p);
    long faults = minor_faults() - f0;
    if (round == 0) CHECK(faults >= pages / 2, "first growth to %zu MiB took only %ld faults (%ld pages written)", max / MiB, faults, pages);
    else CHECK(faults < pages / 8, "second growth to %zu MiB took %ld page faults: freed pages were not reused", max / MiB, faults);
  }
  hak_stats_t s = stats();
  CHECK(s.large_cache_hits >= 1, "large_cache_hits = %llu after reusing freed pages", U(s.large_cache_hits));
}

/* Blocks of 5..25 MiB replaced at random, their number fixed (a server's
 * buffers): freed pages are reused, but live blocks plus the pages cached
 * stay within max(1/8, 64 MiB) of the most ever live (large.c,
 * above_live_peak), where the cache's own bound (256 MiB) let the resident
 * size reach live + 256 MiB. */
static void cache_within_live_peak(void *arg) {
  (void)arg;
  enum { LIVE = 20, OPS = 2000 };
  char *blocks[LIVE];
  size_t sizes[LIVE], live = 0, peak = 0, worst = 0;
  uint32_t rng = 12345;
#define NEXT_SIZE() (rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5, 5 * MiB + rng % 5121 * 4 * KiB)
  for (int i = 0; i < LIVE; i++) {
    sizes[i] = NEXT_SIZE();
    blocks[i] = hak_malloc(sizes[i]);
    CHECK(blocks[i] != NULL, "hak_malloc(%zu)", sizes[i]);
    if (!blocks[i]) return;
    write_pages(blocks[i], 0, sizes[i], 1);
    live += sizes[i];
  }
  peak = live;
  hak_stats_t s0 = stats();
  for (int op = 0; op < OPS; op++) {
    int i = (int)(rng % LIVE);
    hak_free(blocks[i]);
    live -= sizes[i];
    sizes[i] = NEXT_SIZE();
    blocks[i] = hak_malloc(sizes[i]);
    CHECK(blocks[i] != NULL, "hak_malloc(%zu)", sizes[i]);
    if (!blocks[i]) return;
    write_pages(blocks[i], 0, sizes[i], (char)op);
    live += sizes[i];
    if (live > peak) peak = live;
    size_t resident = live + (size_t)stats().large_cached_bytes;
    if (resident > worst) worst = resident;
  }
#undef NEXT_SIZE
  size_t slack = peak / 8 > 64 * MiB ? peak / 8 : 64 * MiB;
  /* exact: the sizes are whole pages, none small enough to be parked in the
   * thread's slot (4 MiB); with no bound this reached 446 MiB (bound 432) */
  CHECK(worst <= peak + slack, "live + cached reached %zu MiB, live peaked at %zu MiB (bound %zu MiB)",
        worst / MiB, peak / MiB, (peak + slack) / MiB);
  hak_stats_t s1 = stats();
  CHECK(s1.large_cache_hits - s0.large_cache_hits >= OPS / 4, "%llu of %d allocations reused cached pages",
        U(s1.large_cache_hits - s0.large_cache_hits), OPS);
  for (int i = 0; i < LIVE; i++) hak_free(blocks[i]);
}

static void calloc_zero(void *arg) {
  (void)arg;
  enum { N = 8 };
  size_t sizes[N] = {70 * KiB, 100 * KiB, 256 * KiB, 1 * MiB, 3 * MiB + 5, 200 * KiB, 5 * MiB, 80 * KiB};
  for (int round = 0; round < 20; round++) {
    char *v[N];
    for (int i = 0; i < N; i++) {
      size_t n = sizes[(i + round) % N];
      v[i] = hak_calloc(1, n);
      CHECK(v[i] != NULL, "hak_calloc(%zu)", n);
      size_t nonzero = 0;
      for (size_t off = 0; off < n; off += 512) nonzero += v[i][off] != 0;
      nonzero += v[i][n - 1] != 0;
      CHECK(nonzero == 0, "calloc(%zu) round %d: %zu sampled bytes not zero", n, round, nonzero);
      memset(v[i], 0xA5, n);
    }
    for (int i = 0; i < N; i += 2) hak_free(v[i]);
    for (int i = 1; i < N; i += 2) hak_free(v[i]);
  }
}

/* 20,000 blocks of 100 KB, every other one freed: with one mapping per block
 * (and a split per hole) this was 10,000+ mappings. */
static void bounded_mappings(void *arg) {
  (void)arg;
  enum { N = 20000 };
  static char *v[N];
  hak_free(hak_malloc(100000));
  size_t before = count_mappings();
  for (int i = 0; i < N; i++) {
    v[i] = hak_malloc(100000);
    CHECK(v[i] != NULL, "block %d", i);
  }
  for (int i = 0; i < N; i += 2) hak_free(v[i]);
  size_t after = count_mappings();
  /* Two arenas (each its reservation, descriptors and dirty bitmap) and, under
   * AddressSanitizer, regions of its own allocator: a few dozen at most, not a
   * number that grows with the blocks. */
  CHECK(after <= before + 32, "%zu mappings before, %zu after 20,000 large blocks with holes", before, after);
  hak_stats_t s = stats();
  CHECK(s.os_release_failures == 0, "os_release_failures = %llu", U(s.os_release_failures));
  for (int i = 1; i < N; i += 2) hak_free(v[i]);
  s = stats();
  CHECK(s.large_allocs == s.large_frees, "large_allocs %llu != large_frees %llu", U(s.large_allocs), U(s.large_frees));
}

/* The old hang: 255 blocks, every mapping refused, rounds of growth by one
 * byte and lookups of an address that is not ours. SIGALRM fails the test
 * instead of waiting for ever. arg: HAKMEM_LARGE_MAX_BLOCK ("64K": every block
 * is a huge block in the pointer table). */
static void no_hang_when_os_refuses(void *arg) {
  enum { N = 255 };
  static char *v[N];
  set_flag("LARGE_MAX_BLOCK", arg);
  check_timeout(20);
  for (int i = 0; i < N; i++) {
    v[i] = hak_malloc(100000);
    CHECK(v[i] != NULL, "block %d", i);
    fill_k(v[i], 100000);
  }
  hak_fault_set_mmap_fail_every(1);
  size_t grown = 0, refused = 0;
  for (int round = 0; round < 40; round++) {
    for (int i = 0; i < N; i++) {
      char *q = hak_realloc(v[i], hak_usable_size(v[i]) + 1);
      if (q) v[i] = q, grown++; else refused++;
      CHECK(hak_owns((void *)0x1000) == 0, "hak_owns(0x1000) != 0");
    }
  }
  hak_fault_set_mmap_fail_every(0);
  CHECK(grown + refused == 40 * N, "rounds incomplete");
  for (int i = 0; i < N; i++) {
    CHECK(hak_owns(v[i]) == 1, "block %d lost", i);
    CHECK(verify_k(v[i], 100000), "block %d corrupted", i);
    hak_free(v[i]);
  }
  void *p = hak_malloc(1 * MiB);
  CHECK(p != NULL, "large allocation after the faults stopped");
  hak_free(p);
}

/* The per-thread slot for the last freed block: a parked block reads as free,
 * comes back to the same thread, and is not lost when its thread exits. */
static void *park_and_exit(void *arg) {
  void *p = hak_malloc(1 * MiB);
  memset(p, 3, 1 * MiB);
  hak_free(p);
  *(void **)arg = p;
  return NULL;
}

static void thread_cache(void *arg) {
  (void)arg;
  hak_stats_t s0 = stats();
  char *p = hak_malloc(1 * MiB);
  hak_free(p);
  CHECK(hak_owns(p) == 0, "a freed (parked) block is owned");
  CHECK(hak_block_state(p) == HAK_BLOCK_FREE, "state of a parked block = %d", hak_block_state(p));
  CHECK(hak_free_checked(p) == HAK_E_DOUBLE_FREE, "second free of a parked block not refused");
  char *q = hak_malloc(1 * MiB);
  CHECK(q == p, "the same thread asking for the same size got %p, not its parked block %p", (void *)q, (void *)p);
  CHECK(hak_owns(q) == 1, "block taken back from the slot not owned");
  hak_free(q);
  /* a request whose page count only looks like the parked block's in 32 bits */
  size_t huge = ((size_t)1 << 44) + 1 * MiB;
  char *h = hak_malloc(huge);
  CHECK(h != p, "hak_malloc(2^44 + 1 MiB) returned the parked 1 MiB block");
  CHECK(h == NULL || hak_usable_size(h) >= huge, "hak_malloc(2^44 + 1 MiB): usable %zu", h ? hak_usable_size(h) : 0);
  hak_free(h);
  q = hak_malloc(1 * MiB);
  hak_free(q);
  void *theirs = NULL;
  pthread_t t;
  pthread_create(&t, NULL, park_and_exit, &theirs);
  pthread_join(t, NULL);
  CHECK(hak_owns(theirs) == 0, "block parked by an exited thread reads as owned");
  hak_stats_t s1 = stats();
  uint64_t want = h ? 5 : 4;
  CHECK(s1.large_allocs - s0.large_allocs == want && s1.large_frees - s0.large_frees == want,
        "large allocs/frees moved by %llu/%llu, want %llu each", U(s1.large_allocs - s0.large_allocs),
        U(s1.large_frees - s0.large_frees), U(want));
  CHECK(s1.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu -> %llu", U(s0.bytes_in_use), U(s1.bytes_in_use));
  hak_trim();
  hak_stats_t s2 = stats();
  CHECK(s2.large_cached == 0 && s2.large_cached_bytes == 0, "after hak_trim: %llu runs, %llu bytes cached",
        U(s2.large_cached), U(s2.large_cached_bytes));
}

/* A block parked, then given back to its pool by a request of another size,
 * then freed again: a double free, as for a block freed straight to its pool,
 * not a pointer hakmem never made (which the LD_PRELOAD library would hand to
 * the C library's free). Both with the slot's owner giving it back and with
 * hak_trim doing so; and for a block freed long before. */
static void double_free_large(void *arg) {
  (void)arg;
  char *p = hak_malloc(1 * MiB);
  char *after = hak_malloc(128 * KiB); /* live after p: p's pages cannot merge into what comes next */
  hak_free(p);                         /* parked */
  char *q = hak_malloc(3 * MiB);       /* another size: p goes back to the pool first */
  CHECK(q != NULL && q != p, "hak_malloc(3 MiB) = %p with a 1 MiB hole at %p", (void *)q, (void *)p);
  CHECK(hak_owns(p) == 0, "a block given back from the slot reads as owned");
  int rc = hak_free_checked(p);
  CHECK(rc == HAK_E_DOUBLE_FREE, "second free of a block given back from the slot: %d, want HAK_E_DOUBLE_FREE", rc);
  hak_free(q); /* parked in turn */
  hak_trim();  /* and given back by hak_trim */
  rc = hak_free_checked(q);
  CHECK(rc == HAK_E_DOUBLE_FREE, "second free of a block hak_trim took from the slot: %d, want HAK_E_DOUBLE_FREE", rc);
  hak_free(after);
  /* and however many large blocks were freed since */
  enum { MANY = 200 };
  static char *v[MANY];
  for (int i = 0; i < MANY; i++) CHECK((v[i] = hak_malloc(100 * KiB + (size_t)i * 4096)) != NULL, "hak_malloc %d", i);
  hak_free(hak_malloc(2 * MiB)); /* parked: the blocks below go straight back to their pool */
  for (int i = 0; i < MANY; i++) hak_free(v[i]);
  rc = hak_free_checked(v[0]);
  CHECK(rc == HAK_E_DOUBLE_FREE, "second free of a block %d large frees ago: %d, want HAK_E_DOUBLE_FREE", MANY, rc);
  rc = hak_free_checked(v[0] + 4096);
  CHECK(rc != HAK_OK, "free of a page inside a freed block: HAK_OK");
}

static pthread_barrier_t churn_start;
/* Enough for a lock left elided to lose a block in every run here (4 of 4
 * with it forced); ThreadSanitizer reports the first unordered access, and
 * runs each iteration some 50 times slower. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CHURN_ROUNDS 5000
#else
#define CHURN_ROUNDS 200000
#endif

/* Large blocks made, grown and freed at random, their first and last bytes
 * checked after each move; NULL, or the failure's description. */
static void *large_churn(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  pthread_barrier_wait(&churn_start); /* all at once: threads started one by one barely overlapped */
  for (int i = 0; i < CHURN_ROUNDS; i++) {
    size_t n = (size_t)(64 + rand_r(&seed) % 960) * KiB, m = n + (size_t)(rand_r(&seed) % 1024) * KiB;
    char v = (char)(seed | 1);
    char *p = hak_malloc(n);
    if (!p) return "hak_malloc failed";
    p[0] = p[n - 1] = v;
    char *q = hak_realloc(p, m);
    if (!q) return "hak_realloc failed";
    if (q[0] != v || q[n - 1] != v) return "a block lost its contents";
    q[m - 1] = v;
    hak_free(q);
  }
  return NULL;
}

/* Locks are elided while the process is single-threaded (internal.h): a block
 * grown then, and threads started after, must share the tier under the real
 * lock; with one still elided they race on the runs and lose blocks or
 * contents. */
static void locks_once_threads_run(void *arg) {
  (void)arg;
  alarm(120); /* a list raced on can loop for ever: a hang is a failure */
  hak_stats_t s0 = stats();
  char *a = hak_malloc(256 * KiB);
  memset(a, 7, 256 * KiB);
  a = hak_realloc(a, 1 * MiB);
  CHECK(a && a[0] == 7 && a[256 * KiB - 1] == 7, "a block grown before any thread lost its contents");
  enum { THREADS = 4 };
  pthread_t t[THREADS];
  pthread_barrier_init(&churn_start, NULL, THREADS);
  for (uintptr_t i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, large_churn, (void *)(i + 1)) == 0, "pthread_create");
  for (int i = 0; i < THREADS; i++) {
    void *failed = NULL;
    pthread_join(t[i], &failed);
    CHECK(failed == NULL, "thread %d: %s", i, failed ? (const char *)failed : "");
  }
  pthread_barrier_destroy(&churn_start);
  CHECK(a[0] == 7 && a[256 * KiB - 1] == 7, "the block grown before the threads lost its contents");
  hak_free(a);
  hak_stats_t s1 = stats();
  CHECK(s1.large_allocs - s0.large_allocs == s1.large_frees - s0.large_frees,
        "large allocs/frees moved by %llu/%llu", U(s1.large_allocs - s0.large_allocs), U(s1.large_frees - s0.large_frees));
  CHECK(s1.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu -> %llu", U(s0.bytes_in_use), U(s1.bytes_in_use));
}

/* Threads allocate from pools of their own (large.c), then grow, shrink and
 * free the blocks another thread made: frees and reallocs cross pools, and
 * parked blocks go back to pools other than their freeing thread's. */
enum { POOL_THREADS = 4, HANDED = 48 };
static char *handed[POOL_THREADS][HANDED];
static size_t handed_size[POOL_THREADS][HANDED];
static uintptr_t first_granule[POOL_THREADS];
static pthread_barrier_t pools_made, pools_done;

static void *pool_worker(void *arg) {
  unsigned id = (unsigned)(uintptr_t)arg, seed = id * 7919 + 1;
  for (int i = 0; i < HANDED; i++) {
    size_t n = (size_t)(64 + rand_r(&seed) % 960) * KiB + (size_t)(rand_r(&seed) % 4096);
    char *p = hak_malloc(n);
    if (!p) return "hak_malloc failed";
    p[0] = p[n - 1] = (char)(id + 1);
    handed[id][i] = p;
    handed_size[id][i] = n;
  }
  first_granule[id] = (uintptr_t)handed[id][0] >> 30; /* arenas are 1 GiB, aligned */
  pthread_barrier_wait(&pools_made);
  unsigned from = (id + 1) % POOL_THREADS;
  char tag = (char)(from + 1);
  for (int i = 0; i < HANDED; i++) {
    char *p = handed[from][i];
    size_t n = handed_size[from][i];
    if (p[0] != tag || p[n - 1] != tag) return "a handed block lost its contents";
    if (i % 3 == 0) { /* grown or shrunk by its new holder, in the other pool */
      size_t m = i % 2 ? n * 2 : n / 2 + 1;
      char *q = hak_realloc(p, m);
      if (!q || q[0] != tag) return "hak_realloc of a handed block failed or lost its first byte";
      if (m > n && q[n - 1] != tag) return "a handed block grown lost its last byte";
      p = q;
    }
    hak_free(p);
    /* this thread's own size again: its parked block (of the other pool) goes back first */
    char *own = hak_malloc(handed_size[id][i] / 2 + 65 * KiB);
    if (!own) return "hak_malloc after a handed free failed";
    own[0] = 1;
    hak_free(own);
  }
  pthread_barrier_wait(&pools_done);
  return NULL;
}

static void pools_share_blocks(void *arg) {
  (void)arg;
  hak_stats_t s0 = stats();
  pthread_t t[POOL_THREADS];
  pthread_barrier_init(&pools_made, NULL, POOL_THREADS);
  pthread_barrier_init(&pools_done, NULL, POOL_THREADS);
  for (uintptr_t i = 0; i < POOL_THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, pool_worker, (void *)i) == 0, "pthread_create");
  for (int i = 0; i < POOL_THREADS; i++) {
    void *failed = NULL;
    pthread_join(t[i], &failed);
    CHECK(failed == NULL, "thread %d: %s", i, failed ? (const char *)failed : "");
  }
  pthread_barrier_destroy(&pools_made);
  pthread_barrier_destroy(&pools_done);
  for (int i = 0; i < POOL_THREADS; i++)
    for (int j = 0; j < i; j++)
      CHECK(first_granule[i] != first_granule[j], "threads %d and %d allocated from one arena (GiB %#lx): one pool", j, i,
            (unsigned long)first_granule[i]);
  hak_stats_t s1 = stats();
  /* a realloc that moves a block counts an allocation and a free more */
  CHECK(s1.large_allocs - s0.large_allocs == s1.large_frees - s0.large_frees &&
            s1.large_allocs - s0.large_allocs >= 2 * POOL_THREADS * HANDED,
        "large allocs/frees moved by %llu/%llu, want as many, at least %d", U(s1.large_allocs - s0.large_allocs),
        U(s1.large_frees - s0.large_frees), 2 * POOL_THREADS * HANDED);
  CHECK(s1.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu -> %llu", U(s0.bytes_in_use), U(s1.bytes_in_use));
  CHECK(s1.locks_large > s0.locks_large && s1.lock_acquisitions - s0.lock_acquisitions >= s1.locks_large - s0.locks_large,
        "locks_large %llu -> %llu, lock_acquisitions moved by %llu: the pools' locks are counted in both",
        U(s0.locks_large), U(s1.locks_large), U(s1.lock_acquisitions - s0.lock_acquisitions));
  hak_trim();
  hak_stats_t s2 = stats();
  CHECK(s2.large_cached == 0 && s2.large_cached_bytes == 0, "after hak_trim: %llu runs, %llu bytes cached in the pools",
        U(s2.large_cached), U(s2.large_cached_bytes));
}

static void *large_block_and_exit(void *arg) {
  (void)arg;
  char *p = hak_malloc(256 * KiB);
  if (p) p[0] = 1;
  hak_free(p);
  return NULL;
}

/* The cache's bounds are shared among the pools that hold memory: threads
 * that allocated large blocks and exited, their pools emptied, leave the
 * whole bound to the thread that is left. */
static void cache_bound_after_threads(void *arg) {
  (void)arg;
  set_flag("SS_LRU_TTL_SEC", "60");
  set_flag("LARGE_CACHE_MAX_RUNS", "8");
  enum { GONE = 7, RUNS = 9 };
  char *first = hak_malloc(256 * KiB); /* this thread's pool first */
  pthread_t t[GONE];
  for (int i = 0; i < GONE; i++) CHECK(pthread_create(&t[i], NULL, large_block_and_exit, NULL) == 0, "pthread_create");
  for (int i = 0; i < GONE; i++) pthread_join(t[i], NULL);
  hak_trim(); /* their pools hold nothing now */
  char *blocks[RUNS], *spacers[RUNS];
  for (int i = 0; i < RUNS; i++) {
    blocks[i] = hak_malloc(256 * KiB);
    spacers[i] = hak_malloc(128 * KiB); /* keeps the freed blocks from merging into one run */
    CHECK(blocks[i] && spacers[i], "hak_malloc %d", i);
    blocks[i][0] = spacers[i][0] = 1;
  }
  for (int i = 0; i < RUNS; i++) hak_free(blocks[i]); /* the first parked, the others cached */
  hak_stats_t s = stats();
  CHECK(s.large_cached >= RUNS, "%llu large runs cached (the parked one among them) after %d frees under a bound of 8 runs: "
        "the exited threads' empty pools still took their shares", U(s.large_cached), RUNS);
  for (int i = 0; i < RUNS; i++) hak_free(spacers[i]);
  hak_free(first);
}

static void *granule_of_a_request(void *arg) {
  char *p = hak_malloc(1 * MiB);
  if (p) memset(p, 5, 1 * MiB);
  *(uintptr_t *)arg = (uintptr_t)p >> 30;
  hak_free(p);
  return NULL;
}

/* A thread per request, one after another: each gets the pool the last one
 * left (its cached pages), not the next of eight. */
static void thread_after_thread(void *arg) {
  (void)arg;
  char *mine = hak_malloc(1 * MiB); /* this thread keeps a pool */
  enum { ROUNDS = 10 };
  uintptr_t granule[ROUNDS];
  for (int i = 0; i < ROUNDS; i++) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, granule_of_a_request, &granule[i]) == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(granule[i] != 0, "round %d: hak_malloc failed", i);
  }
  for (int i = 1; i < ROUNDS; i++)
    CHECK(granule[i] == granule[0], "round %d allocated in GiB %#lx, round 0 in %#lx: another pool, not the one left",
          i, (unsigned long)granule[i], (unsigned long)granule[0]);
  CHECK(granule[0] != (uintptr_t)mine >> 30, "the threads shared the pool of a thread still running");
  hak_free(mine);
}

/* One thread frees what it built while another, with a pool of its own,
 * builds: the builder takes the first one's cached pages (still committed)
 * rather than fault in fresh ones beside them. The blocks stay in the
 * lender's arena, and go back there when freed. */
enum { LENT = 16 };
#define LENT_SIZE (512 * KiB)
static pthread_barrier_t lender_freed, borrower_done;
static uintptr_t lender_granule;

static void *build_free_and_wait(void *arg) {
  (void)arg;
  char *mine[LENT];
  for (int i = 0; i < LENT; i++) {
    mine[i] = hak_malloc(LENT_SIZE);
    if (!mine[i]) return "hak_malloc failed";
    memset(mine[i], 7, LENT_SIZE);
  }
  lender_granule = (uintptr_t)mine[0] >> 30;
  for (int i = 0; i < LENT; i++) hak_free(mine[i]);
  pthread_barrier_wait(&lender_freed);
  pthread_barrier_wait(&borrower_done); /* alive meanwhile: its pool stays its own */
  return NULL;
}

static void pools_lend_cached_pages(void *arg) {
  (void)arg;
  char *keep = hak_malloc(LENT_SIZE); /* this thread's pool, before the lender takes one */
  CHECK(keep != NULL, "hak_malloc");
  pthread_t t;
  pthread_barrier_init(&lender_freed, NULL, 2);
  pthread_barrier_init(&borrower_done, NULL, 2);
  CHECK(pthread_create(&t, NULL, build_free_and_wait, NULL) == 0, "pthread_create");
  pthread_barrier_wait(&lender_freed);
  CHECK(lender_granule != (uintptr_t)keep >> 30, "the lender shared this thread's pool");
  hak_stats_t s0 = stats();
  char *got[LENT];
  int borrowed = 0;
  for (int i = 0; i < LENT; i++) {
    got[i] = hak_malloc(LENT_SIZE);
    CHECK(got[i] != NULL, "hak_malloc");
    if (!got[i]) return;
    memset(got[i], 9, LENT_SIZE);
    borrowed += (uintptr_t)got[i] >> 30 == lender_granule;
  }
  hak_stats_t s1 = stats();
  /* the lender's last block may sit in its thread's slot, out of its pool's reach */
  CHECK(borrowed >= LENT - 1, "%d of %d blocks came from the lender's arena", borrowed, LENT);
  CHECK(s1.large_cache_hits - s0.large_cache_hits >= LENT - 1, "%llu of %d allocations reused cached pages",
        U(s1.large_cache_hits - s0.large_cache_hits), LENT);
  for (int i = 0; i < LENT; i++) hak_free(got[i]);
  pthread_barrier_wait(&borrower_done);
  void *failed = NULL;
  pthread_join(t, &failed);
  CHECK(failed == NULL, "lender: %s", failed ? (const char *)failed : "");
  pthread_barrier_destroy(&lender_freed);
  pthread_barrier_destroy(&borrower_done);
  hak_stats_t s2 = stats();
  CHECK(s2.large_allocs - s0.large_allocs == s2.large_frees - s0.large_frees, "large allocs/frees moved by %llu/%llu",
        U(s2.large_allocs - s0.large_allocs), U(s2.large_frees - s0.large_frees));
  hak_free(keep);
}

static pthread_barrier_t holders_ready, holders_done;
static void *hold_a_pool(void *arg) {
  (void)arg;
  char *p = hak_malloc(256 * KiB);
  pthread_barrier_wait(&holders_ready);
  pthread_barrier_wait(&holders_done);
  hak_free(p);
  return NULL;
}

static void new_thread_elsewhere(void *arg) {
  uintptr_t mine = (uintptr_t)arg, theirs = 0;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, granule_of_a_request, &theirs) == 0, "pthread_create");
  pthread_join(t, NULL);
  CHECK(theirs != 0 && theirs != mine, "a thread of the forked child allocated in GiB %#lx, the forking thread's pool's: "
        "the pools still counted the parent's threads", (unsigned long)theirs);
}

/* After fork only the forking thread is left: the child's new threads get
 * pools of their own, not the forking thread's because the parent's other
 * threads looked as if they held the rest. */
static void fork_shares_pools_afresh(void *arg) {
  (void)arg;
  enum { HOLDERS = 7 };
  char *mine = hak_malloc(1 * MiB);
  pthread_t t[HOLDERS];
  pthread_barrier_init(&holders_ready, NULL, HOLDERS + 1);
  pthread_barrier_init(&holders_done, NULL, HOLDERS + 1);
  for (int i = 0; i < HOLDERS; i++) CHECK(pthread_create(&t[i], NULL, hold_a_pool, NULL) == 0, "pthread_create");
  pthread_barrier_wait(&holders_ready); /* every pool given to a live thread */
  check_in_child("after fork", new_thread_elsewhere, (void *)((uintptr_t)mine >> 30));
  pthread_barrier_wait(&holders_done);
  for (int i = 0; i < HOLDERS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&holders_ready);
  pthread_barrier_destroy(&holders_done);
  hak_free(mine);
}

/* Written large blocks and small ones, all freed: what stays cached. */
static void fill_caches(size_t large_bytes) {
  enum { SMALL = 20000 };
  static void *small[SMALL];
  size_t n = large_bytes / (4 * MiB);
  char **v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    v[i] = hak_malloc(4 * MiB);
    memset(v[i], 7, 4 * MiB);
  }
  for (int i = 0; i < SMALL; i++) memset(small[i] = hak_malloc(1000), 1, 1000);
  for (size_t i = 0; i < n; i++) hak_free(v[i]);
  for (int i = 0; i < SMALL; i++) hak_free(small[i]);
  free(v);
}

static void trim_releases_large(void *arg) {
  (void)arg;
  set_flag("SS_LRU_TTL_SEC", "60");
  size_t base = rss();
  fill_caches(64 * MiB);
  hak_stats_t s1 = stats();
  CHECK(s1.large_cached_bytes >= 32 * MiB, "large_cached_bytes = %llu after freeing 64 MiB of written blocks",
        U(s1.large_cached_bytes));
  RSS_CHECK(s1.rss_current >= base + 48 * MiB, "rss %llu MiB with 64 MiB cached (base %zu MiB)", U(s1.rss_current / MiB),
        base / MiB);
  size_t released = hak_trim();
  hak_stats_t s2 = stats();
  CHECK(released >= s1.large_cached_bytes, "hak_trim() = %zu with %llu bytes cached", released,
        U(s1.large_cached_bytes));
  CHECK(s2.large_cached == 0 && s2.large_cached_bytes == 0, "after hak_trim: %llu runs, %llu bytes cached",
        U(s2.large_cached), U(s2.large_cached_bytes));
  RSS_CHECK(s2.rss_current <= base + 8 * MiB, "rss %llu MiB after hak_trim (base %zu MiB)", U(s2.rss_current / MiB),
        base / MiB);
}

/* The slab tier takes fresh pages only once the large tier's cached ones went
 * back: freed large buffers are not kept while the program builds a structure
 * of small blocks. */
static void slab_growth_sheds_large_cache(void *arg) {
  (void)arg;
  set_flag("SS_LRU_TTL_SEC", "60");
  hak_trim(); /* nothing cached: the small blocks below come from fresh SuperSlabs */
  enum { BIG = 3, SMALL = 24000 }; /* 18 MiB freed, then 24 MB of 1000-byte blocks */
  char *big[BIG];
  for (int i = 0; i < BIG; i++) {
    big[i] = hak_malloc(6 * MiB); /* above what a thread parks: freed into the cache */
    CHECK(big[i] != NULL, "hak_malloc(6 MiB)");
    memset(big[i], 7, 6 * MiB);
  }
  for (int i = 0; i < BIG; i++) hak_free(big[i]);
  hak_stats_t s1 = stats();
  CHECK(s1.large_cached_bytes >= 18 * MiB, "large_cached_bytes = %llu after freeing 18 MiB of written blocks",
        U(s1.large_cached_bytes));
  static void *small[SMALL];
  for (int i = 0; i < SMALL; i++) {
    small[i] = hak_malloc(1000);
    CHECK(small[i] != NULL, "hak_malloc(1000) #%d", i);
    memset(small[i], 1, 1000);
  }
  hak_stats_t s2 = stats();
  CHECK(s2.large_cached_bytes == 0, "large_cached_bytes = %llu after the slab tier grew by %llu SuperSlabs",
        U(s2.large_cached_bytes), U(s2.superslabs_live - s1.superslabs_live));
  for (int i = 0; i < SMALL; i++) hak_free(small[i]);
}

/* A program that alternates between large buffers and small blocks keeps
 * both caches once it stops growing: the large tier taking fresh pages does
 * not shed the SuperSlabs the small blocks take again, so no round sheds the
 * other's cache and faults its own in afresh. */
static void alternating_phases_keep_caches(void *arg) {
  (void)arg;
  set_flag("SS_LRU_TTL_SEC", "60");
  hak_trim();
  enum { BIG = 3, SMALL = 24000, ROUNDS = 4 };
  static void *small[SMALL];
  char *big[BIG];
  hak_stats_t before = stats();
  for (int round = 0; round < ROUNDS; round++) {
    if (round == ROUNDS - 1) before = stats();
    for (int i = 0; i < BIG; i++) {
      big[i] = hak_malloc(6 * MiB);
      CHECK(big[i] != NULL, "hak_malloc(6 MiB)");
      memset(big[i], 7, 6 * MiB);
    }
    for (int i = 0; i < BIG; i++) hak_free(big[i]);
    for (int i = 0; i < SMALL; i++) {
      small[i] = hak_malloc(1000);
      CHECK(small[i] != NULL, "hak_malloc(1000) #%d", i);
      memset(small[i], 1, 1000);
    }
    for (int i = 0; i < SMALL; i++) hak_free(small[i]);
  }
  hak_stats_t after = stats();
  /* shedding both ways: 3 large blocks on fresh pages and 18 fresh SuperSlabs in the last round */
  CHECK(after.large_cache_misses == before.large_cache_misses, "the last round's %d large blocks took fresh pages %llu times",
        BIG, U(after.large_cache_misses - before.large_cache_misses));
  CHECK(after.lru_miss - before.lru_miss < 3, "the last round took %llu fresh SuperSlabs (%llu from the LRU cache)",
        U(after.lru_miss - before.lru_miss), U(after.lru_hit - before.lru_hit));
}

/* Threads of this process, from /proc/self/status (0 when unreadable). */
static int threads_now(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  if (f) fclose(f);
  return n;
}

static void *wait_forever(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

/* Whether every thread of this process but the caller sleeps in nanosleep or
 * pause (wait_forever, the releaser): none is starting or holds a lock. */
static bool others_asleep(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return false;
  long self = syscall(SYS_gettid);
  bool asleep = true;
  for (struct dirent *e; asleep && (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.' || atol(e->d_name) == self) continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
    FILE *f = fopen(path, "r");
    long nr = -1;
    if (f) {
      if (fscanf(f, "%ld", &nr) != 1) nr = -1; /* "running" */
      fclose(f);
    }
    asleep = nr == SYS_clock_nanosleep
#ifdef SYS_nanosleep
             || nr == SYS_nanosleep
#endif
#ifdef SYS_pause
             || nr == SYS_pause
#endif
             || nr == SYS_ppoll;
  }
  closedir(d);
  return asleep;
}

/* The releaser thread starts only in a process that runs more than one
 * thread (decay.c): a thread of the program's own that only waits. */
static void become_multi_threaded(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, wait_forever, NULL) == 0, "pthread_create");
  pthread_detach(t);
}

/* TTL of 1 s, then no call into hakmem for 2.5 s: in a program with threads,
 * the releaser thread gives back large pages and empty SuperSlabs. */
static void ttl_releases_idle_memory(void *arg) {
  if (!arg) set_flag("SS_LRU_TTL_SEC", "1"); /* arg: inherited already */
  become_multi_threaded();
  size_t base = rss();
  fill_caches(64 * MiB);
  hak_stats_t s1 = stats();
  CHECK(s1.large_cached_bytes >= 32 * MiB, "large_cached_bytes = %llu", U(s1.large_cached_bytes));
  struct timespec ts = {2, 500000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  hak_stats_t s2 = stats();
  CHECK(s2.large_cached_bytes == 0, "large_cached_bytes = %llu 2.5 s after a TTL of 1 s", U(s2.large_cached_bytes));
  CHECK(s2.superslabs_cached == 0, "superslabs_cached = %llu 2.5 s after a TTL of 1 s", U(s2.superslabs_cached));
  RSS_CHECK(s2.rss_current <= base + 8 * MiB, "rss %llu MiB 2.5 s after freeing (base %zu MiB, %llu MiB when freed)",
        U(s2.rss_current / MiB), base / MiB, U(s1.rss_current / MiB));
}

/* A single-threaded program: hakmem starts no thread of its own, which would
 * make glibc take the process for multi-threaded for good (every stdio call
 * and mutex then an atomic operation, decay.c). Its cached memory past the
 * TTL goes back at the next cache event instead. */
static void ttl_single_threaded(void *arg) {
  (void)arg;
  set_flag("SS_LRU_TTL_SEC", "1");
  CHECK(threads_now() == 1, "the test child runs %d threads before any allocation, want 1", threads_now());
  fill_caches(64 * MiB);
  hak_stats_t s1 = stats();
  CHECK(s1.large_cached_bytes >= 32 * MiB, "large_cached_bytes = %llu", U(s1.large_cached_bytes));
  CHECK(threads_now() == 1, "%d threads after memory was cached: hakmem started one", threads_now());
  struct timespec ts = {1, 500000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  CHECK(threads_now() == 1, "%d threads 1.5 s after memory was cached", threads_now());
  hak_free(hak_malloc(2 * MiB)); /* a cache event: the runs idle past the TTL go back */
  hak_stats_t s2 = stats();
  /* left: the 4 MiB block parked last (given back by the allocation) and the 2 MiB one */
  CHECK(s2.large_cached_bytes <= 6 * MiB, "large_cached_bytes = %llu after an allocation 1.5 s past a TTL of 1 s",
        U(s2.large_cached_bytes));
}

/* The releaser thread must not outlive fork in a broken state: a child caches,
 * waits, and gets its memory back too. */
static void ttl_after_fork(void *arg) {
  (void)arg;
  set_flag("SS_LRU_TTL_SEC", "1");
  become_multi_threaded();
  fill_caches(8 * MiB); /* starts the releaser in this process */
  /* Forked once every other thread sleeps: a thread still starting when the
   * process forks can leave AddressSanitizer's allocator locked in the child
   * (GCC 12's libsanitizer: its region lock for 8 KiB blocks, taken by a new
   * thread's set-up), and then no new thread of the child gets past its own
   * set-up. That is the sanitizer's lock, not ours. */
  for (int waited = 0; !others_asleep() && waited < 2000; waited++) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  CHECK(others_asleep(), "the program's and hakmem's threads are not all asleep after 2 s");  check_in_child("forked again", ttl_releases_idle_memory, "inherited");
}

int main(void) {
  check_in_child("grow in place", grow_in_place, NULL);
  check_in_child("room only over clean pages", room_only_over_clean_pages, NULL);
  check_in_child("shrink an arena block", shrink_gives_back, (void *)(16 * MiB));
  check_in_child("shrink a huge block", shrink_gives_back, (void *)(256 * MiB));
  check_in_child("shrink then grow back", shrink_then_grow, NULL);
  check_in_child("reuse without faults", reuse_without_faults, (void *)8);
  check_in_child("reuse without faults, parked", reuse_without_faults, (void *)1);
  check_in_child("calloc zero", calloc_zero, NULL);
  check_in_child("cache within the live peak", cache_within_live_peak, NULL);
  check_in_child("bounded mappings", bounded_mappings, NULL);
  check_in_child("no hang, arenas", no_hang_when_os_refuses, "32M");
  check_in_child("no hang, huge blocks", no_hang_when_os_refuses, "64K");
  check_in_child("thread cache", thread_cache, NULL);
  check_in_child("double free of a large block", double_free_large, NULL);
  check_in_child("hak_trim", trim_releases_large, NULL);
  check_in_child("locks once threads run", locks_once_threads_run, NULL);
  check_in_child("pools share blocks", pools_share_blocks, NULL);
  check_in_child("cache bound after threads", cache_bound_after_threads, NULL);
  check_in_child("thread after thread", thread_after_thread, NULL);
  check_in_child("pools lend cached pages", pools_lend_cached_pages, NULL);
  check_in_child("slab growth sheds the large cache", slab_growth_sheds_large_cache, NULL);
  check_in_child("alternating phases keep both caches", alternating_phases_keep_caches, NULL);
  if (!UNDER_TSAN) check_in_child("fork shares the pools afresh", fork_shares_pools_afresh, NULL); /* TSan: no threads after a multi-threaded fork */
  if (!UNDER_TSAN) check_in_child("TTL", ttl_releases_idle_memory, NULL);
  if (!UNDER_TSAN) check_in_child("TTL after fork", ttl_after_fork, NULL);
  if (!UNDER_TSAN) check_in_child("TTL in a single-threaded program", ttl_single_threaded, NULL); /* TSan runs a thread of its own */
  return check_finish();
}
