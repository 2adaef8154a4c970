/* bench_large_random MODE OPS MIN_BYTES MAX_BYTES SEED
 *
 * 20 live large blocks, replaced at random OPS times: a random slot is freed
 * and refilled with a block of MIN_BYTES..MAX_BYTES (uniform, 4 KiB steps).
 * MODE written: malloc, then one byte written in every page.
 * MODE calloc:  calloc, the first and last bytes checked to be zero, then one
 *               byte written in every page (zero-initialised buffers).
 * One operation is one replacement (a free and an allocation).
 *
 * Output: Throughput = N ops/s [mode=M ops=OPS min=MIN max=MAX] time=T.TTTs
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIVE 20
#define PAGE 4096

#define BENCH_NAME "bench_large_random"
#define BENCH_USAGE \
  "MODE OPS MIN_BYTES MAX_BYTES SEED\n" \
  "  MODE written or calloc, OPS 1..2147483647, 4096 <= MIN_BYTES <= MAX_BYTES <= 4294967296, SEED nonzero"

#include "bench_common.h"

static char *fill(int zeroed, size_t size, long op) {
  char *p = zeroed ? calloc(1, size) : malloc(size);
  if (!p) {
    fprintf(stderr, "bench_large_random: allocation of %zu bytes failed\n", size);
    exit(1);
  }
  if (zeroed && (p[0] != 0 || p[size - 1] != 0)) {
    fprintf(stderr, "bench_large_random: calloc(%zu) returned memory that is not zero\n", size);
    exit(1);
  }
  for (size_t off = 0; off < size; off += PAGE) p[off] = (char)op;
  p[size - 1] = (char)op;
  return p;
}

int main(int argc, char **argv) {
  if (argc != 6) usage();
  int zeroed = strcmp(argv[1], "calloc") == 0;
  if (!zeroed && strcmp(argv[1], "written") != 0) usage();
  long ops = parse_long(argv[2], 1, INT_MAX);
  long min = parse_long(argv[3], PAGE, (long)1 << 32);
  long max = parse_long(argv[4], min, (long)1 << 32);
  uint32_t rng = (uint32_t)parse_long(argv[5], 1, UINT32_MAX);
  long steps = (max - min) / PAGE + 1;
  char *slots[LIVE];
  for (int i = 0; i < LIVE; i++) slots[i] = fill(zeroed, (size_t)(min + (long)(xorshift32(&rng) % steps) * PAGE), i);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < ops; i++) {
    uint32_t r = xorshift32(&rng);
    int slot = (int)(r % LIVE);
    free(slots[slot]);
    slots[slot] = fill(zeroed, (size_t)(min + (long)(xorshift32(&rng) % steps) * PAGE), i);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  for (int i = 0; i < LIVE; i++) free(slots[i]);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("Throughput = %.0f ops/s [mode=%s ops=%ld min=%ld max=%ld] time=%.3fs\n", (double)ops / secs, argv[1], ops,
         min, max, secs);
  return 0;
}
