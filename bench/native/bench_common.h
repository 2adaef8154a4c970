/* Helpers shared by the native benchmarks written for the classic workloads
 * (server handoff, producer/consumer, pool replacement, random passing, false
 * sharing): argument parsing with a usage line, a tiny RNG, a clock, a
 * malloc that ends the program when it fails, and thread pinning. Each
 * benchmark defines BENCH_NAME and BENCH_USAGE before including this file. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void usage(void) {
  fprintf(stderr, "usage: " BENCH_NAME " " BENCH_USAGE "\n");
  exit(2);
}

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

/* A nonzero per-thread seed derived from the command line's. */
static inline uint32_t thread_seed(uint32_t seed, int t) {
  uint32_t s = seed + (uint32_t)t * 0x9E3779B9u;
  return s ? s : 1;
}

static inline double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* malloc, write the first and last byte (so the block is really touched). */
static inline char *malloc_touched(size_t size, char tag) {
  char *p = malloc(size);
  if (!p) {
    fprintf(stderr, BENCH_NAME ": malloc(%zu) failed\n", size);
    exit(1);
  }
  p[0] = tag;
  p[size - 1] = tag;
  return p;
}

static inline void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (!p) {
    fprintf(stderr, BENCH_NAME ": out of memory for the benchmark's own arrays\n");
    exit(1);
  }
  return p;
}

static inline void start_threads(pthread_t *tid, int n, void *(*fn)(void *), void *args, size_t arg_size) {
  for (int t = 0; t < n; t++) {
    if (pthread_create(&tid[t], NULL, fn, (char *)args + (size_t)t * arg_size)) {
      fprintf(stderr, BENCH_NAME ": pthread_create failed\n");
      exit(1);
    }
  }
}

static inline void join_threads(pthread_t *tid, int n) {
  for (int t = 0; t < n; t++) pthread_join(tid[t], NULL);
}

/* The number of CPUs this process may run on (1 when it cannot be told). */
static inline int cpus_allowed(void) {
  cpu_set_t allowed;
  return sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
}

/* Pins the calling thread to the n-th CPU this process may run on. A benchmark
 * of cross-thread frees pins its two sides to different CPUs: left to the
 * scheduler, the pair sometimes shares one core, which turns every remote free
 * into a local one and makes a run bimodal (glibc: 0.7 against 15 M blocks/s).
 * Returns the CPU's number, or -1 (and leaves the thread unpinned) when the
 * process has fewer than n+1 CPUs. */
static inline int pin_to_nth_cpu(int n) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &allowed) || n-- > 0) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0 ? cpu : -1;
  }
  return -1;
}

#endif
