/* free() of a pointer that no allocator handed out: a stack address, a
 * static object, or an address in a page the program mapped itself.
 * hakmem reports "pointer not allocated by hakmem" and hands the pointer to
 * the next allocator in line (glibc), which aborts on it.
 *
 * The 16 bytes in front of each pointer are zero, so glibc reads a chunk size
 * of 0 and stops with "free(): invalid pointer" (SIGABRT) every time, rather
 * than depending on whatever happens to lie there.
 *   not_allocated stack|static|mapped */
#include <stdint.h>
#include <sys/mman.h>
#include "misuse.h"

struct fake { _Alignas(16) size_t header[2]; char body[64]; };
static struct fake static_object;

int main(int argc, char **argv)
{
  misuse_setup();
  const char *kind = argc > 1 ? argv[1] : "stack";
  volatile struct fake stack_object;
  memset((void *)&stack_object, 0, sizeof stack_object);
  char *p;
  if (strcmp(kind, "stack") == 0) {
    p = (char *)stack_object.body;
  } else if (strcmp(kind, "static") == 0) {
    p = static_object.body;
  } else if (strcmp(kind, "mapped") == 0) {
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 2;
    p = page + 0x7d0; /* an arbitrary 16-byte-aligned spot, zero-filled around it */
  } else {
    fprintf(stderr, "usage: not_allocated stack|static|mapped\n");
    return 2;
  }
  p = opaque(p);
  announce(p);
  free(p);
  return survived("free of a pointer never allocated");
}
