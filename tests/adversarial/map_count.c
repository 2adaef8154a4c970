/* The kernel's limit on mappings per process (vm.max_map_count) reached:
 * the program fills it with one-page mappings of alternating protection
 * (so that none merge), then allocates in every tier, reallocs and frees.
 * Pass: every allocation either succeeds with usable memory or returns NULL
 * with errno ENOMEM (no crash, no abort); once the program unmaps its pages,
 * allocation works again in every tier; and after everything is freed and
 * malloc_trim, the resident set is within 16 MiB of where it started (no
 * memory lost on the failure paths). Where the limit is above 300,000
 * mappings the program says "skip" and exits 0 (filling it would take
 * seconds and much kernel memory). */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include "adversarial.h"

#define MAX_HELD 4096
static const size_t sizes[] = {16, 100, 700, 4000, 20000, 60000, 100000, 1 << 20, 8 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void *held[MAX_HELD];
static size_t held_size[MAX_HELD];
static int nheld;

/* One allocation: usable memory, or NULL with ENOMEM. Returns success. */
static int try_alloc(size_t size) {
  errno = 0;
  void *p = malloc(size);
  if (!p) {
    if (errno != ENOMEM) fail("malloc(%zu) = NULL with errno %d, not ENOMEM", size, errno);
    return 0;
  }
  memset(p, 0x5A, size < 4096 ? size : 4096);
  ((unsigned char *)p)[size - 1] = 0xA5;
  if (nheld < MAX_HELD) {
    held[nheld] = p;
    held_size[nheld++] = size;
  } else {
    free(p);
  }
  return 1;
}

static void free_held(void) {
  for (int i = 0; i < nheld; i++) {
    unsigned char *p = held[i];
    if (p[0] != 0x5A || p[held_size[i] - 1] != 0xA5) fail("block %d (%zu bytes) changed", i, held_size[i]);
    free(p);
  }
  nheld = 0;
}

int main(void) {
  long limit = 0;
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  if (!f || fscanf(f, "%ld", &limit) != 1) fail("cannot read vm.max_map_count");
  fclose(f);
  if (limit > 300000) {
    printf("skip: vm.max_map_count is %ld\n", limit);
    return 0;
  }
  /* warm up every tier, then the baseline */
  for (size_t i = 0; i < NSIZES; i++) free(opaque(malloc(sizes[i])));
  malloc_trim(0);
  long base = rss_kib();

  static void *pages[400000];
  long npages = 0;
  long page = sysconf(_SC_PAGESIZE);
  while (npages < 400000) {
    void *p = mmap(NULL, (size_t)page, npages % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) break;
    pages[npages++] = p;
  }
  if (npages < 1000) fail("only %ld mappings before the limit", npages);

  /* at the limit: every request is served or refused cleanly */
  int served = 0, refused = 0;
  for (int round = 0; round < 40; round++)
    for (size_t i = 0; i < NSIZES; i++) try_alloc(sizes[i] + (size_t)round * 16) ? served++ : refused++;
  for (int i = 0; i < nheld; i += 2) { /* growth by realloc, refused cleanly too */
    errno = 0;
    void *q = realloc(held[i], held_size[i] * 3);
    if (q) {
      held[i] = q;
      held_size[i] *= 3;
      ((unsigned char *)q)[held_size[i] - 1] = 0xA5;
    } else if (errno != ENOMEM) {
      fail("realloc = NULL with errno %d, not ENOMEM", errno);
    }
  }
  free_held();
  printf("at the limit (%ld extra mappings): %d served, %d refused with ENOMEM\n", npages, served, refused);

  /* room again: every tier works */
  for (long i = 0; i < npages; i++) munmap(pages[i], (size_t)page);
  for (size_t i = 0; i < NSIZES; i++)
    if (!try_alloc(sizes[i])) fail("malloc(%zu) still fails after the mappings were released", sizes[i]);
  free_held();
  malloc_trim(0);
  long end = rss_kib();
  printf("rss before %ld KiB, after %ld KiB\n", base, end);
  if (end - base > 16 * 1024) fail("the resident set grew by %ld KiB (limit 16384)", end - base);
  printf("ok\n");
  return 0;
}
