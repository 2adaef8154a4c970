/* test_thread_cache: each thread's cache of its last frees (HAKMEM_THREAD_CACHE,
 * the LD_PRELOAD library's default) hands the block freed last out again,
 * stays within its bound, counts its blocks as freed and shows them in
 * thread_cache_bytes, keeps other threads' blocks only where they fill whole
 * cache lines, refuses the block at its top freed again, and gives everything
 * back at trim and at thread exit, so that no SuperSlab stays live. It is off
 * in libhakmem.so by default and with HAKMEM_CHECK. Every scenario runs in a
 * fresh child with the flags set before the first allocation. */
#include <pthread.h>

#include "check.h"

#define U(x) ((unsigned long long)(x))

static void set_flag(const char *name, const char *value)
{
  int rc = hak_config_set(name, value);
  CHECK(rc == HAK_OK, "hak_config_set(%s, %s) = %d", name, value, rc);
}

static void cache_on(void) { set_flag("HAKMEM_THREAD_CACHE", "on"); }

static void **alloc_filled(size_t size, size_t n)
{
  void **v = malloc(n * sizeof *v); /* libc: not counted by hakmem */
  for (size_t i = 0; i < n; i++) {
    v[i] = hak_malloc(size);
    CHECK(v[i] != NULL, "hak_malloc(%zu) #%zu returned NULL", size, i);
    fill(v[i], size);
  }
  return v;
}

/* Everything freed and trimmed: nothing cached, nothing live. */
static void expect_all_given_back(const char *when)
{
  hak_trim();
  hak_stats_t s = stats_now();
  CHECK(s.thread_cache_bytes == 0, "%s: thread_cache_bytes %llu after a trim", when, U(s.thread_cache_bytes));
  CHECK(s.bytes_in_use == 0, "%s: bytes_in_use %llu", when, U(s.bytes_in_use));
  CHECK(s.superslabs_live == 0, "%s: %llu SuperSlabs live: a cached block pins its slab", when, U(s.superslabs_live));
}

/* The block freed last is the next one handed out, and until then it is
 * counted as freed and as cached. */
static void last_free_first_out(void *arg)
{
  (void)arg;
  cache_on();
  void *keep = hak_malloc(48); /* the heap exists before the counts are read */
  hak_stats_t s0 = stats_now();
  void *a = hak_malloc(48), *b = hak_malloc(48);
  hak_free(a);
  hak_free(b);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == 2, "frees moved by %llu, want 2", U(s1.frees - s0.frees));
  CHECK(s1.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu after the frees, want %llu", U(s1.bytes_in_use),
        U(s0.bytes_in_use));
  CHECK(s1.thread_cache_bytes == 2 * 48, "thread_cache_bytes %llu, want %d", U(s1.thread_cache_bytes), 2 * 48);
  CHECK(hak_malloc(48) == b, "the block freed last is handed out first");
  CHECK(hak_malloc(48) == a, "then the one freed before it");
  CHECK(stats_now().thread_cache_bytes == 0, "thread_cache_bytes %llu once both are out again",
        U(stats_now().thread_cache_bytes));
  hak_free(a);
  hak_free(b);
  hak_free(keep);
  expect_all_given_back("after two blocks");
}

/* Whether the n bytes at p, filled with fill(p, n), still hold the pattern
 * from byte `from` on. */
static int pattern_kept(const void *p, size_t n, size_t from)
{
  uint64_t seed = pattern_seed(p, n);
  for (size_t i = from; i < n; i++)
    if (((const uint8_t *)p)[i] != pattern_byte(seed, i)) return 0;
  return 1;
}

/* A cached block keeps every byte the program left in it but its first
 * word, from the free to the allocation that hands it out again (the API
 * then zeroes that word): the cache is a list linked through first words,
 * each block's to the block freed before it. 100 blocks: past the starting
 * bound of 64, so the bound grows (heap.c, tc_grow) with the order kept. */
static void cached_blocks_keep_their_bytes(void *arg)
{
  (void)arg;
  cache_on();
  enum { N = 100, SIZE = 64 };
  void **v = alloc_filled(SIZE, N);
  for (size_t i = 0; i < N; i++) hak_free(v[i]);
  CHECK(stats_now().thread_cache_bytes == N * SIZE, "thread_cache_bytes %llu, want %d", U(stats_now().thread_cache_bytes),
        N * SIZE);
  for (size_t i = 0; i < N; i++) {
    CHECK(pattern_kept(v[i], SIZE, 8), "cached block %zu was written into past its link", i);
    if (i > 0)
      CHECK(*(void **)v[i] == v[i - 1], "cached block %zu links to %p, not to the block freed before it", i,
            *(void **)v[i]);
  }
  for (size_t i = N; i-- > 0;) {
    void *p = hak_malloc(SIZE);
    CHECK(p == v[i], "block %zu out of the cache, the one freed last first", i);
    CHECK(*(uint64_t *)p == 0 && pattern_kept(p, SIZE, 8), "block %zu: the first word zeroed, the rest kept", i);
  }
  for (size_t i = 0; i < N; i++) hak_free(v[i]);
  free(v);
  expect_all_given_back("after the cached blocks");
}

