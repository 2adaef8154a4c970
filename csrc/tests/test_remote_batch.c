/* test_remote_batch: frees into another thread's slabs sent to the owner in
 * batches (HAKMEM_REMOTE_BATCH=on, the LD_PRELOAD library's default) lose
 * nothing. Every scenario runs in a fresh child with the flag set before the
 * first allocation: counts are exact when the frees happen, a full batch
 * reaches its owner while the freeing thread lives, a partial one (and the
 * blocks the thread kept in its thread cache, HAKMEM_THREAD_CACHE=on) when it
 * exits, and after every
 * thread has exited and a trim no SuperSlab is left live (a lost block would
 * pin its slab). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "check.h"

#define U(x) ((unsigned long long)(x))

static void batching_on(void)
{
  CHECK(hak_config_set("HAKMEM_REMOTE_BATCH", "on") == HAK_OK, "set HAKMEM_REMOTE_BATCH=on");
  CHECK(strcmp(hak_config_get("HAKMEM_REMOTE_BATCH"), "on") == 0, "HAKMEM_REMOTE_BATCH reads back as on");
}

/* Thread caches (the LD_PRELOAD library's default) on as well: a thread
 * keeps blocks of other heaps that fill whole cache lines for itself. */
static void thread_cache_on(void)
{
  CHECK(hak_config_set("HAKMEM_THREAD_CACHE", "on") == HAK_OK, "set HAKMEM_THREAD_CACHE=on");
}

/* n blocks of size bytes into ptrs, each filled with its own pattern */
static void alloc_filled(void **ptrs, size_t n, size_t size)
{
  for (size_t i = 0; i < n; i++) {
    ptrs[i] = hak_malloc(size);
    fill(ptrs[i], size);
  }
}

/* ---- a consumer that stays alive ------------------------------------------ */

struct handoff {
  void **ptrs;
  size_t count;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int freed, may_exit, bad;
  size_t own_size; /* nonzero: the consumer allocates a block of this size first (and frees it last) */
};

#define HANDOFF(ptrs, count) {ptrs, count, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0}

/* Frees every block (all remote: the main thread owns them), then waits
 * until the main thread has looked before it exits (and so flushes). */
static void *consume_and_wait(void *arg)
{
  struct handoff *h = arg;
  void *own = h->own_size ? hak_malloc(h->own_size) : NULL;
  for (size_t i = 0; i < h->count; i++) hak_free(h->ptrs[i]);
  pthread_mutex_lock(&h->lock);
  h->freed = 1;
  pthread_cond_broadcast(&h->cond);
  while (!h->may_exit) pthread_cond_wait(&h->cond, &h->lock);
  pthread_mutex_unlock(&h->lock);
  hak_free(own);
  return NULL;
}

static void wait_freed(struct handoff *h)
{
  pthread_mutex_lock(&h->lock);
  while (!h->freed) pthread_cond_wait(&h->cond, &h->lock);
  pthread_mutex_unlock(&h->lock);
}

static void let_exit(struct handoff *h, pthread_t t)
{
  pthread_mutex_lock(&h->lock);
  h->may_exit = 1;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
  pthread_join(t, NULL);
}

/* n blocks of size bytes freed by a consumer that stays alive. With thread
 * caches on, a consumer that allocates a block of the class itself
 * (consumer_allocates) keeps the first ones of a class that fills whole cache
 * lines for its own allocations (its cache's starting bound, 64 blocks and
 * 32 KiB: a thread that allocates no more of the class does not grow it;
 * smaller blocks share lines with their owner's and are never kept); one
 * that allocates nothing of the class keeps none. The rest go to the owner
 * in batches (64 blocks up to 256 bytes, 16 KiB of blocks above, one block
 * above 8 KiB: remote.c, batch_limit), a full batch at
 * once, a partial one when the consumer exits. After its trim (which takes
 * its inbox) the owner sees exactly the blocks that arrived as free. */
static void live_consumer(size_t size, size_t n, bool cache, bool consumer_allocates, size_t arrived_before_exit,
                          bool anchored)
{
  batching_on();
  if (cache) thread_cache_on();
  /* a block of the owner's that keeps its SuperSlab while all n come back, so those in it read FREE, not FOREIGN */
  void *anchor = anchored ? hak_malloc(size) : NULL;
  void **ptrs = malloc(n * sizeof *ptrs);
  alloc_filled(ptrs, n, size);
  hak_stats_t s0 = stats_now();
  struct handoff h = HANDOFF(ptrs, n);
  h.own_size = consumer_allocates ? size : 0;
  pthread_t t;
  pthread_create(&t, NULL, consume_and_wait, &h);
  wait_freed(&h);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == n, "frees moved by %llu while the consumer lives, want %zu", U(s1.frees - s0.frees), n);
  CHECK(s1.remote_frees - s0.remote_frees == n, "remote_frees moved by %llu, want %zu",
        U(s1.remote_frees - s0.remote_frees), n);
  CHECK(s1.bytes_in_use == s0.bytes_in_use - n * size + h.own_size, "bytes_in_use %llu, want %llu",
        U(s1.bytes_in_use), U(s0.bytes_in_use - n * size + h.own_size));
  hak_trim();
  size_t arrived = 0;
  /* back: free on its slab, or its slab emptied and released by the trim (past the anchor's SuperSlab) */
  for (size_t i = 0; i < n; i++) arrived += hak_block_state(ptrs[i]) != HAK_BLOCK_LIVE;
  CHECK(arrived == arrived_before_exit, "%zu blocks of %zu B freed by a live thread: %zu back at the owner, want %zu",
        n, size, arrived, arrived_before_exit);
  let_exit(&h, t);
  hak_free(anchor);
  hak_trim();
  /* now the slab empties and the trim gives it back: no block reads as live */
  arrived = 0;
  for (size_t i = 0; i < n; i++) arrived += hak_block_state(ptrs[i]) != HAK_BLOCK_LIVE;
  CHECK(arrived == n, "%zu of %zu blocks back at the owner after the consumer exited", arrived, n);
  hak_stats_t s3 = stats_now();
  CHECK(s3.superslabs_live == 0, "%llu SuperSlabs live after the consumer exited and a trim", U(s3.superslabs_live));
  free(ptrs);
}

static void full_batches(void *arg)
{
  (void)arg;
  live_consumer(64, 2 * 64 + 10, false, false, 2 * 64, false); /* two full batches, 10 waiting */
}

static void full_batches_after_the_cache(void *arg)
{
  (void)arg;
  live_consumer(64, 64 + 2 * 64 + 10, true, true, 2 * 64, false); /* 64 kept, two full batches, 10 waiting */
}

