/* bench_remote_free ITERS [SIZE_MAX]
 *
 * Producer/consumer: one thread allocates ITERS blocks (16..SIZE_MAX bytes,
 * default 1039), writes them and passes them through a single-producer
 * single-consumer ring to a second thread, which checks and frees them: every
 * free is a cross-thread (remote) free. One operation is one block passed.
 * The two threads are pinned to the first two CPUs the process may use, so
 * that every free crosses cores (see pin_to_nth_cpu); with one CPU they run
 * unpinned and the output says so.
 *
 * Output: Throughput = N ops/s [iter=ITERS] time=T.TTTs cpus=P,C|unpinned
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#define BENCH_NAME "bench_remote_free"
#define BENCH_USAGE "ITERS [SIZE_MAX]\n  ITERS 1..2147483647, SIZE_MAX 16..1048576 (default 1039)"
#include "bench_common.h"

#define RING 4096 /* power of two */

static char *ring[RING];
static _Atomic long head, tail; /* head: next to write (producer); tail: next to read */
static long iters;
static volatile char sink; /* the consumer reads each block before freeing it */
static size_t size_span;
static bool pinned;                   /* two CPUs or more: each thread on its own */
static int producer_cpu = -1, consumer_cpu = -1;

static void *producer(void *arg) {
  (void)arg;
  if (pinned) producer_cpu = pin_to_nth_cpu(0);
  uint32_t rng = 42;
  for (long i = 0; i < iters; i++) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    size_t sz = 16 + rng % size_span;
    char *p = malloc(sz);
    if (!p) {
      fprintf(stderr, "bench_remote_free: malloc(%zu) failed\n", sz);
      exit(1);
    }
    p[0] = (char)sz;
    p[sz - 1] = (char)i;
    while (i - atomic_load_explicit(&tail, memory_order_acquire) >= RING) sched_yield();
    ring[i & (RING - 1)] = p;
    atomic_store_explicit(&head, i + 1, memory_order_release);
  }
  return NULL;
}

static void *consumer(void *arg) {
  (void)arg;
  if (pinned) consumer_cpu = pin_to_nth_cpu(1);
  for (long i = 0; i < iters; i++) {
    while (atomic_load_explicit(&head, memory_order_acquire) <= i) sched_yield();
    char *p = ring[i & (RING - 1)];
    sink = p[0];
    free(p);
    atomic_store_explicit(&tail, i + 1, memory_order_release);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) usage();
  iters = parse_long(argv[1], 1, INT_MAX);
  size_span = (size_t)(argc == 3 ? parse_long(argv[2], 16, 1 << 20) : 1039) - 15;
  pinned = cpus_allowed() >= 2;
  pthread_t p, c;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (pthread_create(&c, NULL, consumer, NULL) || pthread_create(&p, NULL, producer, NULL)) {
    fprintf(stderr, "bench_remote_free: pthread_create failed\n");
    return 1;
  }
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("Throughput = %.0f ops/s [iter=%ld] time=%.3fs ", (double)iters / secs, iters, secs);
  if (producer_cpu >= 0 && consumer_cpu >= 0) printf("cpus=%d,%d\n", producer_cpu, consumer_cpu);
  else if (producer_cpu >= 0 || consumer_cpu >= 0) printf("cpus=%d,unpinned\n", producer_cpu >= 0 ? producer_cpu : consumer_cpu);
  else printf("cpus=unpinned\n");
  return 0;
}
