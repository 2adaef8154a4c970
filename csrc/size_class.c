/* Size classes: 16-byte steps to 128 bytes, then four per power of two up to
 * 64 KiB, so neighbours are at most 25% apart from 128 bytes on (below that the
 * 16-byte alignment quantum is the spacing); and from 2 KiB, one an eighth
 * above each power of two (2304, 4608, 9216, 18432, 36864), because a power
 * of two plus a header is what many programs ask for, and the next class of
 * four wasted a quarter of it: sqlite3's page cache asks 4104 and 4368 bytes
 * (300,000 rows keyed by hex(randomblob(16)), indexed, in memory: peak RSS
 * 38.3 -> 35.5 MiB, glibc 33.2);
 * bench_mid_large_mt (8, 16 or 32 KiB plus up to 2 KiB) peaked at 11.0 ->
 * 10.1 MiB with 1 thread, 20.2 -> 18.5 with 2. Each class costs a thread a
 * slab it may leave part-used: bench_pool_replace (1 in 20 of its blocks 1 to
 * 4 KiB) 6.2 -> 6.5 MiB. A buffer grown by realloc skips these classes
 * (dispatch.c). Every class is slab-backed: classes up to 8 KiB take one
 * 64 KiB unit per slab; above, slabs span several units so that each holds
 * about eight blocks.
 *
 * The lookup tables (internal.h, hk_class_of) are written as designated
 * ranges, one per class; hk_size_classes_verify() checks the ends of every
 * range at init. Every heap holds copies of them (heap.c, heap_new). */
#include "internal.h"

const uint32_t hk_class_size[HK_NCLASSES] = {
  16, 32, 48, 64, 80, 96, 112, 128,
  160, 192, 224, 256, 320, 384, 448, 512,
  640, 768, 896, 1024, 1280, 1536, 1792, 2048,
  2304, 2560, 3072, 3584, 4096, 4608, 5120, 6144,
  7168, 8192, 9216, 10240, 12288, 14336, 16384, 18432,
  20480, 24576, 28672, 32768, 36864, 40960, 49152, 57344,
  65536,
};

const uint8_t hk_class_small[HK_CLASS_SMALL_MAX + 1] = {HK_CLASS_SMALL_RANGES};
const uint8_t hk_class_mid[HK_CLASS_MID_ENTRIES] = {HK_CLASS_MID_RANGES};

uint8_t hk_class_span[HK_NCLASSES];

/* Units per slab: enough for about eight blocks, a power of two, and at most
 * half a SuperSlab (the last slab also holds the SuperSlab header). */
void hk_size_classes_init(unsigned nslabs) {
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    unsigned want = (unsigned)((8u * hk_class_size[c] + HK_SLAB_SIZE - 1) / HK_SLAB_SIZE), span = 1;
    while (span < want && span * 2 <= nslabs / 2) span *= 2;
    hk_class_span[c] = (uint8_t)span;
  }
}

/* Both ends of every class's range name that class: with the ranges written
 * one per class, a range ending short or starting late shows at an end
 * (test_roundtrip checks every size). */
bool hk_size_classes_verify(void) {
  if (hk_class_of(0) != 0) return false;
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    size_t first = c ? hk_class_size[c - 1] + 1 : 1, last = hk_class_size[c];
    if (hk_class_of(first) != c || hk_class_of(last) != c) return false;
  }
  return true;
}