/* A thread that never allocated a class keeps none of its blocks: all go
 * back to the owner, which can use them. */
static void nothing_kept_of_a_class_never_allocated(void *arg)
{
  (void)arg;
  live_consumer(64, 64 + 2 * 64 + 10, true, false, 3 * 64, false); /* three full batches, 10 waiting */
}

static void small_blocks_not_kept(void *arg)
{
  (void)arg;
  live_consumer(16, 64 + 10, true, true, 64, false); /* one full batch, 10 waiting, none kept */
}

/* The owner takes no message while the consumer frees (it waits): after the
 * 4096 messages a heap may make (HK_REMOTE_MSGS_MAX, remote.c) are all on its
 * inbox, the consumer's further frees are linked into a chain per slab that
 * goes onto the slab's remote list whole when it holds as many blocks as a
 * message would (64 of 16 B), rather than wait in a message of their own
 * (memory); the rest of the chain goes when the consumer exits, and nothing
 * is lost either way. */
static void messages_run_out(void *arg)
{
  (void)arg;
  /* 100 past the messages: 64 sent, 36 waiting */
  live_consumer(16, 4096 * 64 + 100, true, false, 4096 * 64 + 64, true);
}

/* Blocks of 512 B go 32 to a batch (16 KiB), of 1 KiB 16, and of 2 KiB 16
 * as well (the fewest a batch takes): what waits for a batch to fill is
 * memory neither thread can use meanwhile. */
static void batches_of_16_kib(void *arg)
{
  size_t size = (size_t)(uintptr_t)arg, per = 16384 / size;
  live_consumer(size, 3 * per + per / 2, false, false, 3 * per, false); /* three full batches, half of one waiting */
}

static void partial_batch(void *arg)
{
  (void)arg;
  live_consumer(64, 10, false, false, 0, false);
}

static void large_blocks(void *arg)
{
  (void)arg;
  /* 10 KiB (multi-unit slabs), above HK_SHARE_MAX_BYTES: none kept though
   * the consumer allocates the class, a batch every 2 blocks (16 KiB
   * reached), 1 waiting; runs of one slab go back to it whole */
  live_consumer(10240, 2 * 7 + 1, true, true, 2 * 7, false);
}

/* ---- slabs emptied by what the owner takes from its inbox ------------------ */

struct remote_free {
  void **ptrs;
  size_t n, size;
  int bad;
};

static void *free_then_exit(void *arg)
{
  struct remote_free *r = arg;
  for (size_t i = 0; i < r->n; i++) {
    if (r->size && !verify(r->ptrs[i], r->size)) r->bad++;
    hak_free(r->ptrs[i]);
  }
  return NULL; /* its exit sends the kept blocks and the partial batch */
}

/* Another thread frees the n blocks at ptrs and exits. With size nonzero it
 * first checks that each still holds fill()'s pattern of size bytes: how
 * many did not. */
static int free_in_another_thread(void **ptrs, size_t n, size_t size)
{
  struct remote_free r = {ptrs, n, size, 0};
  pthread_t t;
  pthread_create(&t, NULL, free_then_exit, &r);
  pthread_join(t, NULL);
  return r.bad;
}

/* Every slab of a class emptied at once by blocks from the inbox: the owner
 * keeps its current slab and 8 spares, and gives the others back to their
 * SuperSlab when it takes the inbox (here: the first allocation of another
 * class, whose refill takes it), without waiting for a trim. */
static void inbox_emptied_slabs_released(void *arg)
{
  (void)arg;
  batching_on();
  enum { N = 256 };
  static void *ptrs[N];
  for (size_t i = 0; i < N; i++) ptrs[i] = hak_malloc(16384);
  hak_stats_t s0 = stats_now();
  CHECK(s0.slabs_in_use >= 20, "%llu slabs for %d blocks of 16 KiB, want at least 20", U(s0.slabs_in_use), N);
  free_in_another_thread(ptrs, N, 0);
  void *other = hak_malloc(48);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == N, "frees moved by %llu, want %d", U(s1.frees - s0.frees), N);
  CHECK(s1.slabs_in_use <= 10, "%llu slabs in use after every 16 KiB block came back (want the current one, 8 spares and "
        "the 48-byte slab)", U(s1.slabs_in_use));
  hak_free(other);
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- blocks held from the inbox for the class being allocated -------------- */

enum { HELD_N = 8000, HELD_SIZE = 64, HELD_CACHE = 64, HELD_MAX = 4096 };
static void *held_ptrs[HELD_N];

static size_t held_count_state(int state)
{
  size_t n = 0;
  for (size_t i = 0; i < HELD_N; i++) n += hak_block_state(held_ptrs[i]) == state;
  return n;
}

/* Another thread frees HELD_N blocks of 64 B and exits: 125 full messages of
 * 64 wait in the owner's inbox. The owner's next allocation of the class
 * that finds its slab empty takes them: one message onto its thread cache
 * (64 blocks), 4096 blocks held as addresses for the cache's next refills
 * (heap.c, held blocks), the rest back onto their slabs at once, where they
 * read as free. The owner's next slow path for another class, or a trim
 * (arg non-NULL), sends the held blocks to their slabs too: none stays
 * hidden. Counts are exact throughout and nothing is lost. */
