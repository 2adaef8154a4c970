/* The corners of glibc's malloc interface that programs rely on, checked so
 * that the same program passes with glibc alone and under the preload
 * library: memalign with an alignment that is not a power of two (rounded
 * up) or 0; alignments of 2^40 refused with ENOMEM without reserving the
 * address space; mallinfo2/mallinfo reflecting the blocks allocated;
 * malloc_trim; malloc_stats printing glibc's lines on stderr. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include "adversarial.h"

static long vm_size_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = -1;
  if (!f || fscanf(f, "%ld", &pages) != 1) fail("cannot read /proc/self/statm");
  fclose(f);
  return pages * 4;
}

static void aligned_to(void *p, size_t a, const char *what) {
  if (!p) fail("%s = NULL (errno %d)", what, errno);
  if ((uintptr_t)p % a) fail("%s = %p, not aligned to %zu", what, p, a);
  memset(p, 1, 100);
  free(p);
}

int main(void) {
  aligned_to(memalign(3, 100), 4, "memalign(3, 100)");
  aligned_to(memalign(0, 100), 8, "memalign(0, 100)");
  aligned_to(memalign(24, 100), 32, "memalign(24, 100)");
  aligned_to(memalign(96, 100), 128, "memalign(96, 100)");
  aligned_to(memalign(4097, 100), 8192, "memalign(4097, 100)");

  size_t huge = (size_t)1 << 40;
  long vm_before = vm_size_kib();
  errno = 0;
  void *p = memalign(huge, 64);
  if (p || errno != ENOMEM) fail("memalign(2^40, 64) = %p, errno %d (want NULL, ENOMEM)", p, errno);
  errno = 0;
  p = aligned_alloc(huge, 64);
  if (p || errno != ENOMEM) fail("aligned_alloc(2^40, 64) = %p, errno %d (want NULL, ENOMEM)", p, errno);
  int rc = posix_memalign(&p, huge, 64);
  if (rc != ENOMEM) fail("posix_memalign(2^40, 64) = %d (want ENOMEM)", rc);
  if (vm_size_kib() - vm_before > (1L << 20)) fail("a refused 2^40 alignment left %ld KiB mapped", vm_size_kib() - vm_before);

  /* mallinfo2: 10,000 blocks of 1 KiB in use, one 4 MiB block (mapped on its own) */
  struct mallinfo2 before = mallinfo2();
  static void *blocks[10000];
  for (int i = 0; i < 10000; i++) blocks[i] = opaque(malloc(1000));
  void *big = opaque(malloc(4 << 20));
  struct mallinfo2 during = mallinfo2();
  if (during.uordblks < before.uordblks + 10000 * 1000)
    fail("mallinfo2: uordblks %zu -> %zu with 10 MB more in use", before.uordblks, during.uordblks);
  if (during.arena < during.uordblks) fail("mallinfo2: arena %zu < uordblks %zu", during.arena, during.uordblks);
  if (during.hblks < 1 || during.hblkhd < (4u << 20)) fail("mallinfo2: hblks %zu hblkhd %zu with a 4 MiB block", during.hblks, during.hblkhd);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
  if (old.uordblks <= 0 || old.hblks < 1) fail("mallinfo: uordblks %d hblks %d", old.uordblks, old.hblks);
  for (int i = 0; i < 10000; i++) free(blocks[i]);
  free(big);
  struct mallinfo2 after = mallinfo2();
  if (after.uordblks + 10000 * 1000 > during.uordblks + 4096)
    fail("mallinfo2: uordblks %zu -> %zu after 10 MB freed", during.uordblks, after.uordblks);
  if (after.hblkhd >= during.hblkhd) fail("mallinfo2: hblkhd %zu -> %zu after the 4 MiB block was freed", during.hblkhd, after.hblkhd);
  rc = malloc_trim(0);
  if (rc != 0 && rc != 1) fail("malloc_trim(0) = %d", rc);
  malloc_stats(); /* the test reads stderr */
  printf("ok\n");
  return 0;
}