/* What a cache at its most (max blocks) holds after the frees of v[0..n-1]:
 * a full cache gives back its newer half, the blocks freed last (heap.c,
 * tc_spill). Written to stack bottom first; returns how many. */
static size_t cache_after_frees(void *const *v, size_t n, size_t max, void **stack)
{
  size_t held = 0;
  for (size_t i = 0; i < n; i++) {
    if (held == max) held -= (held + 1) / 2;
    stack[held++] = v[i];
  }
  return held;
}

/* A class's bound starts at 64 blocks and 32 KiB and grows as frees
 * overflow it, up to 512 blocks and 1 MiB (the heap's growth budget, 4 MiB,
 * is not reached by one class; the thread allocated all 600 itself). A free
 * that finds it full at its most sends the newer half (the blocks freed
 * last) to the slabs (heap.c, tc_spill): 512 of 64 B fill it, the 513th
 * spills the 256 freed last (257 held), 87 more make 344, and the cache
 * hands out those freed since the spill, then the first 256, each the one
 * freed last first. Every block comes back intact. */
static void bounded(void *arg)
{
  (void)arg;
  cache_on();
  static const struct { size_t size, most, cached; } cases[] = {
    {64, 512, 344},    /* at most 512 blocks (32 KiB) */
    {4096, 256, 216},  /* at most 256 (1 MiB): spilled at the 257th, 385th and 513th frees */
    {16384, 64, 56},   /* at most 64 (1 MiB), multi-unit slabs */
    {65536, 16, 16},   /* at most 16, the largest slab class: spilled to 8 and refilled */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t size = cases[k].size, n = 600;
    void **v = alloc_filled(size, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
      bad += !verify(v[i], size);
      hak_free(v[i]);
    }
    CHECK(bad == 0, "%zu B: %zu blocks damaged before their free", size, bad);
    hak_stats_t s = stats_now();
    CHECK(s.thread_cache_bytes == cases[k].cached * size, "%zu B: thread_cache_bytes %llu, want %zu blocks (%zu)", size,
          U(s.thread_cache_bytes), cases[k].cached, cases[k].cached * size);
    CHECK(s.bytes_in_use == 0, "%zu B: bytes_in_use %llu after every free", size, U(s.bytes_in_use));
    void **stack = malloc(cases[k].most * sizeof *stack);
    size_t cached = cache_after_frees(v, n, cases[k].most, stack);
    CHECK(cached == cases[k].cached, "%zu B: the model of the cache holds %zu blocks, want %zu", size, cached,
          cases[k].cached);
    /* the cached blocks come out first, top first, then the slabs' */
    void **again = alloc_filled(size, n);
    for (size_t i = 0; i < cached; i++)
      CHECK(again[i] == stack[cached - 1 - i], "%zu B: allocation %zu is not the cached block %zu from the top", size,
            i, i);
    for (size_t i = 0; i < n; i++) hak_free(again[i]);
    free(again);
    free(stack);
    free(v);
    expect_all_given_back("bounded");
  }
}

/* heap.c's starting bound of a class (bytes), a heap's growth budget, and
 * what the live threads share of it (tc_growth_budget) */
#define BASE_BYTES (32u << 10)
#define BUDGET (4u << 20)
#define BUDGET_ALL (16u << 20)
#define BUDGET_LEAST (512u << 10)

static size_t bound_of(size_t size, size_t blocks, size_t bytes)
{
  size_t n = bytes / size;
  return n > blocks ? blocks : n < 1 ? 1 : n;
}

static void free_all(void **v, size_t n)
{
  for (size_t i = 0; i < n; i++) hak_free(v[i]);
  free(v);
}

/* Threads with a heap of their own that wait (emptied by a trim, so that
 * they hold nothing), for growth_budget's share of the budget. */
struct live_waiters {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t ready;
  int done;
};

