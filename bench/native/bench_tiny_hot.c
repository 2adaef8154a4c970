/* bench_tiny_hot ITERS SIZE
 *
 * The allocator's hottest path: ITERS times malloc(SIZE), write one byte,
 * free. The loop is kept minimal because it is also measured under
 * `valgrind --tool=callgrind`, where instructions / ITERS approximates the
 * cost of one malloc+free pair. One operation is one malloc+free pair.
 *
 * Output: Throughput = N ops/s [iter=ITERS size=SIZE] time=T.TTTs
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
          "usage: bench_tiny_hot ITERS SIZE\n"
          "  ITERS  malloc+free pairs, 1..%d\n"
          "  SIZE   bytes per block, 1..%d\n",
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

int main(int argc, char **argv) {
  if (argc != 3) usage();
  int iters = (int)parse_long(argv[1], 1, INT_MAX);
  int size = (int)parse_long(argv[2], 1, 1 << 30);

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
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
  clock_gettime(CLOCK_MONOTONIC, &t1);

  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("Throughput = %.0f ops/s [iter=%d size=%d] time=%.3fs\n", (double)iters / secs, iters, size, secs);
  return 0;
}
