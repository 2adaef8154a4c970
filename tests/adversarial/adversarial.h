/* adversarial.h — shared by the programs in tests/adversarial/.
 *
 * Each program is a plain C program (malloc, free, threads, fork) that
 * tests/adversarial.test.ts runs under LD_PRELOAD=build/libhakmem_preload.so
 * (some also under glibc alone, for comparison). A program prints "ok ..."
 * as its last line and exits 0 when its pass condition holds; otherwise it
 * prints "FAIL: <why>" and exits 1. A hang is caught by the test's timeout. */
#ifndef HAKMEM_ADVERSARIAL_H
#define HAKMEM_ADVERSARIAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stdout);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
  exit(1);
}

/* Resident set size in KiB, from /proc/self/statm. */
static inline long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * 4;
}

/* Keeps the compiler from removing a malloc/free pair. */
static inline void *opaque(void *p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}

#endif