static void inbox_blocks_held(void *arg)
{
  bool by_trim = arg != NULL;
  batching_on();
  thread_cache_on();
  alloc_filled(held_ptrs, HELD_N, HELD_SIZE);
  hak_stats_t s0 = stats_now();
  free_in_another_thread(held_ptrs, HELD_N, 0);
  CHECK(held_count_state(HAK_BLOCK_FREE) == 0, "blocks read free before the owner took its inbox");
  /* new blocks until one of the freed ones comes back: the inbox was taken */
  enum { FRESH_MAX = 2048 };
  static void *fresh[FRESH_MAX];
  size_t nfresh = 0;
  void *reused = NULL;
  while (!reused && nfresh < FRESH_MAX) {
    void *p = hak_malloc(HELD_SIZE);
    if (is_one_of(p, held_ptrs, HELD_N)) reused = p;
    else fresh[nfresh++] = p;
  }
  CHECK(reused != NULL, "%zu new blocks of %d B allocated and none was one of the %d freed", nfresh, HELD_SIZE, HELD_N);
  size_t on_slabs = held_count_state(HAK_BLOCK_FREE);
  CHECK(on_slabs == HELD_N - HELD_CACHE - HELD_MAX, "%zu of %d blocks back on their slabs after the owner took its inbox, "
        "want %d (one message onto the thread cache, %d held)", on_slabs, HELD_N, HELD_N - HELD_CACHE - HELD_MAX,
        HELD_MAX);
  uint64_t cached = stats_now().thread_cache_bytes;
  CHECK(cached == (HELD_CACHE - 1 + HELD_MAX) * HELD_SIZE, "thread_cache_bytes %llu, want %d (the cache's 63 and the "
        "held 4096 blocks)", U(cached), (HELD_CACHE - 1 + HELD_MAX) * HELD_SIZE);
  void *other;
  if (by_trim) {
    /* a trim sends back the held blocks and the thread cache's (slabs that empty are released: not free but foreign) */
    hak_trim();
    size_t live = held_count_state(HAK_BLOCK_LIVE);
    CHECK(live == 1, "%zu of %d blocks read live after a trim, want 1 (the one allocated again)", live, HELD_N);
    other = hak_malloc(256);
  } else {
    other = hak_malloc(256);
    /* another class's slow path (its first allocation) sends the held blocks back */
    on_slabs = held_count_state(HAK_BLOCK_FREE);
    CHECK(on_slabs == HELD_N - HELD_CACHE, "%zu of %d blocks on their slabs after an allocation of another class, want "
          "%d (all but the thread cache's)", on_slabs, HELD_N, HELD_N - HELD_CACHE);
    cached = stats_now().thread_cache_bytes;
    CHECK(cached == (HELD_CACHE - 1) * HELD_SIZE, "thread_cache_bytes %llu with nothing held, want %d", U(cached),
          (HELD_CACHE - 1) * HELD_SIZE);
  }
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == HELD_N, "frees moved by %llu, want %d", U(s1.frees - s0.frees), HELD_N);
  CHECK(s1.bytes_in_use == s0.bytes_in_use - (HELD_N - 1 - nfresh) * HELD_SIZE + 256, "bytes_in_use %llu, want %llu",
        U(s1.bytes_in_use), U(s0.bytes_in_use - (HELD_N - 1 - nfresh) * HELD_SIZE + 256));
  fill(reused, HELD_SIZE);
  CHECK(verify(reused, HELD_SIZE), "the reused block keeps what was written into it");
  hak_free(reused);
  hak_free(other);
  for (size_t i = 0; i < nfresh; i++) hak_free(fresh[i]);
  hak_trim();
  CHECK(held_count_state(HAK_BLOCK_LIVE) == 0, "blocks read live after everything was freed and trimmed");
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- the inbox of an owner that waits --------------------------------------- */

enum { IDLE_N = 256, IDLE_SIZE = 256, TAKER_N = 2048 };
static void *idle_blocks[IDLE_N];

struct taker {
  int n; /* blocks to allocate, at most TAKER_N */
  void *ptrs[TAKER_N];
  int reused, bad;
};

/* Allocates n blocks (each page carved or slab taken is a look at the other
 * heaps' inboxes), counts those that are blocks the owner's inbox held, then
 * frees them all. */
static void *allocate_while_owner_waits(void *arg)
{
  struct taker *t = arg;
  for (int i = 0; i < t->n; i++) {
    t->ptrs[i] = hak_malloc(IDLE_SIZE);
    fill(t->ptrs[i], IDLE_SIZE);
    t->reused += is_one_of(t->ptrs[i], idle_blocks, IDLE_N);
  }
  for (int i = 0; i < t->n; i++) {
    t->bad += !verify(t->ptrs[i], IDLE_SIZE);
    hak_free(t->ptrs[i]);
  }
  return NULL;
}

/* Allocates and frees one block of another class, whose first allocation
 * looks at the waiting owner's inbox: the first look from another thread
 * only notes that the owner has not looked since (heap.c, sort_idle_inbox). */
static void *look_at_idle_inboxes(void *arg)
{
  (void)arg;
  hak_free(hak_malloc(2 * IDLE_SIZE));
  return NULL;
}

/* The owner allocates, another thread frees everything and exits, and the
 * owner then waits (in pthread_join): the blocks sit in its inbox. A thread
 * that allocates meanwhile takes them into its thread cache before fresh
 * blocks (heap.c, take_from_idle_heaps), a cache's worth (64 blocks of 256
 * B) or more, rather than leave them held while it faults in fresh memory,
 * whether it allocates several slabs' worth or 128 blocks (arg: half its
 * first slab, whose pages it would otherwise carve one at a time); freed
 * again, they go back to their owner, and nothing is lost. With 16 (arg),
 * after another thread's first look at the inbox, all 16 come from the
 * blocks its own first look took, and it formats no slab of the class: its
 * exit still flushes that class's cache (heap.c, classes_used). */
