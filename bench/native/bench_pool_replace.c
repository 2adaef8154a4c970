/* bench_pool_replace THREADS ITERS POOL SEED
 *
 * Random-size pool replacement (the pattern of alloc-test): each thread keeps
 * a pool of POOL blocks and, ITERS times, frees a random one and allocates a
 * replacement of a random size: 3 in 4 up to 128 bytes, 1 in 5 up to 1 KiB,
 * the rest up to 4 KiB. Each new block is written at both ends. All frees are
 * local. One operation is one replacement (a free and a malloc); throughput
 * counts all threads.
 *
 * Output: Throughput = N ops/s [threads=T iter=ITERS pool=POOL] time=T.TTTs
 */
#include <pthread.h>
#define BENCH_NAME "bench_pool_replace"
#define BENCH_USAGE "THREADS ITERS POOL SEED\n  THREADS 1..64, ITERS 1..2000000000 per thread, POOL 1..1048576 blocks per thread, SEED nonzero"
#include "bench_common.h"

typedef struct {
  long iters, pool;
  uint32_t seed;
} worker;

static size_t random_size(uint32_t r) {
  uint32_t pick = r % 20, fuzz = r >> 8;
  if (pick < 15) return 8 + fuzz % 121;   /* 8..128 */
  if (pick < 19) return 129 + fuzz % 896; /* ..1024 */
  return 1025 + fuzz % 3072;              /* ..4096 */
}

static void *run(void *arg) {
  worker *w = arg;
  uint32_t rng = w->seed;
  char **pool = xcalloc((size_t)w->pool, sizeof *pool);
  for (long i = 0; i < w->pool; i++) pool[i] = malloc_touched(random_size(xorshift32(&rng)), 1);
  for (long i = 0; i < w->iters; i++) {
    uint32_t idx = xorshift32(&rng) % (uint32_t)w->pool;
    free(pool[idx]);
    pool[idx] = malloc_touched(random_size(xorshift32(&rng)), (char)i);
  }
  for (long i = 0; i < w->pool; i++) free(pool[i]);
  free(pool);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) usage();
  int threads = (int)parse_long(argv[1], 1, 64);
  long iters = parse_long(argv[2], 1, 2000000000);
  long pool = parse_long(argv[3], 1, 1 << 20);
  uint32_t seed = (uint32_t)parse_long(argv[4], 1, UINT32_MAX);
  pthread_t tid[64];
  worker w[64];
  for (int t = 0; t < threads; t++) w[t] = (worker){iters, pool, thread_seed(seed, t)};
  double t0 = now_seconds();
  start_threads(tid, threads, run, w, sizeof w[0]);
  join_threads(tid, threads);
  double secs = now_seconds() - t0;
  printf("Throughput = %.0f ops/s [threads=%d iter=%ld pool=%ld] time=%.3fs\n", (double)iters * threads / secs,
         threads, iters, pool, secs);
  return 0;
}
