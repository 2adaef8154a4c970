/* free() of a SuperSlab's header: its last 128 bytes, past the last block of
 * its last slab. With 64-byte blocks the header's first byte lies a whole
 * number of blocks from that slab's start, one block past its last, so only
 * the slab's capacity tells it from a block (hk_block_offset_ok): the free
 * fast path must refuse it. Assumes the default SuperSlab size (1 MiB):
 * 64-byte blocks fill this thread's first SuperSlab until one lies in its
 * last 64 KiB unit. */
#include <stdint.h>
#include "misuse.h"

#define SS_BYTES ((uintptr_t)1 << 20)
#define UNIT_BYTES ((uintptr_t)1 << 16)

int main(void)
{
  misuse_setup();
  static void *blocks[40000];
  uintptr_t base = 0, last = 0;
  for (int i = 0; i < 40000 && !last; i++) {
    blocks[i] = opaque(malloc(64));
    if (!blocks[i]) return 2;
    uintptr_t a = (uintptr_t)blocks[i];
    if (!base) base = a & ~(SS_BYTES - 1);
    if (a >= base + SS_BYTES - UNIT_BYTES && a < base + SS_BYTES) last = a;
  }
  if (!last) {
    printf("no 64-byte block in the last unit of the first SuperSlab\n");
    return 2;
  }
  char *header = (char *)(base + SS_BYTES - 128);
  announce(header);
  free(opaque(header));
  return survived("free of a SuperSlab header");
}
