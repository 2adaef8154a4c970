/* bench_random_mixed ITERS WS SEED
 *
 * Random mix of malloc and free over a working set of WS slots. Each iteration
 * draws r from a xorshift32 generator and looks at slot r % WS: a live block
 * there is freed, an empty slot gets a new block of 16 + (r & 0x3FF) bytes
 * (16..1039) whose first and last bytes are written. Only the loop is timed;
 * one operation is one iteration.
 *
 * Output: Throughput = N ops/s [iter=ITERS ws=WS] time=T.TTTs
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Makes the slot array, and with it every block, visible outside main(), so
 * the compiler cannot treat any malloc/free pair as dead. */
static void **volatile slots_sink;

static void usage(void) {
  fprintf(stderr,
          "usage: bench_random_mixed ITERS WS SEED\n"
          "  ITERS  iterations, 1..%d\n"
          "  WS     working-set slots, 1..%d\n"
          "  SEED   xorshift32 seed, 1..%u\n",
          INT_MAX, INT_MAX, UINT32_MAX);
  exit(2);
}

static long long parse_ll(const char *s, long long min, long long max) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) usage();
  return v;
}

static uint32_t xorshift32(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

static double seconds_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 4) usage();
  int iters = (int)parse_ll(argv[1], 1, INT_MAX);
  int ws = (int)parse_ll(argv[2], 1, INT_MAX);
  uint32_t state = (uint32_t)parse_ll(argv[3], 1, UINT32_MAX);

  void **slots = calloc((size_t)ws, sizeof *slots);
  if (slots == NULL) {
    fprintf(stderr, "bench_random_mixed: cannot allocate %d slots\n", ws);
    return 1;
  }
  slots_sink = slots;

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < iters; i++) {
    uint32_t r = xorshift32(&state);
    uint32_t idx = r % (uint32_t)ws;
    if (slots[idx] != NULL) {
      free(slots[idx]);
      slots[idx] = NULL;
    } else {
      size_t sz = 16 + (r & 0x3FF);
      unsigned char *p = malloc(sz);
      if (p == NULL) {
        fprintf(stderr, "bench_random_mixed: malloc(%zu) failed at iteration %d\n", sz, i);
        return 1;
      }
      p[0] = (unsigned char)r;
      p[sz - 1] = (unsigned char)(r >> 8);
      slots[idx] = p;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);

  for (int i = 0; i < ws; i++) free(slots[i]);
  free(slots);

  double secs = seconds_between(&t0, &t1);
  printf("Throughput = %.0f ops/s [iter=%d ws=%d] time=%.3fs\n", (double)iters / secs, iters, ws, secs);
  return 0;
}
