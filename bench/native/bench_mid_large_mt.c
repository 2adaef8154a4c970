/* bench_mid_large_mt THREADS ITERS WS SEED
 *
 * The seeds' mid/large workload: each thread owns WS slots and, ITERS times,
 * picks a random slot: frees it if taken, else allocates 8, 16 or 32 KiB plus
 * up to 2 KiB of fuzz (8..34 KiB) and writes both ends. One operation is one
 * malloc or free; throughput counts all threads.
 *
 * Output: Throughput = N ops/s [threads=T iter=ITERS ws=WS] time=T.TTTs
 */
#include <pthread.h>
#define BENCH_NAME "bench_mid_large_mt"
#define BENCH_USAGE "THREADS ITERS WS SEED\n  THREADS 1..256, ITERS 1..2147483647 per thread, WS 1..1048576 slots per thread, SEED nonzero"
#include "bench_common.h"

typedef struct {
  long iters, ws;
  uint32_t seed;
} worker_args;

static void *worker(void *arg) {
  worker_args *a = arg;
  char **slots = calloc((size_t)a->ws, sizeof *slots);
  if (!slots) {
    fprintf(stderr, "bench_mid_large_mt: out of memory for slots\n");
    exit(1);
  }
  uint32_t rng = a->seed;
  for (long i = 0; i < a->iters; i++) {
    uint32_t r = xorshift32(&rng);
    long idx = (long)(r % (uint32_t)a->ws);
    if (slots[idx]) {
      free(slots[idx]);
      slots[idx] = NULL;
    } else {
      size_t sz = ((size_t)1 << (13 + (r >> 8) % 3)) + (r & 0x7FF);
      char *p = malloc(sz);
      if (!p) {
        fprintf(stderr, "bench_mid_large_mt: malloc(%zu) failed\n", sz);
        exit(1);
      }
      p[0] = (char)i;
      p[sz - 1] = (char)i;
      slots[idx] = p;
    }
  }
  for (long i = 0; i < a->ws; i++) free(slots[i]);
  free(slots);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) usage();
  int threads = (int)parse_long(argv[1], 1, 256);
  long iters = parse_long(argv[2], 1, INT_MAX);
  long ws = parse_long(argv[3], 1, 1 << 20);
  uint32_t seed = (uint32_t)parse_long(argv[4], 1, UINT32_MAX);
  pthread_t tid[256];
  worker_args args[256];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int t = 0; t < threads; t++) {
    args[t] = (worker_args){iters, ws, seed + (uint32_t)t * 0x9E3779B9u};
    if (!args[t].seed) args[t].seed = 1;
    if (pthread_create(&tid[t], NULL, worker, &args[t])) {
      fprintf(stderr, "bench_mid_large_mt: pthread_create failed\n");
      return 1;
    }
  }
  for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("Throughput = %.0f ops/s [threads=%d iter=%ld ws=%ld] time=%.3fs\n", (double)iters * threads / secs,
         threads, iters, ws, secs);
  return 0;
}
