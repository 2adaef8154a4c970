/* The registry: one bit per 512 KiB granule of the 47-bit user address space,
 * set while a committed SuperSlab covers it. "Is this pointer ours?" is one
 * load and a bit test: no hash probe, no system call, no mincore (seed 001).
 * The table is zero-initialised .bss (32 MiB of address space); only the pages
 * describing regions we actually use are ever touched. */
#include "internal.h"

uint64_t hk_registry[HK_REG_WORDS];

void hk_registry_set(uintptr_t base, size_t len, bool on) {
  HK_ASSERT(((base | len) & (((uintptr_t)1 << HK_GRANULE_SHIFT) - 1)) == 0 && len > 0,
            "the registry covers whole granules: SuperSlabs are at least a granule, aligned to their size");
  for (uintptr_t g = base >> HK_GRANULE_SHIFT, end = (base + len) >> HK_GRANULE_SHIFT; g < end; g++) {
    _Atomic uint64_t *w = (_Atomic uint64_t *)&hk_registry[g >> 6];
    uint64_t bit = 1ull << (g & 63);
    if (on) atomic_fetch_or_explicit(w, bit, memory_order_release);
    else atomic_fetch_and_explicit(w, ~bit, memory_order_release);
  }
}