static void *live_and_waiting(void *arg)
{
  struct live_waiters *w = arg;
  hak_free(hak_malloc(64));
  hak_trim();
  pthread_mutex_lock(&w->lock);
  w->ready++;
  pthread_cond_broadcast(&w->cond);
  while (!w->done) pthread_cond_wait(&w->cond, &w->lock);
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* The bounds of all classes grow by at most 4 MiB in all: eight classes of
 * 20-64 KiB, each able to grow (40 blocks freed, 40 allocated) by up to 39
 * blocks (780-1024 KiB), stop there: a class refused growth keeps what it
 * holds and sends its next frees to its slabs (it does not spill, as a class
 * at its own most does). A trim puts the bounds back (and the budget with
 * them): the last class, refused growth before, grows again. Everything is
 * allocated before the first free: a new SuperSlab empties the caches
 * (collect_all) and would put the bounds back midway. With arg other live
 * threads, the heap's budget is its share of 16 MiB, within 512 KiB and 4
 * MiB: 2 MiB with 7 others, 1 MiB with 15, 512 KiB with 31. */
static void growth_budget(void *arg)
{
  enum { MOST_OTHERS = 31 };
  size_t others = (uintptr_t)arg < MOST_OTHERS ? (uintptr_t)arg : MOST_OTHERS, live = others + 1;
  size_t budget = live > 1 ? BUDGET_ALL / live : BUDGET;
  budget = budget > BUDGET ? BUDGET : budget < BUDGET_LEAST ? BUDGET_LEAST : budget;
  cache_on();
  static struct live_waiters w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  pthread_t waiting[MOST_OTHERS];
  for (size_t i = 0; i < others; i++) pthread_create(&waiting[i], NULL, live_and_waiting, &w);
  pthread_mutex_lock(&w.lock);
  while (w.ready < others) pthread_cond_wait(&w.cond, &w.lock);
  pthread_mutex_unlock(&w.lock);
  static const size_t sizes[] = {20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536};
  enum { K = sizeof sizes / sizeof sizes[0], N = 40 };
  void **v[K];
  size_t max_growth = 0;
  for (size_t k = 0; k < K; k++) {
    size_t bound = bound_of(sizes[k], 512, 1 << 20);
    max_growth += ((bound < N ? bound : N) - bound_of(sizes[k], 64, BASE_BYTES)) * sizes[k];
    v[k] = alloc_filled(sizes[k], N);
  }
  void **more = alloc_filled(65536, N);
  CHECK(max_growth > budget, "the classes can grow by %zu bytes in all, want more than the budget (%zu)", max_growth,
        budget);
  /* first as many of each class as its bound can grow to, so that no class
   * spills at its own most (28672 B: 36 blocks) before the budget is reached */
  size_t grown = 0, fill[K], starting = 0; /* the starting bounds of the classes freed into so far */
  for (size_t k = 0; k < K; k++) {
    size_t bound = bound_of(sizes[k], 512, 1 << 20);
    fill[k] = bound < N ? bound : N;
    starting += bound_of(sizes[k], 64, BASE_BYTES) * sizes[k];
    for (size_t i = 0; i < fill[k]; i++) {
      hak_free(v[k][i]);
      size_t held = stats_now().thread_cache_bytes;
      CHECK(held <= starting + budget, "%zu B, free %zu: the caches hold %zu bytes, past their starting bounds (%zu) "
            "and the budget (%zu)", sizes[k], i, held, starting, budget);
      if (held > starting && held - starting > grown) grown = held - starting;
    }
  }
  CHECK(grown > budget - 65536, "the caches grew by at most %zu bytes past their starting bounds, want the budget "
        "(%zu) less at most one step (a block)", grown, budget);
  CHECK(stats_now().thread_cache_bytes == starting + grown, "the caches hold %llu bytes, want their starting bounds "
        "and the growth (%zu): a class refused growth keeps what it holds", U(stats_now().thread_cache_bytes),
        starting + grown);
  for (size_t k = 0; k < K; k++) {
    for (size_t i = fill[k]; i < N; i++) hak_free(v[k][i]);
    free(v[k]);
  }
  hak_stats_t s, before = stats_now();
  free_all(more, N); /* the budget is spent: the class, at its most (1 block), holds no more */
  s = stats_now();
  CHECK(s.thread_cache_bytes == before.thread_cache_bytes, "thread_cache_bytes %llu after more frees of 64 KiB, want %llu",
        U(s.thread_cache_bytes), U(before.thread_cache_bytes));
  expect_all_given_back("growth budget");
  more = alloc_filled(65536, N);
  /* 16 fill the bound grown to its most; the 17th, 25th and 33rd spill 8:
   * the 40th leaves 16. A budget below 15 blocks stops the bound short of
   * that, and the frees past it go to their slabs. */
  free_all(more, N);
  size_t bound = 1 + budget / 65536 < 16 ? 1 + budget / 65536 : 16;
  s = stats_now();
  CHECK(s.thread_cache_bytes == bound * 65536, "after a trim, %d frees of 64 KiB cached %llu bytes, want %zu blocks",
        N, U(s.thread_cache_bytes), bound);
  expect_all_given_back("growth budget, again");
  pthread_mutex_lock(&w.lock);
  w.done = 1;
  pthread_cond_broadcast(&w.cond);
  pthread_mutex_unlock(&w.lock);
  for (size_t i = 0; i < others; i++) pthread_join(waiting[i], NULL);
}

/* A thread that exits gives its cache back: its own blocks to its slabs,
 * and the blocks of others to their owners. */
static void *alloc_free_exit(void *arg)
{
  (void)arg;
  void **v = alloc_filled(256, 500);
  for (size_t i = 0; i < 500; i++) hak_free(v[i]);
  free(v);
  CHECK(stats_now().thread_cache_bytes == 500 * 256, "the exiting thread caches its 500 blocks of 256 B (bound grown to 512)");
  return NULL;
}

static void thread_exit_gives_back(void *arg)
{
  (void)arg;
  cache_on();
  pthread_t t;
  pthread_create(&t, NULL, alloc_free_exit, NULL);
  pthread_join(t, NULL);
  CHECK(stats_now().thread_cache_bytes == 0, "thread_cache_bytes %llu after the thread exited",
        U(stats_now().thread_cache_bytes));
  expect_all_given_back("after the thread exited");
}

/* Another thread's frees: blocks that fill whole cache lines (64 B) are
 * kept by the freeing thread, which allocates the class too, and reused by
 * it, counted as remote frees; smaller ones (48 B, sharing lines with the
 * owner's blocks) never are, nor are those above 1 KiB (2 KiB: their owner
 * reuses them). (A thread that never allocated the class keeps none:
 * test_remote_batch.) */
struct handoff {
  void **ptrs;
  size_t n, size;
  int reused; /* allocations of the same size that returned one of ptrs */
};

static void *free_then_reuse(void *arg)
{
  struct handoff *h = arg;
  void *opener = hak_malloc(h->size); /* its cache of the class opens with its first allocation */
  for (size_t i = 0; i < h->n; i++) hak_free(h->ptrs[i]);
  for (size_t i = 0; i < h->n; i++) {
    void *p = hak_malloc(h->size);
    for (size_t j = 0; j < h->n; j++) h->reused += p == h->ptrs[j];
    hak_free(p);
  }
  hak_free(opener);
  return NULL;
}

static void other_threads_blocks(void *arg)
{
  size_t size = (size_t)(uintptr_t)arg;
  cache_on();
  set_flag("HAKMEM_REMOTE_BATCH", "on");
  void *keep = hak_malloc(size);
  struct handoff h = {alloc_filled(size, 16), 16, size, 0};
  hak_stats_t s0 = stats_now();
  pthread_t t;
  pthread_create(&t, NULL, free_then_reuse, &h);
  pthread_join(t, NULL);
  hak_stats_t s1 = stats_now();
  CHECK(s1.remote_frees - s0.remote_frees >= 16, "remote_frees moved by %llu, want at least 16",
        U(s1.remote_frees - s0.remote_frees));
  if (size % 64 == 0 && size <= 1024)
    CHECK(h.reused == 16, "%zu B: the freeing thread reused %d of the 16 blocks, want all", size, h.reused);
  else CHECK(h.reused == 0, "%zu B: the freeing thread reused %d of another thread's blocks, want none", size, h.reused);
  free(h.ptrs);
  hak_free(keep);
  expect_all_given_back("after the other thread exited");
}

/* A cache of other threads' blocks grows no further than the freeing
 * thread's own blocks of the class in use (heap.c, tc_class_in_use): a
 * thread that allocated and freed 1,000 blocks of 256 B (so its allocations
 * would let the bound grow), trimmed (bounds back to 64 blocks), and holds
 * 10 of its own, keeps 64 of the first 300 of 800 blocks another thread
 * allocated (bounded by its allocations alone, it kept all 300); the rest
 * go to their owner. It allocates 400 more: first the 64 it cached, then
 * what the waiting owner's idle pools hold of the other 236 (heap.c,
 * take_from_idle_heaps), then its own, so that 110 to 346 of its own are in
 * use, as it counts by address. With the other 500 to free, it keeps more
 * than 64 and no more than its own in use, where its allocations and the
 * cache's most (512) would let it keep all 500. */
struct in_use_bound {
  void **foreign;
  size_t n;
  uint64_t cached_few, cached_many, own_in_use, remote_frees;
};

static void *free_foreign_with_few_in_use(void *arg)
{
  struct in_use_bound *b = arg;
  enum { SIZE = 256, CHURN = 1000, KEEP = 10, MORE = 400, FIRST = 300 };
  void **churn = alloc_filled(SIZE, CHURN);
  free_all(churn, CHURN);
  hak_trim();
  void **keep = alloc_filled(SIZE, KEEP);
  hak_stats_t s0 = stats_now();
  for (size_t i = 0; i < FIRST; i++) hak_free(b->foreign[i]);
  b->cached_few = stats_now().thread_cache_bytes / SIZE;
  void **more = alloc_filled(SIZE, MORE);
  b->own_in_use = KEEP;
  for (size_t i = 0; i < MORE; i++) b->own_in_use += !is_one_of(more[i], b->foreign, FIRST);
  for (size_t i = FIRST; i < b->n; i++) hak_free(b->foreign[i]);
  b->cached_many = stats_now().thread_cache_bytes / SIZE;
  b->remote_frees = stats_now().remote_frees - s0.remote_frees;
  free_all(keep, KEEP);
  free_all(more, MORE);
  return NULL;
}

static void cache_bound_by_own_blocks_in_use(void *arg)
{
  (void)arg;
  cache_on();
  set_flag("HAKMEM_REMOTE_BATCH", "on");
  enum { SIZE = 256, N = 800, BASE = 64, FIRST = 300, MORE = 400, KEEP = 10 };
  struct in_use_bound b = {alloc_filled(SIZE, N), N, 0, 0, 0, 0};
  pthread_t t;
  pthread_create(&t, NULL, free_foreign_with_few_in_use, &b);
  pthread_join(t, NULL);
  CHECK(b.cached_few == BASE, "with 10 of its own in use, the freeing thread cached %llu of 300 blocks, want %d",
        U(b.cached_few), BASE);
  CHECK(b.own_in_use >= KEEP + MORE - FIRST && b.own_in_use <= KEEP + MORE - BASE,
        "of its 400 allocations, %llu were of its own blocks, want 100 to 336: the 64 of the other thread's it "
        "cached come first, and no more than the 300 it freed can come", U(b.own_in_use - KEEP));
  CHECK(b.cached_many > BASE && b.cached_many <= b.own_in_use,
        "with %llu of its own in use, it cached %llu of the other thread's 500 blocks, want more than %d and at most those",
        U(b.own_in_use), U(b.cached_many), BASE);
  CHECK(b.remote_frees == N, "remote_frees moved by %llu, want %d", U(b.remote_frees), N);
  free(b.foreign);
  expect_all_given_back("after the freeing thread exited");
}

/* Spills of the newer half of a full cache (heap.c, tc_spill) splice runs of
 * blocks of one slab onto its list and send other heaps' blocks to their
 * owners. Frees that alternate between three slabs (runs of one block) with
 * every seventh block another thread's, 2,400 of them past the bound of 512:
 * each is counted once, and all 2,400 come back distinct and whole. */
static void *alloc_for_other(void *arg)
{
  struct handoff *h = arg;
  h->ptrs = alloc_filled(h->size, h->n);
  return NULL;
}

static int address_order(const void *a, const void *b)
{
  uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
  return x < y ? -1 : x > y;
}

static void spill_interleaved(void *arg)
{
  (void)arg;
  cache_on();
  set_flag("HAKMEM_REMOTE_BATCH", "on");
  enum { OWN = 2100, THIRD = OWN / 3, FOREIGN = 300, ALL = OWN + FOREIGN, SIZE = 64 };
  struct handoff other = {NULL, FOREIGN, SIZE, 0};
  pthread_t t;
  pthread_create(&t, NULL, alloc_for_other, &other);
  pthread_join(t, NULL);
  void **own = alloc_filled(SIZE, OWN); /* blocks i, i + 700 and i + 1400 lie in different slabs (1,024 a slab) */
  hak_stats_t s0 = stats_now();
  size_t next_own = 0, next_foreign = 0, bad = 0;
  for (size_t i = 0; i < ALL; i++) {
    void *p;
    if (i % 8 == 7 && next_foreign < FOREIGN) {
      p = other.ptrs[next_foreign++];
    } else {
      size_t k = next_own++;
      p = own[(k % 3) * THIRD + k / 3];
    }
    bad += !verify(p, SIZE);
    hak_free(p);
  }
  CHECK(next_own == OWN && next_foreign == FOREIGN, "freed %zu own and %zu foreign blocks", next_own, next_foreign);
  CHECK(bad == 0, "%zu blocks damaged before their free", bad);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == ALL, "frees moved by %llu, want %d", U(s1.frees - s0.frees), ALL);
  CHECK(s1.bytes_in_use == 0, "bytes_in_use %llu after every free", U(s1.bytes_in_use));
  CHECK(s1.thread_cache_bytes <= 512 * SIZE, "thread_cache_bytes %llu, past the bound of 512 blocks",
        U(s1.thread_cache_bytes));
  /* every own block the cache does not hold is on its slab's list (a cached one reads as live) */
  size_t on_lists = 0;
  for (size_t i = 0; i < OWN; i++) on_lists += hak_block_state(own[i]) == HAK_BLOCK_FREE;
  CHECK(on_lists >= OWN - s1.thread_cache_bytes / SIZE, "%zu own blocks on their slabs' lists, want all but the %llu cached",
        on_lists, U(s1.thread_cache_bytes / SIZE));
  void **again = alloc_filled(SIZE, ALL);
  qsort(again, ALL, sizeof *again, address_order);
  size_t same = 0;
  for (size_t i = 1; i < ALL; i++) same += again[i] == again[i - 1];
  CHECK(same == 0, "%zu of %d allocations handed out a block twice", same, ALL);
  for (size_t i = 0; i < ALL; i++) bad += !verify(again[i], SIZE);
  CHECK(bad == 0, "%zu blocks damaged after their allocation", bad);
  free_all(again, ALL);
  free(own);
  free(other.ptrs);
  expect_all_given_back("after the spills");
}

