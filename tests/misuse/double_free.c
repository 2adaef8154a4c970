/* A block freed twice in a row. Detected when HAKMEM_CHECK=1 (every free is
 * validated), and in default mode too for slab blocks: the block just freed
 * is at the head of its slab's free list.
 *   double_free [small|mid|large]   block size: 64 B, 20000 B or 1 MiB */
#include "misuse.h"

int main(int argc, char **argv)
{
  misuse_setup();
  const char *kind = argc > 1 ? argv[1] : "small";
  size_t size = strcmp(kind, "mid") == 0 ? 20000 : strcmp(kind, "large") == 0 ? (size_t)1 << 20 : 64;
  /* A neighbour stays live, so the slab is not released between the frees. */
  char *keep = opaque(malloc(size));
  char *p = opaque(malloc(size));
  if (!p || !keep) return 2;
  memset(p, 'x', size);
  memset(keep, 'k', size);
  free(p);
  announce(p);
  free(opaque(p));
  free(keep);
  return survived("double free");
}
