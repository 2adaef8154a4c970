/* free() of a pointer that no allocator handed out: a stack address, a
 * static object, or an address in a page the program mapped itself.
 * hakmem reports "pointer not allocated by hakmem" and hands the pointer to
 * the next allocator in line (glibc), which aborts on it.
 *
 * The 16 bytes in front of each pointer are zero, so glibc reads a chunk size
 * of 0 and stops with "free(): invalid pointer" (SIGABRT) every time, rather
 * than depending on whatever happens to lie there. (A pointer into hakmem's
 * own arena, where nothing else can be mapped, is refused without glibc.)
 *   not_allocated stack|static|mapped|arena */
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
  } else if (strcmp(kind, "arena") == 0) {
    /* inside hakmem's SuperSlab arena, where no SuperSlab lives: the arena is
     * carved in 64 MiB chunks, 64 MiB aligned (csrc/os.c), and this program
     * uses one slot of its first; the free's inline path reads the slot's
     * metadata (zero) rather than the registry */
    uintptr_t chunk_bytes = (uintptr_t)64 << 20;
    char *block = malloc(64);
    if (!block) return 2;
    p = (char *)(((uintptr_t)block & ~(chunk_bytes - 1)) + chunk_bytes - 65536 + 0x7d0);
  } else {
    fprintf(stderr, "usage: not_allocated stack|static|mapped|arena\n");
    return 2;
  }
  p = opaque(p);
  announce(p);
  free(p);
  return survived("free of a pointer never allocated");
}