/* A thread that only frees (a consumer of another thread's blocks) keeps
 * none of a class it never allocated: its cache of the class opens with its
 * first allocation, and the bound grows only within the blocks of the class
 * its own heap handed out. Once it allocates 600 of the class itself, its
 * next 600 frees grow the bound to 512 blocks: the 513th spills 256 of them,
 * and 87 more frees leave 344. */
static void *consume_then_allocate(void *arg)
{
  struct handoff *h = arg;
  void *own_heap = hak_malloc(32); /* a heap of its own (and a cache): of another class */
  for (size_t i = 0; i < h->n; i++) hak_free(h->ptrs[i]);
  size_t held = stats_now().thread_cache_bytes;
  CHECK(held == 0, "a thread that only freed %zu blocks of %zu B holds %zu bytes in its cache, want none", h->n,
        h->size, held);
  void **own = alloc_filled(h->size, h->n);
  for (size_t i = 0; i < h->n; i++) hak_free(own[i]);
  free(own);
  held = stats_now().thread_cache_bytes;
  CHECK(held == 344 * h->size, "after allocating and freeing %zu of its own, the cache holds %zu bytes, want 344 blocks",
        h->n, held);
  hak_free(own_heap);
  return NULL;
}

static void consumer_does_not_grow(void *arg)
{
  (void)arg;
  cache_on();
  enum { N = 600, SIZE = 256 }; /* shareable; starting bound 64 blocks (16 KiB) */
  void *keep = hak_malloc(SIZE);
  struct handoff h = {alloc_filled(SIZE, N), N, SIZE, 0};
  pthread_t t;
  pthread_create(&t, NULL, consume_then_allocate, &h);
  pthread_join(t, NULL);
  free(h.ptrs);
  hak_free(keep);
  expect_all_given_back("after the consumer exited");
}

