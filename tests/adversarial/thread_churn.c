/* 10,000 short threads, at most 4 at a time: each allocates blocks of every
 * tier, frees half itself and hands the other half to the main thread, which
 * frees them after the thread has exited (so they land in abandoned heaps).
 *   thread_churn [THREADS]   default 10000
 * Pass: every block intact when freed, and after malloc_trim the resident
 * set is within 16 MiB of where it was after the first 100 threads. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include "adversarial.h"

#define PER_THREAD 24
static const size_t sizes[] = {16, 48, 100, 256, 1000, 5000, 20000, 70000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

struct job {
  unsigned id;
  unsigned char *handed[PER_THREAD / 2];
};

static size_t size_of(unsigned id, int i) { return sizes[(id + (unsigned)i) % NSIZES]; }

static void *body(void *arg) {
  struct job *j = arg;
  unsigned char *mine[PER_THREAD];
  for (int i = 0; i < PER_THREAD; i++) {
    size_t n = size_of(j->id, i);
    mine[i] = malloc(n);
    if (!mine[i]) fail("malloc(%zu) = NULL", n);
    mine[i][0] = (unsigned char)j->id;
    mine[i][n - 1] = (unsigned char)i;
  }
  for (int i = 0; i < PER_THREAD; i++) {
    if (i % 2) j->handed[i / 2] = mine[i];
    else free(mine[i]);
  }
  return NULL;
}

static void reap(struct job *j) {
  for (int k = 0; k < PER_THREAD / 2; k++) {
    int i = 2 * k + 1;
    size_t n = size_of(j->id, i);
    if (j->handed[k][0] != (unsigned char)j->id || j->handed[k][n - 1] != (unsigned char)i)
      fail("thread %u: block %d changed", j->id, i);
    free(j->handed[k]);
  }
}

int main(int argc, char **argv) {
  unsigned threads = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
  struct job jobs[4];
  pthread_t t[4];
  long base = 0;
  for (unsigned done = 0; done < threads; done += 4) {
    for (int k = 0; k < 4; k++) {
      jobs[k].id = done + (unsigned)k;
      int rc = pthread_create(&t[k], NULL, body, &jobs[k]);
      if (rc) fail("pthread_create: %s", strerror(rc));
    }
    for (int k = 0; k < 4; k++) pthread_join(t[k], NULL);
    for (int k = 0; k < 4; k++) reap(&jobs[k]);
    if (done + 4 == 100) {
      malloc_trim(0);
      base = rss_kib();
    }
  }
  malloc_trim(0);
  long end = rss_kib();
  printf("rss after 100 threads %ld KiB, after %u: %ld KiB\n", base, threads, end);
  if (end - base > 16 * 1024) fail("the resident set grew by %ld KiB (limit 16384)", end - base);
  printf("ok %u threads\n", threads);
  return 0;
}
