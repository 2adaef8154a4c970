/* realloc() of a block already freed. Detected when HAKMEM_CHECK=1 (reported
 * as "realloc(0x...): double free"); before, two later mallocs returned the
 * same address.
 *   realloc_freed [small|mid|large]   block size: 32 B, 20 KB or 1 MiB */
#include "misuse.h"

int main(int argc, char **argv)
{
  misuse_setup();
  const char *kind = argc > 1 ? argv[1] : "small";
  size_t size = strcmp(kind, "mid") == 0 ? 20000 : strcmp(kind, "large") == 0 ? (size_t)1 << 20 : 32;
  char *keep = opaque(malloc(size));
  char *p = opaque(malloc(size));
  if (!p || !keep) return 2;
  memset(p, 'x', size);
  free(p);
  announce(p);
  char *q = realloc(opaque(p), size * 2);
  char *a = malloc(size * 2), *b = malloc(size * 2);
  printf("realloc %p, then %p %p\n", (void *)q, (void *)a, (void *)b);
  free(keep);
  return survived("realloc of a freed block");
}
