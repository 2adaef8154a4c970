/* free() of an address in a slab's tail slack: a multiple of the block size
 * past the last block (64 KiB / 48 B leaves 16 bytes after block 1364).
 * Reported as not a block start even in default mode; before, it was taken
 * for a block and corrupted the slab's count. */
#include <stdint.h>
#include "misuse.h"

int main(void)
{
  misuse_setup();
  /* 48-byte blocks until one starts a 64 KiB slab unit (every slab starts
   * at its unit; the SuperSlab's header ends its last one). */
  static void *blocks[20000];
  uintptr_t unit = 0;
  for (int i = 0; i < 20000 && !unit; i++) {
    blocks[i] = opaque(malloc(48));
    if (!blocks[i]) return 2;
    if (((uintptr_t)blocks[i] & 0xFFFF) == 0) unit = (uintptr_t)blocks[i];
  }
  if (!unit) {
    printf("no 48-byte block at a 64 KiB boundary\n");
    return 2;
  }
  char *slack = (char *)unit + 1365 * 48;
  announce(slack);
  free(opaque(slack));
  return survived("free of the tail slack");
}
