/* Entry points shaped for JavaScript FFIs (the bindings in src/).
 *
 * bun:ffi converts an i32 argument on its fast path, while a size_t (u64)
 * argument takes the conversion that also accepts a BigInt: measured about
 * 4 ns more per call, a fifth of a whole malloc+free pair through FFI. The
 * bindings call hak_malloc_i32 for every size that fits (all but sizes of
 * 2 GiB and more, which go through hak_malloc). */
#include "internal.h"

void *hak_malloc_i32(int32_t size) {
  if (size < 0) return NULL;
  void *p = hk_alloc((size_t)size);
  if (p) *(uintptr_t *)p = 0; /* as hak_malloc: a live block reads 0 in its first word until written */
  return p;
}