/* A message of one class that another thread sent back (HAKMEM_REMOTE_BATCH;
 * here when the freeing thread exits and gives back the 16 it had kept in its
 * own cache) goes onto the owner's cache whole when the owner's slabs of that
 * class run dry: all 16 come out next, and no slab is formatted for them.
 * Nothing is written into them meanwhile but the caches' links (first words). */
static void *free_all_of(void *arg)
{
  struct handoff *h = arg;
  for (size_t i = 0; i < h->n; i++) hak_free(h->ptrs[i]);
  return NULL;
}

static void inbox_to_cache(void *arg)
{
  (void)arg;
  cache_on();
  set_flag("HAKMEM_REMOTE_BATCH", "on");
  enum { N = 16, SIZE = 1024 }; /* 16 blocks of 1 KiB: one message (sent at the exit), within both caches' bounds */
  struct handoff h = {alloc_filled(SIZE, N), N, SIZE, 0};
  pthread_t t;
  pthread_create(&t, NULL, free_all_of, &h);
  pthread_join(t, NULL);
  hak_stats_t s0 = stats_now();
  /* the owner's current slab of the class has at most 48 blocks left */
  size_t k = 0;
  void *p = NULL, *extra[64];
  for (; k < 64; k++) {
    p = hak_malloc(SIZE);
    if (stats_now().thread_cache_bytes != 0) break;
    extra[k] = p;
  }
  CHECK(k < 64, "no message reached the cache within 64 allocations");
  CHECK(stats_now().thread_cache_bytes == (N - 1) * SIZE, "thread_cache_bytes %llu after the message came in, want %d",
        U(stats_now().thread_cache_bytes), (N - 1) * SIZE);
  /* taken into the cache as they were, but for the link in the first word */
  for (size_t j = 0; j < N; j++)
    if (h.ptrs[j] != p) CHECK(pattern_kept(h.ptrs[j], SIZE, 8), "block %zu of the message was written into", j);
  size_t from_chain = 0;
  for (size_t j = 0; j < N; j++) from_chain += p == h.ptrs[j];
  for (size_t i = 1; i < N; i++) {
    void *q = hak_malloc(SIZE);
    for (size_t j = 0; j < N; j++) from_chain += q == h.ptrs[j];
  }
  CHECK(from_chain == N, "%zu of the %d blocks came from the message", from_chain, N);
  hak_stats_t s1 = stats_now();
  CHECK(s1.slabs_in_use == s0.slabs_in_use, "slabs in use %llu -> %llu: a slab was formatted", U(s0.slabs_in_use),
        U(s1.slabs_in_use));
  CHECK(s1.thread_cache_bytes == 0, "thread_cache_bytes %llu once the message is handed out", U(s1.thread_cache_bytes));
  for (size_t i = 0; i < N; i++) hak_free(h.ptrs[i]);
  for (size_t i = 0; i < k; i++) hak_free(extra[i]);
  free(h.ptrs);
  expect_all_given_back("after the message");
}

