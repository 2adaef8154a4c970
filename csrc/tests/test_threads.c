/* test_threads: frees from other threads (remote frees) are counted, their
 * blocks are reused by the owner, threads that exit hand their heaps back,
 * and a multi-threaded random workload with cross-thread frees keeps every
 * block's contents. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "check.h"

#define U(x) ((unsigned long long)(x))

/* ---- producer / consumer ------------------------------------------------- */

struct batch { void **ptrs; size_t *sizes; size_t count; size_t bad; };

static size_t mixed_size(uint64_t *rng)
{
  uint64_t r = rng_next(rng);
  return (r % 8 == 0) ? 16 + (size_t)(r >> 8) % 8000 : 16 + (size_t)(r >> 8) % 1024;
}

/* The consumer verifies every block the producer filled and frees it: all
 * these frees are remote (the producer's heap owns the slabs). */
static void *consumer(void *arg)
{
  struct batch *b = arg;
  for (size_t i = 0; i < b->count; i++) {
    if (!verify(b->ptrs[i], b->sizes[i])) b->bad++;
    hak_free(b->ptrs[i]);
  }
  return NULL;
}

/* The main thread is the producer and stays alive throughout, so it owns
 * every slab; each round a fresh consumer thread frees the whole batch. */
static void producer_consumer(void *arg)
{
  (void)arg;
  enum { N = 50000, ROUNDS = 12 };
  struct batch b = {malloc(N * sizeof(void *)), malloc(N * sizeof(size_t)), N, 0};
  uint64_t rng = 99;
  uint64_t live_after[ROUNDS];
  hak_stats_t s0 = stats_now();
  for (int round = 0; round < ROUNDS; round++) {
    for (size_t i = 0; i < N; i++) {
      b.sizes[i] = mixed_size(&rng);
      b.ptrs[i] = hak_malloc(b.sizes[i]);
      if (!b.ptrs[i]) { CHECK(0, "hak_malloc(%zu) = NULL", b.sizes[i]); b.sizes[i] = 0; continue; }
      fill(b.ptrs[i], b.sizes[i]);
    }
    live_after[round] = stats_now().superslabs_live;
    pthread_t t;
    pthread_create(&t, NULL, consumer, &b);
    pthread_join(t, NULL);
    if (round == 0) {
      hak_stats_t s1 = stats_now();
      CHECK(s1.remote_frees - s0.remote_frees == N, "remote_frees moved by %llu for %d frees by another thread",
            U(s1.remote_frees - s0.remote_frees), N);
      CHECK(s1.frees - s0.frees == N, "frees moved by %llu, want %d (the consumer has exited)",
            U(s1.frees - s0.frees), N);
    }
  }
  CHECK(b.bad == 0, "%zu blocks arrived damaged at the consumer", b.bad);
  /* Each round holds N blocks at its peak. If remotely freed blocks were
   * never collected, every round would need as many new SuperSlabs as the
   * first. */
  uint64_t first = live_after[0] > live_after[1] ? live_after[0] : live_after[1];
  CHECK(live_after[ROUNDS - 1] <= first + first / 2 + 2,
        "superslabs_live keeps growing: %llu after round 1, %llu after round 2, %llu after round %d",
        U(live_after[0]), U(live_after[1]), U(live_after[ROUNDS - 1]), ROUNDS);
  free(b.ptrs);
  free(b.sizes);
}

/* ---- a thread that exits with live blocks -------------------------------- */

static void *allocate_and_exit(void *arg)
{
  struct batch *b = arg;
  uint64_t rng = 5;
  for (size_t i = 0; i < b->count; i++) {
    b->sizes[i] = mixed_size(&rng);
    b->ptrs[i] = hak_malloc(b->sizes[i]);
    if (b->ptrs[i]) fill(b->ptrs[i], b->sizes[i]);
    else b->sizes[i] = 0;
  }
  return NULL;
}

