/* bench_producer_consumer PAIRS ITERS SEED
 *
 * All frees remote, at a high rate (the pattern of xmalloc-test): PAIRS
 * producer threads allocate blocks of 16..256 bytes in batches of 64 and hand
 * each full batch to their consumer thread through a ring of batches; the
 * consumer reads and frees every block. No block is freed by the thread that
 * allocated it. One operation is one block allocated by a producer and freed
 * by its consumer; throughput counts all pairs.
 *
 * Output: Throughput = N ops/s [pairs=P iter=ITERS] time=T.TTTs
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#define BENCH_NAME "bench_producer_consumer"
#define BENCH_USAGE "PAIRS ITERS SEED\n  PAIRS 1..32 producer/consumer pairs, ITERS 1..2000000000 blocks per pair, SEED nonzero"
#include "bench_common.h"

#define BATCH 64
#define RING 64 /* batches in flight per pair, power of two */
#define MIN_SIZE 16
#define MAX_SIZE 256

typedef struct {
  char *blocks[BATCH];
  long n;
} batch;

typedef struct {
  batch ring[RING];
  _Alignas(64) _Atomic long head; /* batches written (producer) */
  _Alignas(64) _Atomic long tail; /* batches consumed (consumer) */
  long iters;
  uint32_t seed;
} pair;

static volatile char sink;

static void *produce(void *arg) {
  pair *p = arg;
  uint32_t rng = p->seed;
  long done = 0;
  for (long b = 0; done < p->iters; b++) {
    while (b - atomic_load_explicit(&p->tail, memory_order_acquire) >= RING) sched_yield();
    batch *slot = &p->ring[b & (RING - 1)];
    long n = p->iters - done < BATCH ? p->iters - done : BATCH;
    for (long i = 0; i < n; i++)
      slot->blocks[i] = malloc_touched(MIN_SIZE + xorshift32(&rng) % (MAX_SIZE - MIN_SIZE + 1), (char)i);
    slot->n = n;
    done += n;
    atomic_store_explicit(&p->head, b + 1, memory_order_release);
  }
  return NULL;
}

static void *consume(void *arg) {
  pair *p = arg;
  long done = 0;
  for (long b = 0; done < p->iters; b++) {
    while (atomic_load_explicit(&p->head, memory_order_acquire) <= b) sched_yield();
    batch *slot = &p->ring[b & (RING - 1)];
    for (long i = 0; i < slot->n; i++) {
      sink = slot->blocks[i][0];
      free(slot->blocks[i]);
    }
    done += slot->n;
    atomic_store_explicit(&p->tail, b + 1, memory_order_release);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) usage();
  int pairs = (int)parse_long(argv[1], 1, 32);
  long iters = parse_long(argv[2], 1, 2000000000);
  uint32_t seed = (uint32_t)parse_long(argv[3], 1, UINT32_MAX);
  pair *ps = xcalloc((size_t)pairs, sizeof *ps);
  for (int i = 0; i < pairs; i++) {
    ps[i].iters = iters;
    ps[i].seed = thread_seed(seed, i);
  }
  pthread_t consumers[32], producers[32];
  double t0 = now_seconds();
  start_threads(consumers, pairs, consume, ps, sizeof *ps);
  start_threads(producers, pairs, produce, ps, sizeof *ps);
  join_threads(producers, pairs);
  join_threads(consumers, pairs);
  double secs = now_seconds() - t0;
  free(ps);
  printf("Throughput = %.0f ops/s [pairs=%d iter=%ld] time=%.3fs\n", (double)iters * pairs / secs, pairs, iters, secs);
  return 0;
}
