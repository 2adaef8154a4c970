/* bench_large_mt THREADS ITERS MIN_BYTES MAX_BYTES SEED
 *
 * Threads allocating large buffers at once (I/O buffers, decoded images, the
 * arrays of parallel workers): each thread keeps 8 live blocks of MIN_BYTES..
 * MAX_BYTES (uniform) and, ITERS times, frees a random one and allocates a
 * new one in its place, writing its first and last bytes. Sizes differ from
 * one request to the next, so a freed block rarely fits the next request
 * exactly: the allocator's page heap, not a per-thread stash of the last
 * block, serves most of them. One operation is one replacement (a free and an
 * allocation); throughput counts all threads.
 *
 * Output: Throughput = N ops/s [threads=T iter=ITERS min=MIN max=MAX] time=T.TTTs
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BENCH_NAME "bench_large_mt"
#define BENCH_USAGE \
  "THREADS ITERS MIN_BYTES MAX_BYTES SEED\n" \
  "  THREADS 1..64, ITERS 1..2000000000 per thread, 16 <= MIN_BYTES < MAX_BYTES <= 1073741824, SEED nonzero"

#include "bench_common.h"

#define LIVE 8

typedef struct {
  _Alignas(64) long iters;
  size_t min, span;
  uint32_t seed;
} worker;

static void *run(void *arg) {
  worker *w = arg;
  uint32_t rng = w->seed;
  char *live[LIVE] = {0};
  for (long i = 0; i < w->iters; i++) {
    uint32_t x = xorshift32(&rng);
    unsigned slot = x % LIVE;
    free(live[slot]);
    live[slot] = malloc_touched(w->min + (size_t)xorshift32(&rng) % w->span, (char)i);
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 6) usage();
  int threads = (int)parse_long(argv[1], 1, 64);
  long iters = parse_long(argv[2], 1, 2000000000);
  size_t min = (size_t)parse_long(argv[3], 16, 1L << 30), max = (size_t)parse_long(argv[4], 17, 1L << 30);
  uint32_t seed = (uint32_t)parse_long(argv[5], 1, UINT32_MAX);
  if (min >= max) usage();
  worker *workers = xcalloc((size_t)threads, sizeof *workers);
  for (int t = 0; t < threads; t++) workers[t] = (worker){.iters = iters, .min = min, .span = max - min, .seed = thread_seed(seed, t)};
  pthread_t tid[64];
  double t0 = now_seconds();
  start_threads(tid, threads, run, workers, sizeof *workers);
  join_threads(tid, threads);
  double secs = now_seconds() - t0;
  free(workers);
  printf("Throughput = %.0f ops/s [threads=%d iter=%ld min=%zu max=%zu] time=%.3fs\n", (double)threads * (double)iters / secs,
         threads, iters, min, max, secs);
  return 0;
}