static void exited_owner(void *arg)
{
  (void)arg;
  enum { N = 20000 };
  struct batch b = {malloc(N * sizeof(void *)), malloc(N * sizeof(size_t)), N, 0};
  hak_stats_t s0 = stats_now();
  pthread_t t;
  pthread_create(&t, NULL, allocate_and_exit, &b);
  pthread_join(t, NULL);
  hak_stats_t s1 = stats_now();
  CHECK(s1.allocs - s0.allocs == N, "allocs of an exited thread: %llu, want %d", U(s1.allocs - s0.allocs), N);
  CHECK(s1.heaps_abandoned > s0.heaps_abandoned, "a thread exited with live blocks: heaps_abandoned did not move");
  CHECK(s1.threads_started > s0.threads_started, "threads_started did not move");
  /* Its blocks are intact and can be freed by the survivor. */
  consumer(&b);
  CHECK(b.bad == 0, "%zu blocks of the exited thread damaged", b.bad);
  hak_stats_t s2 = stats_now();
  CHECK(s2.frees - s1.frees == N, "frees moved by %llu, want %d", U(s2.frees - s1.frees), N);
  /* And the memory is not lost: allocating the same again does not need
   * much more fresh memory. */
  for (int round = 0; round < 3; round++) {
    b.bad = 0;
    pthread_create(&t, NULL, allocate_and_exit, &b);
    pthread_join(t, NULL);
    consumer(&b);
    CHECK(b.bad == 0, "round %d: %zu blocks damaged", round, b.bad);
  }
  hak_stats_t s3 = stats_now();
  CHECK(s3.superslabs_live + s3.superslabs_cached <= 2 * (s1.superslabs_live + s1.superslabs_cached) + 2,
        "SuperSlabs live+cached grew from %llu to %llu over 3 more rounds of the same work",
        U(s1.superslabs_live + s1.superslabs_cached), U(s3.superslabs_live + s3.superslabs_cached));
  free(b.ptrs);
  free(b.sizes);
}

/* ---- random mixed operations on shared slots ------------------------------ */

enum { SLOTS = 4096, THREADS = 4, OPS = 200000 };
static _Atomic(unsigned char *) shared_slot[SLOTS];
static atomic_size_t damaged, null_results;

/* Block layout: the first 8 bytes hold the size, the rest is the pattern for
 * (block, size). Large blocks are checked at both ends only, to keep the test
 * quick. */
static void tag_block(unsigned char *p, size_t size)
{
  memcpy(p, &size, sizeof size);
  size_t body = size - 8;
  if (body <= 4096) {
    fill_key(p + 8, body, p);
  } else {
    fill_key(p + 8, 2048, p);
    fill_key(p + size - 2048, 2048, p + 1);
  }
}

static int block_ok(const unsigned char *p)
{
  size_t size;
  memcpy(&size, p, sizeof size);
  if (size < 16 || size > (1 << 20)) return 0;
  size_t body = size - 8;
  if (body <= 4096) return verify_key(p + 8, body, body, p) == (size_t)-1;
  return verify_key(p + 8, 2048, 2048, p) == (size_t)-1 && verify_key(p + size - 2048, 2048, 2048, p + 1) == (size_t)-1;
}

static void *random_worker(void *arg)
{
  uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(uintptr_t)arg + 1;
  for (int op = 0; op < OPS; op++) {
    uint64_t r = rng_next(&rng);
    size_t i = r % SLOTS;
    /* Take whatever is in the slot; it may have been allocated by any thread. */
    unsigned char *p = atomic_exchange(&shared_slot[i], NULL);
    if (p) {
      if (!block_ok(p)) atomic_fetch_add(&damaged, 1);
      hak_free(p);
      continue;
    }
    size_t size = (r >> 20) % 64 == 0 ? 8192 + (size_t)(r >> 32) % 300000 : 16 + (size_t)(r >> 32) % 2000;
    p = hak_malloc(size);
    if (!p) { atomic_fetch_add(&null_results, 1); continue; }
    tag_block(p, size);
    unsigned char *expected = NULL;
    if (!atomic_compare_exchange_strong(&shared_slot[i], &expected, p)) hak_free(p);
  }
  return NULL;
}

static void random_cross_thread(void *arg)
{
  (void)arg;
  hak_stats_t s0 = stats_now();
  pthread_t t[THREADS];
  for (intptr_t k = 0; k < THREADS; k++) pthread_create(&t[k], NULL, random_worker, (void *)(k + 1));
  for (int k = 0; k < THREADS; k++) pthread_join(t[k], NULL);
  for (int i = 0; i < SLOTS; i++) {
    unsigned char *p = atomic_exchange(&shared_slot[i], NULL);
    if (!p) continue;
    if (!block_ok(p)) atomic_fetch_add(&damaged, 1);
    hak_free(p);
  }
  hak_stats_t s1 = stats_now();
  CHECK(atomic_load(&damaged) == 0, "%zu blocks damaged", atomic_load(&damaged));
  CHECK(atomic_load(&null_results) == 0, "%zu NULL results", atomic_load(&null_results));
  CHECK(s1.allocs - s0.allocs == s1.frees - s0.frees, "allocs moved by %llu, frees by %llu (all freed)",
        U(s1.allocs - s0.allocs), U(s1.frees - s0.frees));
  CHECK(s1.remote_frees > s0.remote_frees, "no remote frees counted in a cross-thread workload");
  CHECK(s1.threads_started - s0.threads_started >= THREADS, "threads_started moved by %llu",
        U(s1.threads_started - s0.threads_started));
  /* Everything is free again: the heap still hands out good blocks. */
  void *p = hak_malloc(100);
  fill(p, 100);
  CHECK(verify(p, 100), "block after the threaded run");
  hak_free(p);
}