/* The block at the top of the cache freed again is reported and changes
 * nothing: it is handed out once. */
static void repeated_free_refused(void *arg)
{
  (void)arg;
  cache_on();
  void *a = hak_malloc(32), *b = hak_malloc(32);
  hak_stats_t s0 = stats_now();
  hak_free(a);
  hak_free(b);
  hak_free(b);
  hak_stats_t s1 = stats_now();
  CHECK(s1.invalid_frees - s0.invalid_frees == 1, "invalid_frees moved by %llu, want 1", U(s1.invalid_frees - s0.invalid_frees));
  CHECK(s1.frees - s0.frees == 2, "frees moved by %llu, want 2", U(s1.frees - s0.frees));
  void *x = hak_malloc(32), *y = hak_malloc(32), *z = hak_malloc(32);
  CHECK(x == b && y == a && z != a && z != b, "after the repeated free: %p %p %p from a cache of %p, %p", x, y, z, b, a);
  hak_free(x);
  hak_free(y);
  hak_free(z);
  expect_all_given_back("after the repeated free");
}

/* Slabs of several 64 KiB units (classes above 8 KiB): a block in a unit
 * after the first (a follower, which carries a copy of its head's fixed
 * fields) is freed, cached and queried like any other; once the slab is
 * released, its units formatted again as slabs of small blocks know nothing
 * of it. arg: "on" or "off" (the cache). */
