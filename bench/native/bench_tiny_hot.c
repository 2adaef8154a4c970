/* bench_tiny_hot ITERS SIZE [BATCH]
 *
 * The allocator's hottest path: ITERS times malloc(SIZE), write one byte,
 * free. With BATCH (1..64, default 1), BATCH mallocs, then the BATCH frees in
 * the same order, ITERS / BATCH times (the 16-then-16 pattern with BATCH 16).
 * The loop is kept minimal because it is also measured under
 * `valgrind --tool=callgrind`, where instructions / ITERS approximates the
 * cost of one malloc+free pair. One operation is one malloc+free pair.
 *
 * Output: Throughput = N ops/s [iter=ITERS size=SIZE] time=T.TTTs
 *         (with BATCH > 1: [iter=ITERS size=SIZE batch=BATCH])
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Every block escapes through this sink, so the compiler cannot drop the
 * malloc/free pair; the byte is written through a volatile lvalue so the
 * store is kept as well. */
static void *volatile sink;

static void usage(void) {
  fprintf(stderr,
          "usage: bench_tiny_hot ITERS SIZE [BATCH]\n"
          "  ITERS  malloc+free pairs, 1..%d\n"
          "  SIZE   bytes per block, 1..%d\n"
          "  BATCH  blocks allocated before they are freed, 1..64 (default 1)\n",
          INT_MAX, 1 << 30);
  exit(2);
}

static long parse_long(const char *s, long min, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) usage();
  return v;
}

/* BATCH mallocs, then BATCH frees in the same order, rounds times. */
static int run_batched(int rounds, int batch, int size) {
  char *blocks[64] = {0};
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < batch; k++) {
      char *p = malloc((size_t)size);
      if (p == NULL) {
        fprintf(stderr, "bench_tiny_hot: malloc(%d) failed in round %d\n", size, r);
        return 1;
      }
      *(volatile char *)p = (char)k;
      blocks[k] = p;
    }
    sink = blocks[batch - 1];
    for (int k = 0; k < batch; k++) free(blocks[k]);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) usage();
  int iters = (int)parse_long(argv[1], 1, INT_MAX);
  int size = (int)parse_long(argv[2], 1, 1 << 30);
  int batch = argc == 4 ? (int)parse_long(argv[3], 1, 64) : 1;

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (batch > 1) {
    iters -= iters % batch;
    if (iters == 0) usage();
    if (run_batched(iters / batch, batch, size)) return 1;
  } else {
    for (int i = 0; i < iters; i++) {
      char *p = malloc((size_t)size);
      if (p == NULL) {
        fprintf(stderr, "bench_tiny_hot: malloc(%d) failed at iteration %d\n", size, i);
        return 1;
      }
      *(volatile char *)p = (char)i;
      sink = p;
      free(p);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);

  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  if (batch > 1)
    printf("Throughput = %.0f ops/s [iter=%d size=%d batch=%d] time=%.3fs\n", (double)iters / secs, iters, size, batch, secs);
  else
    printf("Throughput = %.0f ops/s [iter=%d size=%d] time=%.3fs\n", (double)iters / secs, iters, size, secs);
  return 0;
}
