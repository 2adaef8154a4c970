/* free() of a pointer into the middle of a live block. hakmem detects it on
 * every free (no HAKMEM_CHECK needed).
 *   interior [small|mid|large] [OFFSET]   64-byte block (default offset 16),
 *                                         20000-byte block (default 4096) or
 *                                         1 MiB block (default 8192) */
#include "misuse.h"

int main(int argc, char **argv)
{
  misuse_setup();
  const char *kind = argc > 1 ? argv[1] : "small";
  int mid = strcmp(kind, "mid") == 0, large = strcmp(kind, "large") == 0;
  size_t size = large ? (size_t)1 << 20 : mid ? 20000 : 64;
  size_t offset = argc > 2 ? strtoul(argv[2], NULL, 0) : large ? 8192 : mid ? 4096 : 16;
  char *p = opaque(malloc(size));
  if (!p) return 2;
  memset(p, 'x', size);
  char *inside = opaque(p + offset);
  announce(inside);
  free(inside);
  return survived("interior free");
}
