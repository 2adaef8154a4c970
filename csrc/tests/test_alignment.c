/* test_alignment: 16-byte alignment of every pointer, hak_aligned_alloc for
 * every power-of-two alignment up to 2 MiB, rejection of bad alignments. */
#include "check.h"

/* Every pointer from the plain allocation calls is 16-byte aligned. */
static void default_alignment(void)
{
  for (size_t size = 1; size <= 20000; size += (size < 1100 ? 1 : 97)) {
    void *p = hak_malloc(size);
    CHECK(p && is_aligned(p, 16), "hak_malloc(%zu) = %p", size, p);
    void *q = hak_calloc(1, size);
    CHECK(q && is_aligned(q, 16), "hak_calloc(1, %zu) = %p", size, q);
    p = hak_realloc(p, size * 2 + 3);
    CHECK(p && is_aligned(p, 16), "hak_realloc(.., %zu) = %p", size * 2 + 3, p);
    hak_free(p);
    hak_free(q);
  }
  /* Many blocks alive at once of the small sizes that are not multiples of
   * 16: a class spacing error would show up as a misaligned neighbour. */
  enum { N = 4000 };
  static void *ptrs[N];
  for (size_t i = 0; i < N; i++) {
    ptrs[i] = hak_malloc(1 + i % 200);
    CHECK(ptrs[i] && is_aligned(ptrs[i], 16), "hak_malloc(%zu) = %p", 1 + i % 200, ptrs[i]);
  }
  for (size_t i = 0; i < N; i++) hak_free(ptrs[i]);
}

/* Allocates with alignment a, checks alignment, ownership, usable size, and
 * writes/reads the whole size. Returns the pointer (still live). */
static void *aligned_one(size_t a, size_t size)
{
  void *p = hak_aligned_alloc(a, size);
  CHECK(p != NULL, "hak_aligned_alloc(%zu, %zu) = NULL", a, size);
  if (!p) return NULL;
  CHECK(is_aligned(p, a), "hak_aligned_alloc(%zu, %zu) = %p not aligned", a, size, p);
  CHECK(is_aligned(p, 16), "hak_aligned_alloc(%zu, %zu) = %p not 16-byte aligned", a, size, p);
  CHECK(hak_usable_size(p) >= size, "usable %zu < %zu (alignment %zu)", hak_usable_size(p), size, a);
  /* The returned pointer is what the user frees: it must be a live block. */
  CHECK(hak_owns(p) == 1, "hak_owns(aligned %zu/%zu) = %d", a, size, hak_owns(p));
  fill(p, size);
  CHECK(verify(p, size), "aligned %zu/%zu: contents changed", a, size);
  return p;
}

static void aligned_alloc_powers(void)
{
  for (size_t a = 1; a <= ((size_t)2 << 20); a <<= 1) {
    size_t sizes[] = {1, 7, 16, 24, 100, 1000, 4096, 8192, 8193, 65536, (1 << 20) + 5,
                      a > 1 ? a - 1 : 1, a, a + 1, 3 * a + 8};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      void *p = aligned_one(a, sizes[i]);
      hak_free(p);
    }
  }
}

/* Several aligned blocks live at once must not overlap each other or plain
 * blocks allocated in between. */
static void aligned_live_set(void)
{
  enum { N = 600 };
  static void *ptrs[N];
  static size_t sizes[N];
  uint64_t rng = 42;
  for (size_t i = 0; i < N; i++) {
    size_t a = (size_t)1 << (rng_next(&rng) % 17); /* 1 .. 64 KiB */
    sizes[i] = rng_next(&rng) % (i % 10 == 0 ? 70000 : 700) + 1;
    if (i % 3 == 0) {
      ptrs[i] = hak_malloc(sizes[i]);
    } else {
      ptrs[i] = hak_aligned_alloc(a, sizes[i]);
      CHECK(ptrs[i] && is_aligned(ptrs[i], a), "aligned(%zu, %zu) = %p", a, sizes[i], ptrs[i]);
    }
    if (ptrs[i]) fill(ptrs[i], sizes[i]);
  }
  size_t bad = 0;
  for (size_t i = 0; i < N; i++)
    if (ptrs[i] && !verify(ptrs[i], sizes[i])) bad++;
  CHECK(bad == 0, "%zu of %d aligned/plain blocks overwritten", bad, N);
  for (size_t i = 0; i < N; i++) hak_free(ptrs[i]);
}

static void bad_alignments(void)
{
  size_t bad[] = {0, 3, 5, 6, 12, 24, 48, 100, 3 * 4096, (1 << 20) + 16, SIZE_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    void *p = hak_aligned_alloc(bad[i], 64);
    CHECK(p == NULL, "hak_aligned_alloc(%zu, 64) = %p, want NULL (not a power of two)", bad[i], p);
    if (p) hak_free(p);
  }
  /* Impossible sizes fail cleanly too. */
  void *p = hak_aligned_alloc(64, SIZE_MAX - 8);
  CHECK(p == NULL, "hak_aligned_alloc(64, SIZE_MAX-8) = %p", p);
  p = hak_aligned_alloc((size_t)1 << 20, SIZE_MAX / 2);
  CHECK(p == NULL, "hak_aligned_alloc(1M, SIZE_MAX/2) = %p", p);
  /* The heap still works afterwards. */
  p = aligned_one(4096, 5000);
  hak_free(p);
}

int main(void)
{
  check_timeout(300);
  default_alignment();
  aligned_alloc_powers();
  aligned_live_set();
  bad_alignments();
  return check_finish();
}