static void multi_unit_slabs(void *arg)
{
  const char *cache = arg;
  set_flag("HAKMEM_THREAD_CACHE", cache);
  set_flag("HAKMEM_SS_LRU_MAX_CACHED", "0");
  enum { N = 64, SIZE = 20000 }; /* class 20480: slabs of 2 units, 6 blocks each */
  void **v = alloc_filled(SIZE, N);
  size_t in_follower = 0, bad = 0;
  for (size_t i = 0; i < N; i++) {
    uintptr_t a = (uintptr_t)v[i];
    /* the unit's offset in the slab: units past the first are followers */
    in_follower += ((a >> 16) & 1) != (((uintptr_t)v[0] >> 16) & 1);
    CHECK(hak_block_state(v[i]) == HAK_BLOCK_LIVE && hak_usable_size(v[i]) == 20480,
          "block %zu: state %d, usable %zu", i, hak_block_state(v[i]), hak_usable_size(v[i]));
    CHECK(hak_block_state((char *)v[i] + 16) == HAK_BLOCK_INTERIOR, "block %zu + 16 reads as interior", i);
    bad += !verify(v[i], SIZE);
  }
  CHECK(in_follower > 0, "no block of the %d lies in a follower unit", N);
  CHECK(bad == 0, "%zu blocks damaged", bad);
  hak_stats_t s0 = stats_now();
  for (size_t i = 0; i < N; i++) hak_free(v[i]);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == N, "frees moved by %llu, want %d", U(s1.frees - s0.frees), N);
  CHECK(s1.invalid_frees == s0.invalid_frees, "%llu frees refused", U(s1.invalid_frees - s0.invalid_frees));
  /* the bound grown to 1 MiB of 20 KiB blocks (51), the 52nd free spilled the 26 freed last, 12 more followed */
  bool on = strcmp(cache, "on") == 0;
  size_t cached = on ? 38 : 0, kept = on ? 25 : 0, spilled_to = on ? 51 : N;
  CHECK(s1.thread_cache_bytes == cached * 20480, "thread_cache_bytes %llu, want %zu blocks",
        U(s1.thread_cache_bytes), cached);
  /* the cache holds the first 25 and those freed after the spill; the 26 between went to their slabs (a cached
   * block reads as live) */
  for (size_t i = 0; i < N; i++) {
    bool in_cache = i < kept || i >= spilled_to;
    CHECK(hak_block_state(v[i]) == (in_cache ? HAK_BLOCK_LIVE : HAK_BLOCK_FREE), "block %zu: state %d after its free, %s",
          i, hak_block_state(v[i]), in_cache ? "cached" : "on its slab");
  }
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "%llu SuperSlabs live after the trim", U(stats_now().superslabs_live));
  /* the same memory as slabs of 64-byte blocks: every block start is one */
  enum { M = 4 * 16384 };
  void **w = alloc_filled(64, M);
  size_t reused = 0;
  for (size_t i = 0; i < M; i++) {
    for (size_t k = 0; k < N && !reused; k++) reused += (uintptr_t)w[i] >> 16 == (uintptr_t)v[k] >> 16;
    CHECK(hak_block_state(w[i]) == HAK_BLOCK_LIVE && hak_usable_size(w[i]) == 64, "64-byte block %zu: state %d, usable %zu",
          i, hak_block_state(w[i]), hak_usable_size(w[i]));
  }
  CHECK(reused > 0, "the 64-byte slabs did not reuse the units of the released slabs");
  for (size_t i = 0; i < M; i++) hak_free(w[i]);
  free(w);
  free(v);
  expect_all_given_back("after the small blocks");
}

