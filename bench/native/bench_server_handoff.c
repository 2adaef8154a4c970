/* bench_server_handoff THREADS ROUNDS OPS SLOTS SEED
 *
 * A server loop in the manner of larson: each of THREADS workers holds a table
 * of SLOTS blocks (8..1024 bytes). In a round a worker does OPS replacements:
 * free the block in a random slot and allocate a new one of a random size
 * there. Between rounds every worker hands its table to the next worker (a
 * barrier, then each table moves on to the
 * worker before), so the blocks a worker inherited
 * were allocated by another thread: the first replacement of each slot in a
 * round is a remote free. One operation is one replacement (a free and a
 * malloc); throughput counts all threads.
 *
 * Output: Throughput = N ops/s [threads=T rounds=R ops=OPS slots=SLOTS] time=T.TTTs
 */
#include <pthread.h>
#define BENCH_NAME "bench_server_handoff"
#define BENCH_USAGE "THREADS ROUNDS OPS SLOTS SEED\n  THREADS 1..64, ROUNDS 1..1000000, OPS 1..100000000 per round, SLOTS 1..1048576, SEED nonzero"
#include "bench_common.h"

#define MIN_SIZE 8
#define MAX_SIZE 1024

typedef struct {
  int id;
  uint32_t rng;
} worker;

static int threads;
static long rounds, ops, slots;
static char ***tables; /* tables[t]: SLOTS blocks */
static pthread_barrier_t barrier;

static void *run(void *arg) {
  worker *w = arg;
  /* A local copy: the workers' structs share a cache line, and writing the
   * state there on every operation made the threads fight over that line
   * (half of the loop's own time in perf, whatever the allocator). */
  uint32_t rng = w->rng;
  for (long r = 0; r < rounds; r++) {
    /* In round r worker t works on table t+r: the table worker t+1 had last round. */
    char **table = tables[(w->id + r) % threads];
    for (long i = 0; i < ops; i++) {
      uint32_t x = xorshift32(&rng);
      long idx = (long)(x % (uint32_t)slots);
      free(table[idx]);
      table[idx] = malloc_touched(MIN_SIZE + (x >> 16) % (MAX_SIZE - MIN_SIZE + 1), (char)i);
    }
    pthread_barrier_wait(&barrier);
  }
  w->rng = rng;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 6) usage();
  threads = (int)parse_long(argv[1], 1, 64);
  rounds = parse_long(argv[2], 1, 1000000);
  ops = parse_long(argv[3], 1, 100000000);
  slots = parse_long(argv[4], 1, 1 << 20);
  uint32_t seed = (uint32_t)parse_long(argv[5], 1, UINT32_MAX);
  tables = xcalloc((size_t)threads, sizeof *tables);
  uint32_t fill = seed;
  for (int t = 0; t < threads; t++) {
    tables[t] = xcalloc((size_t)slots, sizeof **tables);
    for (long i = 0; i < slots; i++)
      tables[t][i] = malloc_touched(MIN_SIZE + xorshift32(&fill) % (MAX_SIZE - MIN_SIZE + 1), 1);
  }
  pthread_barrier_init(&barrier, NULL, (unsigned)threads);
  pthread_t tid[64];
  worker w[64];
  for (int t = 0; t < threads; t++) w[t] = (worker){t, thread_seed(seed, t)};
  double t0 = now_seconds();
  start_threads(tid, threads, run, w, sizeof w[0]);
  join_threads(tid, threads);
  double secs = now_seconds() - t0;
  for (int t = 0; t < threads; t++) {
    for (long i = 0; i < slots; i++) free(tables[t][i]);
    free(tables[t]);
  }
  free(tables);
  pthread_barrier_destroy(&barrier);
  printf("Throughput = %.0f ops/s [threads=%d rounds=%ld ops=%ld slots=%ld] time=%.3fs\n",
         (double)ops * rounds * threads / secs, threads, rounds, ops, slots, secs);
  return 0;
}
