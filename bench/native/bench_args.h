/* Shared by the large-tier benchmarks: argument parsing and a small PRNG.
 * The including file defines usage() before including this header. */
#ifndef HAKMEM_BENCH_ARGS_H
#define HAKMEM_BENCH_ARGS_H
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static void usage(void);

/* A decimal integer in [min, max]; anything else prints the usage and exits 2. */
static long parse_long(const char *s, long min, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) usage();
  return v;
}

static inline uint32_t xorshift32(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}
#endif