/* libhakmem.so's default is off (hak_free_checked and hak_owns see a freed
 * block as free at once), and HAKMEM_CHECK turns it off whatever is asked. */
static void off_where_state_must_be_exact(void *arg)
{
  const char *check = arg;
  if (check) {
    cache_on();
    set_flag("HAKMEM_CHECK", "1");
  } else {
    CHECK(strcmp(hak_config_get("HAKMEM_THREAD_CACHE"), "auto") == 0, "the default is auto");
  }
  void *p = hak_malloc(64);
  hak_free(p);
  CHECK(hak_block_state(p) == HAK_BLOCK_FREE, "a freed block reads as free at once (state %d)", hak_block_state(p));
  CHECK(stats_now().thread_cache_bytes == 0, "thread_cache_bytes %llu with the cache off", U(stats_now().thread_cache_bytes));
}

int main(void)
{
  check_in_child("last free first out", last_free_first_out, NULL);
  check_in_child("cached blocks keep their bytes", cached_blocks_keep_their_bytes, NULL);
  check_in_child("bounded per class", bounded, NULL);
  check_in_child("bounds grow within a budget", growth_budget, NULL);
  check_in_child("bounds grow within a budget, 8 threads live", growth_budget, (void *)7);
  check_in_child("bounds grow within a budget, 16 threads live", growth_budget, (void *)15);
  check_in_child("bounds grow within a budget, 32 threads live", growth_budget, (void *)31);
  check_in_child("thread exit gives the cache back", thread_exit_gives_back, NULL);
  check_in_child("other threads' blocks of 64 B kept", other_threads_blocks, (void *)(uintptr_t)64);
  check_in_child("other threads' blocks of 48 B not kept", other_threads_blocks, (void *)(uintptr_t)48);
  check_in_child("other threads' blocks of 2 KiB not kept", other_threads_blocks, (void *)(uintptr_t)2048);
  check_in_child("a cache of other threads' blocks bound by the thread's own in use", cache_bound_by_own_blocks_in_use, NULL);
  check_in_child("a full cache spills its newer half", spill_interleaved, NULL);
  check_in_child("a thread that only frees keeps none of the class, and grows its cache only once it allocates",
                 consumer_does_not_grow, NULL);
  check_in_child("repeated free refused", repeated_free_refused, NULL);
  check_in_child("a message from the inbox taken onto the cache", inbox_to_cache, NULL);
  check_in_child("multi-unit slabs, cache on", multi_unit_slabs, "on");
  check_in_child("multi-unit slabs, cache off", multi_unit_slabs, "off");
  check_in_child("off by default in libhakmem.so", off_where_state_must_be_exact, NULL);
  check_in_child("off with HAKMEM_CHECK", off_where_state_must_be_exact, "check");
  return check_finish();
}
