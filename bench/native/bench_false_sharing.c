/* bench_false_sharing THREADS ITERS WRITES
 *
 * False-sharing check (the patterns of cache-scratch and cache-thrash). The
 * main thread allocates THREADS objects of 8 bytes one after the other (with
 * most allocators they share cache lines) and hands object t to thread t.
 * Each thread allocates and frees an object of its own, frees the object it
 * was handed, then ITERS times allocates 8 bytes, writes them WRITES times
 * and frees them. If an allocator gives a thread a block on a cache line
 * another thread writes (its own new objects, or the handed objects, which
 * another thread may be given back), the writes of the two threads fight
 * over the line and throughput falls.
 *
 * Besides the speed, the program counts such lines: every distinct cache
 * line a thread was given by malloc (up to 256 per thread) is compared with
 * the lines the other threads were given or handed; shared_lines counts,
 * over the threads, the lines a thread was given that another thread also
 * wrote. One operation is one malloc, WRITES writes and one free;
 * throughput counts all threads.
 *
 * Output: Throughput = N ops/s [threads=T iter=ITERS writes=W shared_lines=S] time=T.TTTs
 */
#include <pthread.h>
#define BENCH_NAME "bench_false_sharing"
#define BENCH_USAGE "THREADS ITERS WRITES\n  THREADS 1..64, ITERS 1..2000000000 per thread, WRITES 1..1000000 per object"
#include "bench_common.h"

#define OBJ_SIZE 8
#define LINE 64
#define MAX_LINES 256

typedef struct {
  char *handed;
  long iters, writes;
  uintptr_t handed_line;      /* the handed object's line */
  uintptr_t lines[MAX_LINES]; /* distinct cache lines of the objects malloc gave this thread */
  int nlines;
} worker;

/* All threads live through every thread's loop: a thread that exited early
 * leaves its heap to the next one (fine, but not what is measured here). */
static pthread_barrier_t start, finish;

static void note_line(worker *w, const void *p) {
  uintptr_t line = (uintptr_t)p / LINE;
  for (int i = 0; i < w->nlines; i++)
    if (w->lines[i] == line) return;
  if (w->nlines < MAX_LINES) w->lines[w->nlines++] = line;
}

static void *run(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(&start);
  w->handed_line = (uintptr_t)w->handed / LINE;
  /* An object of the same size first, freed before the handed one: an
   * allocator whose per-thread cache of a size opens with the first
   * allocation (hakmem's) has it open when the handed object comes, which
   * would then be the next one malloc gives this thread if the cache took
   * it: on a line the main thread and the other threads' objects share. */
  void *opener = malloc(OBJ_SIZE);
  if (!opener) {
    fprintf(stderr, BENCH_NAME ": malloc failed\n");
    exit(1);
  }
  note_line(w, opener);
  free(opener);
  free(w->handed);
  for (long i = 0; i < w->iters; i++) {
    volatile char *p = malloc(OBJ_SIZE);
    if (!p) {
      fprintf(stderr, BENCH_NAME ": malloc failed\n");
      exit(1);
    }
    for (long k = 0; k < w->writes; k++) p[k & (OBJ_SIZE - 1)] = (char)(p[0] + 1);
    note_line(w, (const void *)p);
    free((void *)p);
  }
  pthread_barrier_wait(&finish);
  return NULL;
}

static bool has_line(const worker *w, uintptr_t line) {
  for (int i = 0; i < w->nlines; i++)
    if (w->lines[i] == line) return true;
  return false;
}

/* Lines a thread was given by malloc that another thread also wrote: one of
 * its own new objects, or its handed object (which it may be given back when
 * its free went to this thread's cache). The handed objects sharing lines
 * among themselves is the main thread's business. */
static long shared_lines(const worker *w, int threads) {
  long shared = 0;
  for (int t = 0; t < threads; t++)
    for (int i = 0; i < w[t].nlines; i++)
      for (int u = 0; u < threads; u++)
        if (u != t && (w[u].handed_line == w[t].lines[i] || has_line(&w[u], w[t].lines[i]))) {
          shared++; /* a line two threads were given is counted by each of them */
          break;
        }
  return shared;
}

int main(int argc, char **argv) {
  if (argc != 4) usage();
  int threads = (int)parse_long(argv[1], 1, 64);
  long iters = parse_long(argv[2], 1, 2000000000);
  long writes = parse_long(argv[3], 1, 1000000);
  worker *w = xcalloc((size_t)threads, sizeof *w);
  for (int t = 0; t < threads; t++) {
    w[t].handed = malloc_touched(OBJ_SIZE, (char)t);
    w[t].iters = iters;
    w[t].writes = writes;
  }
  pthread_barrier_init(&start, NULL, (unsigned)threads);
  pthread_barrier_init(&finish, NULL, (unsigned)threads);
  pthread_t tid[64];
  double t0 = now_seconds();
  start_threads(tid, threads, run, w, sizeof *w);
  join_threads(tid, threads);
  double secs = now_seconds() - t0;
  long shared = shared_lines(w, threads);
  pthread_barrier_destroy(&start);
  pthread_barrier_destroy(&finish);
  free(w);
  printf("Throughput = %.0f ops/s [threads=%d iter=%ld writes=%ld shared_lines=%ld] time=%.3fs\n",
         (double)iters * threads / secs, threads, iters, writes, shared, secs);
  return 0;
}