/* ---- fork while other threads allocate ------------------------------------ */
/* A program that forks while its threads are inside the allocator must get a
 * child whose allocator works (no lock left held by a thread that does not
 * exist in the child). */
static atomic_int churn_stop;

static void *churn(void *arg)
{
  (void)arg;
  uint64_t rng = 3;
  void *held[64] = {0};
  while (!atomic_load(&churn_stop)) {
    size_t i = rng_next(&rng) % 64;
    hak_free(held[i]);
    uint64_t r = rng_next(&rng);
    held[i] = hak_malloc(r % 8 == 0 ? 9000 + r % 100000 : 16 + r % 2000);
    if (r % 97 == 0) hak_trim();
  }
  for (int i = 0; i < 64; i++) hak_free(held[i]);
  return NULL;
}

/* The forked child's own work: allocate, verify, free. Exit code 0 = fine. */
static void forked_child_work(void)
{
  /* A deadlocked child is killed and reported by the parent; the work itself
   * takes milliseconds. */
  alarm(check_scaled(5));
  void *v[2000];
  for (int i = 0; i < 2000; i++) {
    size_t n = 16 + (size_t)i * 7 % 3000 + (i % 100 == 0 ? 20000 : 0);
    v[i] = hak_malloc(n);
    if (!v[i]) _exit(2);
    fill(v[i], n);
  }
  for (int i = 0; i < 2000; i++) {
    size_t n = 16 + (size_t)i * 7 % 3000 + (i % 100 == 0 ? 20000 : 0);
    if (!verify(v[i], n)) _exit(3);
    hak_free(v[i]);
  }
  hak_trim();
  _exit(0);
}

/* Forks repeatedly while two threads allocate, free and trim. The allocator is
 * initialised first, so this is about locks held across fork(). */
static void fork_with_threads(void *arg)
{
  (void)arg;
  hak_free(hak_malloc(16));
  pthread_t t[2];
  for (int k = 0; k < 2; k++) pthread_create(&t[k], NULL, churn, NULL);
  int failed = 0;
  for (int round = 0; round < 20; round++) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) forked_child_work();
    int st = 0;
    waitpid(pid, &st, 0);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
      char how[96];
      check_describe_status(st, how, sizeof how);
      CHECK(0, "fork %d while threads allocate: child %s", round, how);
      if (++failed >= 3) break;
    }
  }
  atomic_store(&churn_stop, 1);
  for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
  CHECK(failed == 0, "%d forked children failed", failed);
}

/* The race of a fork() with another thread's first allocation, which
 * initialises the allocator: the child must not inherit a half-finished
 * initialisation it waits on forever. Each attempt needs an uninitialised
 * process, so each runs in its own fork()ed child; the race is not hit every
 * time, hence the attempts. */
static atomic_int forked; /* set by the parent once fork() has returned */

static void *first_allocation(void *arg)
{
  (void)arg;
  for (int i = 0; i < 1000; i++) hak_free(hak_malloc(64));
  /* Stay alive until the fork is done: a thread that had already finished
   * when fork() copied the process would be an unjoined thread in the child
   * (ThreadSanitizer reports it as a leak). */
  while (!atomic_load(&forked)) sched_yield();
  return NULL;
}

static void fork_during_init_attempt(void *arg)
{
  (void)arg;
  pthread_t t;
  pthread_create(&t, NULL, first_allocation, NULL);
  pid_t pid = fork();
  if (pid == 0) forked_child_work();
  atomic_store(&forked, 1);
  int st = 0;
  waitpid(pid, &st, 0);
  pthread_join(t, NULL);
  char how[96];
  check_describe_status(st, how, sizeof how);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "fork() while another thread made the first allocation: child %s (alarm = hung in initialisation)", how);
}

static void fork_during_init(void)
{
  for (int attempt = 0; attempt < 40; attempt++) { /* ~10% of attempts hit the window */
    long before = check_failures;
    check_in_child("fork during first allocation", fork_during_init_attempt, NULL);
    if (check_failures != before) break; /* one report is enough */
  }
}

int main(void)
{
  check_timeout(300);
  check_in_child("producer/consumer", producer_consumer, NULL);
  check_in_child("exited owner", exited_owner, NULL);
  check_in_child("random cross-thread", random_cross_thread, NULL);
  check_in_child("fork with threads", fork_with_threads, NULL);
  fork_during_init();
  return check_finish();
}
