/* bench_realloc_growth MODE MAX_BYTES CHAINS
 *
 * A buffer grown by realloc, as a string builder or a vector does: each chain
 * starts with malloc(16) and grows the block to MAX_BYTES, either doubling
 * (MODE double) or 64 bytes at a time (MODE step64), writing every new byte
 * after each growth (so page faults should be close to the pages written),
 * then frees it. One operation is one realloc call.
 *
 * Output: Throughput = N ops/s [mode=M max=MAX chains=C per_chain_us=U] time=T.TTTs
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "bench_realloc_growth"
#define BENCH_USAGE \
  "MODE MAX_BYTES CHAINS\n" \
  "  MODE double or step64, MAX_BYTES 32..17179869184, CHAINS 1..2147483647"

#include "bench_common.h"

int main(int argc, char **argv) {
  if (argc != 4) usage();
  int doubling = strcmp(argv[1], "double") == 0;
  if (!doubling && strcmp(argv[1], "step64") != 0) usage();
  size_t max = (size_t)parse_long(argv[2], 32, (long)1 << 34);
  long chains = parse_long(argv[3], 1, INT_MAX);
  struct timespec t0, t1;
  long ops = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long c = 0; c < chains; c++) {
    size_t size = 16;
    char *p = malloc(size);
    if (!p) {
      fprintf(stderr, "bench_realloc_growth: malloc(16) failed\n");
      return 1;
    }
    memset(p, (int)c, size);
    while (size < max) {
      size_t next = doubling ? size * 2 : size + 64;
      if (next > max) next = max;
      char *q = realloc(p, next);
      if (!q) {
        fprintf(stderr, "bench_realloc_growth: realloc(%zu) failed\n", next);
        return 1;
      }
      if (q[size - 1] != (char)c) {
        fprintf(stderr, "bench_realloc_growth: realloc lost the contents at %zu bytes\n", size);
        return 1;
      }
      memset(q + size, (int)c, next - size);
      p = q;
      size = next;
      ops++;
    }
    free(p);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("Throughput = %.0f ops/s [mode=%s max=%zu chains=%ld per_chain_us=%.1f] time=%.3fs\n", (double)ops / secs,
         argv[1], max, chains, secs * 1e6 / (double)chains, secs);
  return 0;
}
