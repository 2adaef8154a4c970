/* free() of the first byte of a SuperSlab: its header, before slab 0's first
 * block by the header size, a multiple of every power-of-two block size up to
 * 4 KiB. The free fast path checks a block start on the offset's low 32 bits
 * only (hk_block_start_ok_in_ss): this negative offset must still be refused.
 * Assumes the default SuperSlab size (1 MiB); slab 0 is the first slab a
 * SuperSlab formats, here for this thread's first small blocks. */
#include <stdint.h>
#include "misuse.h"

int main(void)
{
  misuse_setup();
  char *p = opaque(malloc(64));
  if (!p) return 2;
  memset(p, 'x', 64);
  char *header = (char *)((uintptr_t)p & ~(((uintptr_t)1 << 20) - 1));
  announce(header);
  free(opaque(header));
  return survived("free of a SuperSlab header");
}
