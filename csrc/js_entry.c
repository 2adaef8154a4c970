/* Entry points shaped for JavaScript FFIs (the bindings in src/).
 *
 * bun:ffi converts an i32 argument on its fast path, while a size_t (u64)
 * argument takes the conversion that also accepts a BigInt: measured about
 * 4 ns more per call, a fifth of a whole malloc+free pair through FFI, and
 * a batch of one took 36 ns with size_t arguments against 19 with int32 ones.
 * The bindings call these for every size that fits (all but sizes of 2 GiB
 * and more, which go through the size_t functions); batch counts always fit
 * (the bindings' limit is 2^24). */
#include "internal.h"

void *hak_malloc_i32(int32_t size) {
  if (size < 0) return NULL;
  return hk_clear_first_word(hk_alloc((size_t)size)); /* as hak_malloc */
}

int32_t hak_malloc_batch_i32(int32_t size, int32_t count, void **out) {
  if (size < 0 || count < 0) return 0;
  return (int32_t)hak_malloc_batch((size_t)size, (size_t)count, out);
}

int hak_free_batch_checked_i32(void **ptrs, int32_t count, size_t *bad) {
  return count < 0 ? HAK_E_BAD_SIZE : hak_free_batch_checked(ptrs, (size_t)count, bad);
}
