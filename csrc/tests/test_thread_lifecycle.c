/* Thread lifecycle: a thread that exits hands its heap back (abandon) and
 * the next new thread takes it over (adopt), so 10,000 short-lived threads
 * leave memory bounded; and many threads racing to make the very first
 * allocation of the process all get valid, distinct blocks. */
#include <pthread.h>
#include "check.h"

#define LIFETIME_THREADS 10000
#define BATCH 8
#define BLOCKS_PER_THREAD 64
#define HANDED_OFF 8 /* blocks each thread leaves live, freed later by main */

static void *handed[LIFETIME_THREADS][HANDED_OFF];
static size_t handed_size[LIFETIME_THREADS][HANDED_OFF];

static size_t size_for(long t, int i) {
  static const size_t sizes[] = {16, 48, 200, 1000, 5000, 20000, 60000, 100000};
  return sizes[(t + i) % 8] + (size_t)(i % 13);
}

static void *short_lived(void *arg) {
  long t = (long)arg;
  void *blocks[BLOCKS_PER_THREAD];
  for (int i = 0; i < BLOCKS_PER_THREAD; i++) {
    blocks[i] = hak_malloc(size_for(t, i));
    if (!blocks[i]) return (void *)1;
    fill(blocks[i], size_for(t, i));
  }
  for (int i = 0; i < BLOCKS_PER_THREAD; i++) {
    if (!verify(blocks[i], size_for(t, i))) return (void *)2;
    if (i < HANDED_OFF) {
      handed[t][i] = blocks[i];
      handed_size[t][i] = size_for(t, i);
    } else {
      hak_free(blocks[i]);
    }
  }
  return NULL;
}

static void free_handed(long first, long last) {
  for (long t = first; t < last; t++)
    for (int i = 0; i < HANDED_OFF; i++) {
      CHECK(verify(handed[t][i], handed_size[t][i]), "thread %ld block %d corrupted after its thread exited", t, i);
      hak_free(handed[t][i]);
    }
}

/* Runs threads [first, last) in batches; after each batch has exited, main
 * frees what they left live (remote frees into abandoned heaps). Returns the
 * number of threads that failed. */
static long run_threads(long first, long last) {
  long failed = 0;
  for (long t = first; t < last; t += BATCH) {
    pthread_t tid[BATCH];
    int n = 0;
    for (long k = t; k < last && n < BATCH; k++, n++) pthread_create(&tid[n], NULL, short_lived, (void *)k);
    for (int k = 0; k < n; k++) {
      void *rc;
      pthread_join(tid[k], &rc);
      failed += rc != NULL;
    }
    free_handed(t, t + n);
  }
  return failed;
}

static void ten_thousand_threads(void *arg) {
  (void)arg;
  hak_free(hak_malloc(16));
  CHECK(run_threads(0, 1000) == 0, "threads 0..999 failed to allocate or verify");
  hak_trim();
  hak_stats_t warm;
  hak_stats(&warm);

  CHECK(run_threads(1000, LIFETIME_THREADS) == 0, "threads 1000..9999 failed to allocate or verify");
  hak_trim();
  hak_stats_t end;
  hak_stats(&end);

  CHECK(end.threads_started >= LIFETIME_THREADS, "threads_started = %llu", (unsigned long long)end.threads_started);
  CHECK(end.heaps_adopted >= LIFETIME_THREADS - 2 * BATCH, "heaps_adopted = %llu: exited threads' heaps were not reused",
        (unsigned long long)end.heaps_adopted);
  /* 9000 more threads, each of which touched about 1.5 MB, may not grow what stays committed. */
  CHECK(end.superslabs_live <= warm.superslabs_live + BATCH, "superslabs_live grew from %llu to %llu",
        (unsigned long long)warm.superslabs_live, (unsigned long long)end.superslabs_live);
  RSS_CHECK(end.rss_current <= warm.rss_current + 32u * 1024 * 1024, "RSS grew from %llu to %llu bytes",
        (unsigned long long)warm.rss_current, (unsigned long long)end.rss_current);
  CHECK(end.bytes_in_use < 4u * 1024 * 1024, "bytes_in_use = %llu after every block was freed",
        (unsigned long long)end.bytes_in_use);
}

#define RACERS 16
static pthread_barrier_t start_line;
static void *racer_blocks[RACERS][32];

static void *racer(void *arg) {
  long t = (long)arg;
  pthread_barrier_wait(&start_line);
  for (int i = 0; i < 32; i++) {
    racer_blocks[t][i] = hak_malloc(24 + (size_t)i * 40);
    if (racer_blocks[t][i]) fill(racer_blocks[t][i], 24 + (size_t)i * 40);
  }
  return NULL;
}

/* Each attempt runs in a fresh child, where the allocator is not yet initialised. */
static void first_allocation_race(void *arg) {
  (void)arg;
  pthread_t tid[RACERS];
  pthread_barrier_init(&start_line, NULL, RACERS);
  for (long t = 0; t < RACERS; t++) pthread_create(&tid[t], NULL, racer, (void *)t);
  for (int t = 0; t < RACERS; t++) pthread_join(tid[t], NULL);
  for (int t = 0; t < RACERS; t++)
    for (int i = 0; i < 32; i++) {
      void *p = racer_blocks[t][i];
      CHECK(p != NULL && ((uintptr_t)p & 15) == 0, "racer %d block %d = %p", t, i, p);
      CHECK(p && verify(p, 24 + (size_t)i * 40), "racer %d block %d corrupted (shared with another thread?)", t, i);
      CHECK(hak_owns(p), "racer %d block %d not owned", t, i);
    }
  for (int t = 0; t < RACERS; t++)
    for (int i = 0; i < 32; i++) hak_free(racer_blocks[t][i]);
  CHECK(hak_config_locked() == 1, "configuration not locked after the first allocations");
}

int main(void) {
  check_in_child("10,000 short-lived threads", ten_thousand_threads, NULL);
  for (int attempt = 0; attempt < 20; attempt++) check_in_child("first allocation race", first_allocation_race, NULL);
  return check_finish();
}