static void idle_owner_inbox_taken(void *arg)
{
  int n = arg ? (int)(intptr_t)arg : TAKER_N;
  batching_on();
  thread_cache_on();
  for (int i = 0; i < IDLE_N; i++) idle_blocks[i] = hak_malloc(IDLE_SIZE);
  hak_stats_t s0 = stats_now();
  free_in_another_thread(idle_blocks, IDLE_N, 0);
  pthread_t t;
  if (n < 64) {
    pthread_create(&t, NULL, look_at_idle_inboxes, NULL);
    pthread_join(t, NULL);
  }
  static struct taker taker;
  taker.n = n;
  pthread_create(&t, NULL, allocate_while_owner_waits, &taker);
  pthread_join(t, NULL);
  hak_stats_t s1 = stats_now();
  CHECK(taker.bad == 0, "%d blocks damaged while the other thread held them", taker.bad);
  int want_reused = n < 64 ? n : 64;
  CHECK(taker.reused >= want_reused, "%d of the %d blocks in the waiting owner's inbox allocated again by a thread "
        "that allocated %d meanwhile, want at least %d", taker.reused, IDLE_N, n, want_reused);
  int looked = n < 64; /* the other thread's block */
  CHECK(s1.frees - s0.frees == (uint64_t)(IDLE_N + n + looked), "frees moved by %llu, want %d",
        U(s1.frees - s0.frees), IDLE_N + n + looked);
  CHECK(s1.bytes_in_use == s0.bytes_in_use - IDLE_N * IDLE_SIZE, "bytes_in_use %llu, want %llu", U(s1.bytes_in_use),
        U(s0.bytes_in_use - IDLE_N * IDLE_SIZE));
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- a thread whose locks were last elided takes an idle heap's pools --------
 * The main thread's locks are elided while it runs alone (lock.c): its first
 * allocations take none. When threads start later and its slow path looks at a
 * waiting owner's inbox (heap.c, take_idle_pool), the pools' lock it takes
 * there must be released as it was taken, whatever the flag its last lock
 * left: the lock once stayed taken for good (an unlock elided after a real
 * trylock), so the main thread got none of the owner's blocks again, and any
 * thread that then needed the lock waited forever (mimalloc-bench's rptest
 * hung so), a fork's handler among them. */

/* A flag one thread sets and others wait for. */
struct signal {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int set;
};
#define SIGNAL_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static void signal_set(struct signal *s)
{
  pthread_mutex_lock(&s->lock);
  s->set = 1;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

/* Whether s was set within the given seconds (0: waits as long as it takes). */
static bool signal_wait(struct signal *s, unsigned seconds)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += seconds;
  pthread_mutex_lock(&s->lock);
  while (!s->set && (seconds ? pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0
                             : pthread_cond_wait(&s->cond, &s->lock) == 0)) {}
  int set = s->set;
  pthread_mutex_unlock(&s->lock);
  return set;
}

static struct signal owner_allocated = SIGNAL_INIT, owner_may_go = SIGNAL_INIT, forked = SIGNAL_INIT;
static int forked_child_status = -1;

static void *allocate_then_wait(void *arg)
{
  (void)arg;
  for (int i = 0; i < IDLE_N; i++) idle_blocks[i] = hak_malloc(IDLE_SIZE);
  signal_set(&owner_allocated);
  signal_wait(&owner_may_go, 0);
  void *own = hak_malloc(IDLE_SIZE); /* its inbox taken back, the pools with it */
  hak_free(own);
  hak_trim();
  return NULL;
}

static void *fork_and_wait(void *arg)
{
  (void)arg;
  pid_t pid = fork(); /* hakmem's fork handlers take every lock of its, the idle pools' too */
  if (pid == 0) {
    void *p = hak_malloc(IDLE_SIZE);
    if (!p) _exit(3);
    hak_free(p);
    _exit(0);
  }
  if (pid > 0) waitpid(pid, &forked_child_status, 0);
  signal_set(&forked);
  return NULL;
}

static void elided_locker_takes_pools(void *arg)
{
  (void)arg;
  batching_on();
  thread_cache_on();
  void *first = hak_malloc(IDLE_SIZE); /* the main thread's heap, made alone: its locks elided */
  pthread_t owner;
  pthread_create(&owner, NULL, allocate_then_wait, NULL);
  signal_wait(&owner_allocated, 0);
  free_in_another_thread(idle_blocks, IDLE_N, 0); /* into the waiting owner's inbox */
  static struct taker taker;
  taker.n = TAKER_N;
  allocate_while_owner_waits(&taker); /* the main thread's slow paths look at the owner's inbox */
  CHECK(taker.bad == 0, "%d blocks damaged", taker.bad);
  CHECK(taker.reused >= 64, "%d of the %d blocks in the waiting owner's inbox allocated again by the main thread, "
        "want at least 64", taker.reused, IDLE_N);
  pthread_t forking;
  pthread_create(&forking, NULL, fork_and_wait, NULL);
  bool returned = signal_wait(&forked, check_scaled(20));
  CHECK(returned, "fork() did not return within %u s: a lock of hakmem's was left taken", check_scaled(20));
  if (!returned) return; /* the forking thread is stuck: leave it (the child exits) */
  pthread_join(forking, NULL);
  CHECK(WIFEXITED(forked_child_status) && WEXITSTATUS(forked_child_status) == 0,
        "the forked child allocated and freed: status 0x%x", forked_child_status);
  signal_set(&owner_may_go);
  pthread_join(owner, NULL);
  hak_free(first);
  hak_trim();
  CHECK(stats_now().bytes_in_use == 0, "bytes_in_use %llu after everything was freed", U(stats_now().bytes_in_use));
}

/* ---- an owner that split a class, then waits ------------------------------- */

/* 1,400 blocks of 700 B take the coarse class of 641-768 B past 16 slabs
 * (1 MiB), where the owner splits it (heap.c, split_class): the 700 B blocks
 * after that are of the fine class of 704 B. A thread that did not split asks
 * for 600 B in the coarse class of 513-640 B, which the idle pool of 704 B
 * blocks serves as well (heap.c, idle_pool_above). */
enum { SPLIT_FIRST = 1400, SPLIT_N = 512, SPLIT_SIZE = 700, ASK_SIZE = 600, ASKER_N = 3000 };
static void *split_first[SPLIT_FIRST], *split_blocks[SPLIT_N];

struct asker {
  void *ptrs[ASKER_N];
  int n, reused, bad, exit_early;
  uint64_t live_bytes, usable_bytes; /* bytes_in_use moved by, and the usable bytes of, the blocks allocated */
};

/* Allocates n blocks of ASK_SIZE (exit_early: up to the first of the
 * owner's), counts those that are the owner's 704 B blocks and what
 * bytes_in_use says of them all, then frees them (exit_early: only those
 * that were not the owner's). */
static void *ask_while_owner_waits(void *arg)
{
  struct asker *a = arg;
  hak_stats_t s0 = stats_now();
  for (int i = 0; i < a->n; i++) {
    a->ptrs[i] = hak_malloc(ASK_SIZE);
    fill(a->ptrs[i], ASK_SIZE);
    a->usable_bytes += hak_usable_size(a->ptrs[i]);
    a->reused += is_one_of(a->ptrs[i], split_blocks, SPLIT_N);
    if (a->exit_early && a->reused) a->n = i + 1; /* the rest of what was taken stays with the thread */
  }
  a->live_bytes = stats_now().bytes_in_use - s0.bytes_in_use;
  for (int i = 0; i < a->n; i++) {
    a->bad += !verify(a->ptrs[i], ASK_SIZE);
    if (!a->exit_early || !is_one_of(a->ptrs[i], split_blocks, SPLIT_N)) {
      hak_free(a->ptrs[i]);
      a->ptrs[i] = NULL;
    }
  }
  return NULL;
}

/* With batching and thread caches on, the calling thread (the owner)
 * allocates split_first, which splits the class, then split_blocks, of the
 * fine class of 704 B. */
static void owner_splits_its_class(void)
{
  batching_on();
  thread_cache_on();
  alloc_filled(split_first, SPLIT_FIRST, SPLIT_SIZE);
  CHECK(stats_now().classes_split >= 1, "the owner split a class after %d blocks of %d B", SPLIT_FIRST, SPLIT_SIZE);
  alloc_filled(split_blocks, SPLIT_N, SPLIT_SIZE);
  CHECK(hak_usable_size(split_blocks[0]) == 704, "a block of %d B after the split has %zu usable bytes, want 704",
        SPLIT_SIZE, hak_usable_size(split_blocks[0]));
}

/* The owner's blocks of a class it split reach a thread that asks for the
 * class below: each is a whole block of 704 B to that thread and to the
 * statistics. bytes_in_use stays exact whether the blocks are allocated and
 * freed by the asking thread, or (exit_early: it stops at the first, which
 * it keeps) the others it took go back to the owner when it exits. */
static void idle_owner_split_class_taken(void *arg)
{
  int exit_early = arg != NULL;
  owner_splits_its_class();
  hak_stats_t s0 = stats_now();
  int damaged = free_in_another_thread(split_blocks, SPLIT_N, SPLIT_SIZE);
  pthread_t t;
  static struct asker asker;
  asker.exit_early = exit_early;
  asker.n = ASKER_N;
  pthread_create(&t, NULL, ask_while_owner_waits, &asker);
  pthread_join(t, NULL);
  CHECK(damaged == 0 && asker.bad == 0, "%d and %d blocks damaged while another thread held them", damaged,
        asker.bad);
  CHECK(asker.reused >= (exit_early ? 1 : 64), "%d of the waiting owner's %d blocks of 704 B served requests of %d B",
        asker.reused, SPLIT_N, ASK_SIZE);
  CHECK(asker.live_bytes == asker.usable_bytes, "bytes_in_use moved by %llu for blocks of %llu usable bytes",
        U(asker.live_bytes), U(asker.usable_bytes));
  hak_stats_t s1 = stats_now();
  uint64_t kept = 0;
  for (int i = 0; i < asker.n; i++)
    if (asker.ptrs[i]) kept += hak_usable_size(asker.ptrs[i]);
  CHECK(s1.bytes_in_use == s0.bytes_in_use - (uint64_t)SPLIT_N * 704 + kept, "bytes_in_use %llu, want %llu",
        U(s1.bytes_in_use), U(s0.bytes_in_use - (uint64_t)SPLIT_N * 704 + kept));
  CHECK(s1.allocs - s0.allocs == (uint64_t)asker.n &&
            s1.frees - s0.frees == SPLIT_N + (uint64_t)asker.n - (uint64_t)(exit_early ? asker.reused : 0),
        "allocs moved by %llu, frees by %llu", U(s1.allocs - s0.allocs), U(s1.frees - s0.frees));
  for (int i = 0; i < asker.n; i++) hak_free(asker.ptrs[i]);
  uint64_t first_bytes = 0;
  for (int i = 0; i < SPLIT_FIRST; i++) {
    CHECK(verify(split_first[i], SPLIT_SIZE), "block %d kept its contents", i);
    first_bytes += hak_usable_size(split_first[i]);
    hak_free(split_first[i]);
  }
  CHECK(stats_now().bytes_in_use == s0.bytes_in_use - (uint64_t)SPLIT_N * 704 - first_bytes,
        "bytes_in_use %llu after everything was freed, want %llu", U(stats_now().bytes_in_use),
        U(s0.bytes_in_use - (uint64_t)SPLIT_N * 704 - first_bytes));
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- a split owner's blocks kept by a thread on the coarse classes ---------- */

/* The thread cache of 704 B blocks holds 46 (32 KiB, heap.c, tc_bound). */
enum { KEEP_BOUND = 32768 / 704, KEEP_ASKS = 64 };

struct keeper {
  uint64_t kept_bytes, live_bytes, usable_bytes;
  int reused_kept, bad;
};

/* Allocates one block of ASK_SIZE (its class opens, and with it the cache of
 * the 704 B blocks above, which its class table never asks for), frees the
 * owner's 704 B blocks, then allocates KEEP_ASKS more of ASK_SIZE; frees
 * everything. */
static void *keep_split_blocks(void *arg)
{
  struct keeper *k = arg;
  void *first = hak_malloc(ASK_SIZE);
  uint64_t cached0 = stats_now().thread_cache_bytes;
  for (int i = 0; i < SPLIT_N; i++) {
    k->bad += !verify(split_blocks[i], SPLIT_SIZE);
    hak_free(split_blocks[i]);
  }
  k->kept_bytes = stats_now().thread_cache_bytes - cached0;
  void *ptrs[KEEP_ASKS];
  hak_stats_t s0 = stats_now();
  for (int i = 0; i < KEEP_ASKS; i++) {
    ptrs[i] = hak_malloc(ASK_SIZE);
    fill(ptrs[i], ASK_SIZE);
    k->usable_bytes += hak_usable_size(ptrs[i]);
    k->reused_kept += is_one_of(ptrs[i], split_blocks, KEEP_BOUND); /* the first freed: those the cache kept */
  }
  k->live_bytes = stats_now().bytes_in_use - s0.bytes_in_use;
  for (int i = 0; i < KEEP_ASKS; i++) {
    k->bad += !verify(ptrs[i], ASK_SIZE);
    hak_free(ptrs[i]);
  }
  hak_free(first);
  return NULL;
}

/* A thread on the coarse classes that frees the blocks of a class its owner
 * split keeps a cache's worth of them (heap.c, cache_above) rather than send
 * each back to the owner, and hands them out for the class below before it
 * carves: each a whole 704 B block to the statistics. When it exits, they go
 * back to the owner, and nothing is left. */
static void coarse_thread_keeps_split_blocks(void *arg)
{
  (void)arg;
  owner_splits_its_class();
  hak_stats_t s0 = stats_now();
  static struct keeper keeper;
  pthread_t t;
  pthread_create(&t, NULL, keep_split_blocks, &keeper);
  pthread_join(t, NULL);
  CHECK(keeper.bad == 0, "%d blocks damaged while another thread held them", keeper.bad);
  CHECK(keeper.kept_bytes == (uint64_t)KEEP_BOUND * 704,
        "the freeing thread's cache grew by %llu bytes of the owner's 704 B blocks, want %d (its bound)",
        U(keeper.kept_bytes), KEEP_BOUND * 704);
  CHECK(keeper.reused_kept == KEEP_BOUND, "%d of the %d blocks its cache kept served its next %d requests of %d B, "
        "want all", keeper.reused_kept, KEEP_BOUND, KEEP_ASKS, ASK_SIZE);
  CHECK(keeper.live_bytes == keeper.usable_bytes, "bytes_in_use moved by %llu for blocks of %llu usable bytes",
        U(keeper.live_bytes), U(keeper.usable_bytes));
  hak_stats_t s1 = stats_now();
  CHECK(s1.bytes_in_use == s0.bytes_in_use - (uint64_t)SPLIT_N * 704, "bytes_in_use %llu, want %llu",
        U(s1.bytes_in_use), U(s0.bytes_in_use - (uint64_t)SPLIT_N * 704));
  CHECK(s1.allocs - s0.allocs == KEEP_ASKS + 1 && s1.frees - s0.frees == SPLIT_N + KEEP_ASKS + 1,
        "allocs moved by %llu, frees by %llu", U(s1.allocs - s0.allocs), U(s1.frees - s0.frees));
  for (int i = 0; i < SPLIT_FIRST; i++) hak_free(split_first[i]);
  hak_trim();
  CHECK(stats_now().bytes_in_use == 0, "bytes_in_use %llu after everything was freed", U(stats_now().bytes_in_use));
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- a free-only thread that adopts the owner's heap ------------------------ */

enum { ADOPT_N = 300 };
static void *adopt_blocks[ADOPT_N];

static void *alloc_and_exit(void *arg)
{
  (void)arg;
  for (size_t i = 0; i < ADOPT_N; i++) {
    adopt_blocks[i] = hak_malloc(64 + 64 * (i % 4));
    fill(adopt_blocks[i], 64 + 64 * (i % 4));
  }
  return NULL;
}

static void *free_adopted(void *arg)
{
  int *bad = arg;
  for (size_t i = 0; i < ADOPT_N; i++) {
    if (!verify(adopt_blocks[i], 64 + 64 * (i % 4))) ++*bad;
    hak_free(adopt_blocks[i]);
  }
  return NULL;
}

/* A thread whose first call is a free gets a heap for its batches: here the
 * abandoned heap of the thread that allocated the blocks, so every free is
 * local, none is kept or gathered, and the counts are exact. */
static void free_only_thread_adopts_owner(void *arg)
{
  (void)arg;
  batching_on();
  hak_stats_t s0 = stats_now();
  pthread_t t;
  pthread_create(&t, NULL, alloc_and_exit, NULL);
  pthread_join(t, NULL);
  int bad = 0;
  pthread_create(&t, NULL, free_adopted, &bad);
  pthread_join(t, NULL);
  hak_stats_t s1 = stats_now();
  CHECK(bad == 0, "%d blocks damaged before their free", bad);
  CHECK(s1.frees - s0.frees == ADOPT_N, "frees moved by %llu, want %d", U(s1.frees - s0.frees), ADOPT_N);
  CHECK(s1.remote_frees == s0.remote_frees, "remote_frees moved by %llu: the adopting thread owns the blocks",
        U(s1.remote_frees - s0.remote_frees));
  CHECK(s1.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu, want %llu", U(s1.bytes_in_use), U(s0.bytes_in_use));
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- an abandoned heap's inbox, collected when a thread adopts it ----------- */

enum { ADOPT_INBOX_N = 256 };
static void *adopt_inbox_blocks[ADOPT_INBOX_N];
static struct signal freer_started = SIGNAL_INIT, freer_may_free = SIGNAL_INIT;

static void *alloc_16k_and_exit(void *arg)
{
  (void)arg;
  for (size_t i = 0; i < ADOPT_INBOX_N; i++) adopt_inbox_blocks[i] = hak_malloc(16384);
  return NULL;
}

/* Takes a heap of its own, then, once the owner has exited, frees the
 * owner's blocks and exits: its exit sends them to the abandoned heap. */
static void *free_after_owner_exits(void *arg)
{
  (void)arg;
  hak_free(hak_malloc(48));
  signal_set(&freer_started);
  signal_wait(&freer_may_free, 0);
  for (size_t i = 0; i < ADOPT_INBOX_N; i++) hak_free(adopt_inbox_blocks[i]);
  return NULL;
}

/* A thread whose only call frees another heap's block: it adopts a heap for
 * its batches, nothing else of it runs, and it stays alive (its exit would
 * collect the heap) until let go. */
struct holder {
  void *block;
  struct signal adopted, may_go;
};
static void *free_one_and_hold(void *arg)
{
  struct holder *h = arg;
  hak_free(h->block);
  signal_set(&h->adopted);
  signal_wait(&h->may_go, 0);
  return NULL;
}

/* An owner allocates 256 blocks of 16 KiB and exits; another thread frees
 * them all and exits, which sends them to the abandoned heap's inbox.
 * Abandoned heaps are adopted newest first, so a thread that stays alive
 * takes the freer's, and the next one the owner's. Adopting it must take the
 * inbox and give the emptied slabs back (all but the current one and 8
 * spares), although that thread's only call is a free that refills nothing:
 * a heap abandoned by its thread's exit is adopted by collecting its slabs
 * alone (its caches are empty), and the inbox is part of that. */
static void adopting_thread_takes_the_inbox(void *arg)
{
  (void)arg;
  batching_on();
  void *mine[2] = {hak_malloc(32), hak_malloc(32)};
  hak_stats_t base = stats_now();
  pthread_t freer, owner, holder, adopter;
  pthread_create(&freer, NULL, free_after_owner_exits, NULL);
  signal_wait(&freer_started, 0);
  pthread_create(&owner, NULL, alloc_16k_and_exit, NULL);
  pthread_join(owner, NULL);
  hak_stats_t s0 = stats_now();
  CHECK(s0.slabs_in_use - base.slabs_in_use >= 20, "%llu slabs for %d blocks of 16 KiB, want at least 20",
        U(s0.slabs_in_use - base.slabs_in_use), ADOPT_INBOX_N);
  signal_set(&freer_may_free);
  pthread_join(freer, NULL);
  /* the freer's exit retires its own 48-byte slab; the owner's stay in use */
  CHECK(s0.slabs_in_use - stats_now().slabs_in_use <= 1, "slabs in use went from %llu to %llu before any thread "
        "adopted the owner's heap", U(s0.slabs_in_use), U(stats_now().slabs_in_use));
  uint64_t adopted = stats_now().heaps_adopted;
  struct holder first = {mine[0], SIGNAL_INIT, SIGNAL_INIT}, second = {mine[1], SIGNAL_INIT, SIGNAL_INIT};
  pthread_create(&holder, NULL, free_one_and_hold, &first); /* adopts the freer's heap */
  signal_wait(&first.adopted, 0);
  pthread_create(&adopter, NULL, free_one_and_hold, &second); /* adopts the owner's */
  signal_wait(&second.adopted, 0);
  hak_stats_t s1 = stats_now();
  CHECK(s1.heaps_adopted == adopted + 2, "heaps_adopted moved by %llu, want 2", U(s1.heaps_adopted - adopted));
  CHECK(s1.frees - base.frees == ADOPT_INBOX_N + 2 + 1, "frees moved by %llu, want %d", U(s1.frees - base.frees),
        ADOPT_INBOX_N + 3);
  CHECK(s1.slabs_in_use - base.slabs_in_use <= 9, "%llu slabs in use after the owner's heap was adopted (want its "
        "current 16 KiB slab and 8 spares)", U(s1.slabs_in_use - base.slabs_in_use));
  signal_set(&first.may_go);
  signal_set(&second.may_go);
  pthread_join(holder, NULL);
  pthread_join(adopter, NULL);
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- fewer blocks than a batch, spread over many slabs -------------------- */

static void *free_all(void *arg)
{
  struct handoff *h = arg;
  for (size_t i = 0; i < h->count; i++) {
    if (!verify(h->ptrs[i], 16 + (i * 37) % 3000)) h->bad++;
    hak_free(h->ptrs[i]);
  }
  return NULL;
}

/* A few blocks in each of many classes, sent when the freeing thread exits;
 * each round's blocks are reused by the next. */
static void many_classes(void *arg)
{
  (void)arg;
  batching_on();
  enum { N = 3000 };
  void **ptrs = malloc(N * sizeof *ptrs);
  for (size_t i = 0; i < N; i++) {
    ptrs[i] = hak_malloc(16 + (i * 37) % 3000);
    fill(ptrs[i], 16 + (i * 37) % 3000);
  }
  hak_stats_t s0 = stats_now();
  uint64_t live_first = 0;
  for (int round = 0; round < 4; round++) {
    struct handoff h = HANDOFF(ptrs, N);
    pthread_t t;
    pthread_create(&t, NULL, free_all, &h);
    pthread_join(t, NULL);
    CHECK(h.bad == 0, "round %d: %d blocks damaged before their remote free", round, h.bad);
    for (size_t i = 0; i < N; i++) {
      ptrs[i] = hak_malloc(16 + (i * 37) % 3000);
      fill(ptrs[i], 16 + (i * 37) % 3000);
    }
    uint64_t live = stats_now().superslabs_live;
    if (round == 0) live_first = live;
    CHECK(live <= live_first + live_first / 2 + 1, "round %d: %llu SuperSlabs live, %llu after the first: freed blocks not reused",
          round, U(live), U(live_first));
  }
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == 4 * N, "frees moved by %llu, want %d", U(s1.frees - s0.frees), 4 * N);
  CHECK(s1.remote_frees - s0.remote_frees == 4 * N, "remote_frees moved by %llu, want %d",
        U(s1.remote_frees - s0.remote_frees), 4 * N);
  for (size_t i = 0; i < N; i++) hak_free(ptrs[i]);
  free(ptrs);
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed and trimmed");
}

/* ---- every thread frees into every other ---------------------------------- */

enum { THREADS = 4, SLOTS = 2048, OPS = 100000 };
static _Atomic(unsigned char *) slot[SLOTS];
static atomic_size_t damaged;

static void *cross_worker(void *arg)
{
  uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(uintptr_t)arg + 7;
  for (int op = 0; op < OPS; op++) {
    uint64_t r = rng_next(&rng);
    unsigned char *p = atomic_exchange(&slot[r % SLOTS], NULL);
    if (p) {
      size_t size;
      memcpy(&size, p, sizeof size);
      if (!verify(p + 8, size - 8)) atomic_fetch_add(&damaged, 1);
      hak_free(p);
      continue;
    }
    size_t size = 16 + (size_t)(r >> 32) % (r % 16 == 0 ? 20000 : 1000);
    p = hak_malloc(size);
    memcpy(p, &size, sizeof size);
    fill(p + 8, size - 8);
    unsigned char *expected = NULL;
    if (!atomic_compare_exchange_strong(&slot[r % SLOTS], &expected, p)) hak_free(p);
  }
  return NULL;
}

static void cross_threads(void *arg)
{
  (void)arg;
  batching_on();
  hak_stats_t s0 = stats_now();
  pthread_t t[THREADS];
  for (intptr_t k = 0; k < THREADS; k++) pthread_create(&t[k], NULL, cross_worker, (void *)(k + 1));
  for (int k = 0; k < THREADS; k++) pthread_join(t[k], NULL);
  for (int i = 0; i < SLOTS; i++) {
    unsigned char *p = atomic_exchange(&slot[i], NULL);
    if (p) hak_free(p);
  }
  hak_stats_t s1 = stats_now();
  CHECK(atomic_load(&damaged) == 0, "%zu blocks damaged", atomic_load(&damaged));
  CHECK(s1.allocs - s0.allocs == s1.frees - s0.frees, "allocs moved by %llu, frees by %llu (all freed)",
        U(s1.allocs - s0.allocs), U(s1.frees - s0.frees));
  CHECK(s1.bytes_in_use == 0, "bytes_in_use %llu after every block was freed", U(s1.bytes_in_use));
  CHECK(s1.remote_frees > s0.remote_frees, "no remote frees counted");
  /* Exited threads flushed their batches; the trim collects the abandoned heaps. */
  hak_trim();
  hak_stats_t s2 = stats_now();
  CHECK(s2.superslabs_live == 0, "%llu SuperSlabs live after all threads exited and a trim: a batch was lost",
        U(s2.superslabs_live));
}

/* ---- the same block freed twice in a row by another thread ---------------- */

/* Runs fn(ptrs) in a thread of its own, which must make `frees` frees and
 * `repeats` repeated ones (reported, not counted as frees). */
static void free_in_thread(void *(*fn)(void *), void **ptrs, unsigned long long frees, unsigned long long repeats)
{
  hak_stats_t s0 = stats_now();
  pthread_t t;
  pthread_create(&t, NULL, fn, ptrs);
  pthread_join(t, NULL);
  hak_stats_t s1 = stats_now();
  CHECK(s1.invalid_frees - s0.invalid_frees == repeats, "invalid_frees moved by %llu, want %llu",
        U(s1.invalid_frees - s0.invalid_frees), repeats);
  CHECK(s1.frees - s0.frees == frees, "frees moved by %llu, want %llu (repeats are not frees)", U(s1.frees - s0.frees),
        frees);
}

static void *free_twice(void *arg)
{
  void **ptrs = arg;
  for (int i = 0; i < 3; i++) {
    hak_free(ptrs[i]);
    if (i == 1) hak_free(ptrs[i]); /* kept in the thread cache (64 B) or gathered (32 B), then freed again */
  }
  for (int i = 3; i < 200; i++) hak_free(ptrs[i]);
  hak_free(ptrs[199]); /* the head of a batch, freed again */
  return NULL;
}

/* arg: the block size, 32 (blocks gathered for the owner) or 64 (the first
 * 64 kept in the thread cache) */
static void double_free_in_a_row(void *arg)
{
  size_t size = (size_t)(uintptr_t)arg;
  batching_on();
  thread_cache_on();
  void *ptrs[200];
  for (int i = 0; i < 200; i++) ptrs[i] = hak_malloc(size);
  free_in_thread(free_twice, ptrs, 200, 2);
  /* Nothing was linked to itself: the blocks come back once each. */
  void *again[400];
  for (int i = 0; i < 400; i++) {
    again[i] = hak_malloc(size);
    fill(again[i], size);
  }
  int bad = 0;
  for (int i = 0; i < 400; i++) bad += !verify(again[i], size);
  CHECK(bad == 0, "%d blocks handed out twice after the repeated frees", bad);
  for (int i = 0; i < 400; i++) hak_free(again[i]);
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed");
}

/* Past the messages (the owner takes none meanwhile), a block freed twice
 * in a row is the head of the consumer's chain (10 blocks past them), or,
 * once a full chain went (64 past them), the top of its slab's remote list:
 * reported either way, and linked once. */
#define CHAINED_MAX (4096 * 64 + 64)
static int chained_n;
static void *free_all_last_twice(void *arg)
{
  void **ptrs = arg;
  for (int i = 0; i < chained_n; i++) hak_free(ptrs[i]);
  hak_free(ptrs[chained_n - 1]);
  return NULL;
}

static void double_free_in_a_row_chained(void *arg)
{
  chained_n = 4096 * 64 + (int)(uintptr_t)arg;
  batching_on();
  void *anchor = hak_malloc(16); /* keeps the slabs formatted: the repeat must meet the chain, not a released slab */
  void **ptrs = malloc(CHAINED_MAX * sizeof *ptrs);
  for (int i = 0; i < chained_n; i++) ptrs[i] = hak_malloc(16);
  free_in_thread(free_all_last_twice, ptrs, (unsigned long long)chained_n, 1);
  hak_trim();
  int back = 0;
  /* free on its slab, or its slab emptied and released (past the anchor's SuperSlab) */
  for (int i = 0; i < chained_n; i++) back += hak_block_state(ptrs[i]) != HAK_BLOCK_LIVE;
  CHECK(back == chained_n, "%d of %d blocks back at the owner", back, chained_n);
  /* linked once: as many allocations as were freed get distinct blocks, none handed out twice */
  void **again = malloc(CHAINED_MAX * sizeof *again);
  for (int i = 0; i < chained_n; i++) {
    again[i] = hak_malloc(16);
    fill(again[i], 16);
  }
  int bad = 0;
  for (int i = 0; i < chained_n; i++) bad += !verify(again[i], 16);
  CHECK(bad == 0, "%d blocks handed out twice after the repeated free", bad);
  for (int i = 0; i < chained_n; i++) hak_free(again[i]);
  hak_free(anchor);
  hak_trim();
  CHECK(stats_now().superslabs_live == 0, "SuperSlabs live after everything was freed");
  free(again);
  free(ptrs);
}

/* ---- the default: libhakmem.so pushes at once ----------------------------- */

static void default_is_immediate(void *arg)
{
  (void)arg;
  CHECK(strcmp(hak_config_get("HAKMEM_REMOTE_BATCH"), "auto") == 0, "default is auto");
  void *p = hak_malloc(32);
  struct handoff h = HANDOFF(&p, 1);
  pthread_t t;
  pthread_create(&t, NULL, consume_and_wait, &h);
  wait_freed(&h);
  /* the freeing thread is still alive: nothing waits in a batch */
  CHECK(hak_block_state(p) == HAK_BLOCK_FREE, "a remote free by libhakmem.so is visible to the owner at once");
  let_exit(&h, t);
}

int main(void)
{
  check_in_child("full batches", full_batches, NULL);
  check_in_child("full batches after the thread cache", full_batches_after_the_cache, NULL);
  check_in_child("nothing kept of a class never allocated", nothing_kept_of_a_class_never_allocated, NULL);
  check_in_child("partial batch", partial_batch, NULL);
  check_in_child("messages run out", messages_run_out, NULL);
  check_in_child("small blocks not kept", small_blocks_not_kept, NULL);
  check_in_child("batches of 16 KiB: 512 B", batches_of_16_kib, (void *)(uintptr_t)512);
  check_in_child("batches of 16 KiB: 1 KiB", batches_of_16_kib, (void *)(uintptr_t)1024);
  check_in_child("batches of 16 KiB: 2 KiB", batches_of_16_kib, (void *)(uintptr_t)2048);
  check_in_child("batches of 16 KiB: 4 KiB", batches_of_16_kib, (void *)(uintptr_t)4096);
  check_in_child("large blocks, batches by bytes", large_blocks, NULL);
  check_in_child("slabs emptied from the inbox released, 8 spares kept", inbox_emptied_slabs_released, NULL);
  check_in_child("free-only thread adopts the owner's heap", free_only_thread_adopts_owner, NULL);
  check_in_child("a thread adopting an exited owner's heap takes its inbox", adopting_thread_takes_the_inbox, NULL);
  check_in_child("inbox blocks held for the class allocated, sent back by another class", inbox_blocks_held, NULL);
  check_in_child("inbox blocks held for the class allocated, sent back by a trim", inbox_blocks_held, (void *)1);
  check_in_child("a waiting owner's inbox taken by a thread that needs slabs", idle_owner_inbox_taken, NULL);
  check_in_child("a waiting owner's inbox taken before pages are carved", idle_owner_inbox_taken, (void *)128);
  check_in_child("a waiting owner's inbox taken by a thread that formats no slab", idle_owner_inbox_taken,
                 (void *)16);
  check_in_child("a thread whose locks were elided takes a waiting owner's pools, then forks", elided_locker_takes_pools,
                 NULL);
  check_in_child("a waiting owner's split class serves the class below, freed there", idle_owner_split_class_taken,
                 NULL);
  check_in_child("a waiting owner's split class serves the class below, sent back at exit",
                 idle_owner_split_class_taken, (void *)1);
  check_in_child("a thread on the coarse classes keeps a split owner's blocks for the class below",
                 coarse_thread_keeps_split_blocks, NULL);
  check_in_child("many classes", many_classes, NULL);
  check_in_child("cross threads", cross_threads, NULL);
  check_in_child("double free in a row, gathered", double_free_in_a_row, (void *)(uintptr_t)32);
  check_in_child("double free in a row, kept", double_free_in_a_row, (void *)(uintptr_t)64);
  check_in_child("double free in a row, chained", double_free_in_a_row_chained, (void *)(uintptr_t)10);
  check_in_child("double free in a row, chain sent", double_free_in_a_row_chained, (void *)(uintptr_t)64);
  check_in_child("default is immediate", default_is_immediate, NULL);
  return check_finish();
}
