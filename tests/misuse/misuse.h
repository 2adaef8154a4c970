/* misuse.h — shared by the misuse programs in tests/misuse/.
 *
 * Each program makes one kind of invalid free() under
 * LD_PRELOAD=build/libhakmem_preload.so; tests/hardening.test.ts checks that
 * hakmem reports it on stderr ("hakmem: free(0x...): <kind>") and that the
 * process dies by SIGABRT. Before the bad call the program prints the exact
 * pointer it is about to free on stdout ("free 0x...") and flushes, so the
 * test can match the address in the report.
 *
 * Core dumps are switched off: the abort is the expected outcome. */
#ifndef HAKMEM_MISUSE_H
#define HAKMEM_MISUSE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static inline void misuse_setup(void)
{
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
}

/* Prints the pointer in the format glibc's %p and hakmem's report share. */
static inline void announce(const void *p)
{
  printf("free %p\n", p);
  fflush(stdout);
}

/* Reached only when the invalid free did not stop the program. */
static inline int survived(const char *what)
{
  printf("survived: %s\n", what);
  fflush(stdout);
  return 3;
}

/* The compiler must not see through the pointer arithmetic (or remove the
 * allocation): every pointer passes through this barrier. */
static inline void *opaque(void *p)
{
  __asm__ volatile("" : "+r"(p));
  return p;
}

#endif
