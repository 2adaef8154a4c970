/* bench_pass_random THREADS ITERS SEED
 *
 * Blocks passed between threads at random sizes (the pattern of rptest): each
 * thread keeps 512 blocks of 16 B..16 KiB (log-uniform: every power-of-two
 * band is as likely) and, ITERS times, replaces a random one. Every 16
 * iterations it sends 16 of its blocks to a random other thread's inbox (a
 * lock-free list linked through the blocks) and allocates replacements, and
 * frees whatever arrived in its own inbox: those frees are remote. A sender
 * waits while its target has more than 512 blocks in flight. One
 * operation is one replacement (a free and a malloc); the replacements after
 * a send count too. Throughput counts all threads.
 *
 * Output: Throughput = N ops/s [threads=T iter=ITERS] time=T.TTTs
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#define BENCH_NAME "bench_pass_random"
#define BENCH_USAGE "THREADS ITERS SEED\n  THREADS 1..64, ITERS 1..2000000000 per thread, SEED nonzero"
#include "bench_common.h"

#define KEEP 512
#define SEND_EVERY 16
#define SEND 16
/* Blocks in flight to one thread before its senders wait. At 4096, a
 * receiver whose CPU lagged (a shared 2-core VM) let its inbox fill to the
 * limit, about 10 MB at the mean block of 2.45 KB (random_size: 1.5 times
 * the mean band), so peak RSS measured that backlog rather than the
 * allocator, and varied run to run with it (hakmem 17 to 28 MB, mimalloc 9
 * to 21). At 512 (1.3 MB) peak RSS held: hakmem 16.6 to 18.1 MB, mimalloc
 * 8.4 to 9.1, tcmalloc 28 to 35. */
#define INBOX_LIMIT 512

typedef struct block { struct block *next; } block;

typedef struct {
  _Alignas(64) _Atomic(block *) inbox;
  _Atomic long in_flight; /* blocks sent to this thread and not yet freed */
  long iters, ops;
  uint32_t seed;
  int id;
} worker;

static int threads;
static worker *workers;
static _Atomic int finished; /* threads past their loop: an inbox is drained for the last time when all are */

static size_t random_size(uint32_t r) {
  size_t band = (size_t)16 << (r % 10); /* 16 .. 8192 */
  return band + (r >> 8) % band;        /* band .. 2*band - 1: up to 16 KiB - 1 */
}

static void drain(worker *w) {
  long n = 0;
  for (block *b = atomic_exchange_explicit(&w->inbox, NULL, memory_order_acquire), *next; b; b = next) {
    next = b->next;
    free(b);
    n++;
  }
  atomic_fetch_sub_explicit(&w->in_flight, n, memory_order_relaxed);
}

/* Flow control: a thread that runs ahead (the other is descheduled) waits,
 * freeing what it is sent meanwhile, instead of piling blocks into an inbox. */
static void send_chain(worker *from, worker *to, block *first, block *last) {
  while (to != from && atomic_load_explicit(&to->in_flight, memory_order_relaxed) > INBOX_LIMIT) {
    drain(from);
    sched_yield();
  }
  atomic_fetch_add_explicit(&to->in_flight, SEND, memory_order_relaxed);
  block *old = atomic_load_explicit(&to->inbox, memory_order_relaxed);
  do {
    last->next = old;
  } while (!atomic_compare_exchange_weak_explicit(&to->inbox, &old, first, memory_order_release, memory_order_relaxed));
}

static void *run(void *arg) {
  worker *w = arg;
  uint32_t rng = w->seed;
  char *keep[KEEP];
  for (int i = 0; i < KEEP; i++) keep[i] = malloc_touched(random_size(xorshift32(&rng)), 1);
  for (long i = 0; i < w->iters; i++) {
    uint32_t x = xorshift32(&rng);
    uint32_t idx = x % KEEP;
    free(keep[idx]);
    keep[idx] = malloc_touched(random_size(xorshift32(&rng)), (char)i);
    w->ops++;
    if (i % SEND_EVERY != SEND_EVERY - 1) continue;
    worker *to = &workers[threads == 1 ? 0 : (w->id + 1 + (int)((x >> 16) % (uint32_t)(threads - 1))) % threads];
    block *first = NULL, *last = NULL;
    uint32_t at = xorshift32(&rng) % KEEP; /* SEND consecutive slots from a random one */
    for (int k = 0; k < SEND; k++) {
      uint32_t slot = (at + (uint32_t)k) % KEEP;
      block *b = (block *)keep[slot];
      b->next = first;
      first = b;
      if (!last) last = b;
      keep[slot] = malloc_touched(random_size(xorshift32(&rng)), (char)k);
    }
    w->ops += SEND;
    send_chain(w, to, first, last);
    drain(w);
  }
  /* Keep draining until every thread is done: a sender may be waiting on this inbox. */
  atomic_fetch_add(&finished, 1);
  while (atomic_load(&finished) < threads) {
    drain(w);
    sched_yield();
  }
  drain(w);
  for (int i = 0; i < KEEP; i++) free(keep[i]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) usage();
  threads = (int)parse_long(argv[1], 1, 64);
  long iters = parse_long(argv[2], 1, 2000000000);
  uint32_t seed = (uint32_t)parse_long(argv[3], 1, UINT32_MAX);
  workers = xcalloc((size_t)threads, sizeof *workers);
  for (int t = 0; t < threads; t++) {
    workers[t].iters = iters;
    workers[t].seed = thread_seed(seed, t);
    workers[t].id = t;
  }
  pthread_t tid[64];
  double t0 = now_seconds();
  start_threads(tid, threads, run, workers, sizeof *workers);
  join_threads(tid, threads);
  double secs = now_seconds() - t0;
  long ops = 0;
  for (int t = 0; t < threads; t++) ops += workers[t].ops;
  free(workers);
  printf("Throughput = %.0f ops/s [threads=%d iter=%ld] time=%.3fs\n", (double)ops / secs, threads, iters, secs);
  return 0;
}
