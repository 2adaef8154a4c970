/* Size classes: 16-byte steps to 512 bytes, 64-byte steps to 1 KiB, then
 * four per power of two up to 64 KiB, so neighbours are at most 25% apart
 * (below 1 KiB at most 12.5%, or the 16-byte alignment quantum); and from
 * 2 KiB, one an eighth above each power of two (2304, 4608, 9216, 18432,
 * 36864), because a power of two plus a header is what many programs ask
 * for, and the next class of four wasted a quarter of it: sqlite3's page
 * cache asks 4104 and 4368 bytes (300,000 rows keyed by hex(randomblob(16)),
 * indexed, in memory: peak RSS 38.3 -> 35.5 MiB, glibc 33.2);
 * bench_mid_large_mt (8, 16 or 32 KiB plus up to 2 KiB) peaked at 11.0 ->
 * 10.1 MiB with 1 thread, 20.2 -> 18.5 with 2. Each class costs a thread a
 * slab it may leave part-used: bench_pool_replace (1 in 20 of its blocks 1 to
 * 4 KiB) 6.2 -> 6.5 MiB. A buffer grown by realloc skips these classes
 * (dispatch.c). Every class is slab-backed: classes up to 8 KiB take one
 * 64 KiB unit per slab; above, slabs span several units so that each holds
 * about eight blocks.
 *
 * Those are the fine classes. A heap starts on the coarse ones
 * (hk_class_small_coarse: between 128 bytes and 1 KiB four per power of two,
 * whole cache lines from 192 bytes on) and splits a coarse class into its
 * fine ones when it holds 1 MiB of it (heap.c, split_class). Programs ask
 * for a header plus some multiple of a record (jq's objects: 272 and 392
 * bytes, 300,000 of each), and at four classes per power of two those took
 * 320 and 448: jq peaked at 310.4 MB where glibc (16-byte steps, an 8-byte
 * header) took 282.6; split, 283.0 (python3's 100,000 strings of about 770
 * bytes: 201.0 -> 195.5 MB). Why not fine from the start: only a block that
 * fills whole cache lines may stay in the thread cache of a thread that
 * frees it for another (hk_class_shareable), and most 16-byte classes do
 * not: a server handing blocks of 8 to 1024 bytes between threads
 * (bench_server_handoff) sent twice as many frees back by message, 15%
 * slower with 4.5 MB more RSS; and each class a thread uses costs it a
 * part-used slab: random_mixed (8,192 blocks of 16 to 1039 bytes, under 1
 * MiB a class) peaked at 4.79 MB against 4.65. Split at 512 KiB, its
 * classes above 512 bytes (640 KiB each) were split and it peaked at 5.03
 * MB: under random replacement the coarse slabs empty slowly while the fine
 * ones fill.
 * A heap whose blocks of split classes that share cache lines come back
 * from other threads goes back to the coarse classes for good (heap.c,
 * go_coarse).
 *
 * The lookup tables (internal.h, hk_class_of) are written as designated
 * ranges, one per class; hk_size_classes_verify() checks the ends of every
 * range at init. Every heap holds copies of them (heap.c, heap_new). */
#include "internal.h"

const uint32_t hk_class_size[HK_NCLASSES] = {
  16, 32, 48, 64, 80, 96, 112, 128,
  144, 160, 176, 192, 208, 224, 240, 256,
  272, 288, 304, 320, 336, 352, 368, 384,
  400, 416, 432, 448, 464, 480, 496, 512,
  576, 640, 704, 768, 832, 896, 960, 1024,
  1280, 1536, 1792, 2048, 2304, 2560, 3072, 3584,
  4096, 4608, 5120, 6144, 7168, 8192, 9216, 10240,
  12288, 14336, 16384, 18432, 20480, 24576, 28672, 32768,
  36864, 40960, 49152, 57344, 65536,
};

const uint8_t hk_class_small[HK_CLASS_SMALL_MAX + 1] = {HK_CLASS_SMALL_RANGES};
const uint8_t hk_class_small_coarse[HK_CLASS_SMALL_MAX + 1] = {HK_CLASS_SMALL_COARSE_RANGES};
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
  /* The coarse table gives each size the smallest coarse class that holds
   * it: one no smaller than its fine class, that holds the size and that
   * its own size names; the classes never fall as the size grows, and
   * change only just past a class's own size. */
  for (size_t size = 0; size <= HK_CLASS_SMALL_MAX; size++) {
    unsigned c = hk_class_small_coarse[size];
    if (c < hk_class_of(size) || hk_class_size[c] < size || hk_class_small_coarse[hk_class_size[c]] != c) return false;
    if (size > 0 && hk_class_small_coarse[size - 1] > c) return false;
    if (size > 0 && hk_class_small_coarse[size - 1] != c && hk_class_size[hk_class_small_coarse[size - 1]] != size - 1)
      return false;
    /* both change only at multiples of 16 (heap.c's tables are in 16-byte steps) */
    size_t step_top = HK_CLASS_GRANULE(size) * 16;
    if (hk_class_small[size] != hk_class_small[step_top] || c != hk_class_small_coarse[step_top]) return false;
  }
  return true;
}
