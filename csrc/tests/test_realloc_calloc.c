/* test_realloc_calloc: realloc keeps contents across every tier in both
 * directions; the NULL and 0 corner cases; calloc returns zeroed memory even
 * where blocks were dirtied and freed before; overflow is refused. */
#include "check.h"

/* The first min(old, new) bytes of a realloc'd block still hold the pattern
 * written for the original block: fill_key(.., key) ties the pattern to the
 * original pointer and size, not to where the data lives now. */
static void realloc_chain(const size_t *sizes, size_t n)
{
  size_t cur = sizes[0];
  unsigned char *p = hak_malloc(cur);
  CHECK(p != NULL, "hak_malloc(%zu)", cur);
  if (!p) return;
  unsigned char key_obj;
  const void *key = &key_obj;
  size_t pattern_len = cur; /* bytes still carrying the pattern */
  fill_key(p, cur, key);
  size_t full = cur;         /* size the pattern was generated for */
  for (size_t i = 1; i < n; i++) {
    size_t next = sizes[i];
    unsigned char *q = hak_realloc(p, next);
    CHECK(q != NULL, "hak_realloc(%zu -> %zu) = NULL", cur, next);
    if (!q) { hak_free(p); return; }
    CHECK(is_aligned(q, 16), "hak_realloc(%zu -> %zu) = %p", cur, next, (void *)q);
    CHECK(hak_usable_size(q) >= next, "usable %zu < %zu after realloc", hak_usable_size(q), next);
    CHECK(hak_owns(q) == 1, "realloc result not a live block (%zu -> %zu)", cur, next);
    if (next < pattern_len) pattern_len = next;
    size_t bad = verify_key(q, full, pattern_len, key);
    CHECK(bad == (size_t)-1, "realloc %zu -> %zu: byte %zu of %zu lost", cur, next, bad, pattern_len);
    /* Re-fill the whole new size so that growth is checked next step too. */
    fill_key(q, next, key);
    full = pattern_len = next;
    p = q;
    cur = next;
  }
  hak_free(p);
}

static void realloc_tiers(void)
{
  static const size_t chain1[] = {16, 100, 5000, 100000, 3000000, 50, 8192, 8193, 1, 65536, 16,
                                  1 << 20, 8191, 8193, 9000, 200};
  realloc_chain(chain1, sizeof chain1 / sizeof chain1[0]);
  static const size_t chain2[] = {1, 2, 3, 15, 16, 17, 31, 32, 33, 127, 128, 129, 1000, 999, 998, 4096,
                                  4095, 12000, 11000, 40000, 39999, 2, 1};
  realloc_chain(chain2, sizeof chain2 / sizeof chain2[0]);
  /* Grow one byte at a time over the small classes (in-place growth paths). */
  size_t grow[600];
  for (size_t i = 0; i < 600; i++) grow[i] = i + 1;
  realloc_chain(grow, 600);
  /* Random walks. */
  uint64_t rng = 777;
  for (int walk = 0; walk < 20; walk++) {
    size_t sizes[40];
    for (int i = 0; i < 40; i++) {
      uint64_t r = rng_next(&rng);
      sizes[i] = (r % 4 == 0) ? (size_t)(r >> 8) % 400000 + 1 : (size_t)(r >> 8) % 9000 + 1;
    }
    realloc_chain(sizes, 40);
  }
}

/* Blocks from hak_aligned_alloc are ordinary blocks: realloc keeps their
 * contents whichever tier they came from. */
/* A slab block grown out of its class by a small step gets half as much
 * again as it had (dispatch.c, HK_REALLOC_GROWTH_DIV), so the next small
 * steps stay in place; a larger jump gets the class it asks for; no growth
 * passes 16 KiB in the slab tier. Contents survive each move. */
static void realloc_growth_headroom(void)
{
  unsigned char *p = hak_malloc(100);
  CHECK(p != NULL, "hak_malloc(100)");
  if (!p) return;
  size_t old = hak_usable_size(p);
  fill(p, 100);
  unsigned char *q = hak_realloc(p, old + 8);
  CHECK(q != NULL && hak_usable_size(q) >= old + old / 2, "realloc %zu -> %zu: usable %zu, want at least %zu", old,
        old + 8, q ? hak_usable_size(q) : 0, old + old / 2);
  if (!q) return;
  CHECK(verify_key(q, 100, 100, p) == (size_t)-1, "realloc %zu -> %zu lost the contents", old, old + 8);
  unsigned char *r = hak_realloc(q, old + old / 2);
  CHECK(r == q, "realloc to %zu within the headroom moved the block", old + old / 2);
  if (r) q = r;
  /* a jump past the headroom: the class of what is asked, not half as much again */
  unsigned char *s = hak_realloc(q, 1000);
  CHECK(s != NULL && hak_usable_size(s) >= 1000 && hak_usable_size(s) < 1500, "realloc to 1000: usable %zu",
        s ? hak_usable_size(s) : 0);
  if (s) q = s;
  /* near the top of the slab tier the headroom stops at 16 KiB */
  unsigned char *big = hak_realloc(q, 12000);
  CHECK(big != NULL, "realloc to 12000");
  if (big) q = big;
  size_t u = hak_usable_size(q);
  unsigned char *top = hak_realloc(q, u + 16);
  CHECK(top != NULL && hak_usable_size(top) >= u + 16 && hak_usable_size(top) <= 16384,
        "realloc %zu -> %zu: usable %zu, want at most 16384", u, u + 16, top ? hak_usable_size(top) : 0);
  if (top) q = top;
  CHECK(verify_key(q, 100, 100, p) == (size_t)-1, "the first 100 bytes did not survive the moves");
  hak_free(q);
}

/* A request of a power of two plus a header gets the class an eighth above
 * the power of two; a buffer that grows past a class passes over those
 * classes (each stop there would be one move more on its way). */
static void realloc_skips_header_classes(void)
{
  void *page = hak_malloc(4096 + 8);
  CHECK(page != NULL && hak_usable_size(page) == 4608, "hak_malloc(4104): usable %zu, want 4608",
        page ? hak_usable_size(page) : 0);
  hak_free(page);
  unsigned char *p = hak_malloc(1536);
  CHECK(p != NULL, "hak_malloc(1536)");
  if (!p) return;
  fill(p, 1536);
  unsigned char *q = hak_realloc(p, 1600); /* half as much again: 2304, the class above 2 KiB + an eighth */
  CHECK(q != NULL && hak_usable_size(q) == 2560, "realloc 1536 -> 1600: usable %zu, want 2560 (not 2304)",
        q ? hak_usable_size(q) : 0);
  if (!q) return;
  CHECK(verify_key(q, 1536, 1536, p) == (size_t)-1, "realloc 1536 -> 1600 lost the contents");
  hak_free(q);
}

/* A buffer that doubles, as a vector's does, moves into the large tier
 * from 4 KiB with room for its next doubling, and from there every other
 * doubling is in place (dispatch.c, large.c). Contents survive each step. */
static void realloc_doubling(void)
{
  hak_trim(); /* no parked large block: the room below is the doubling's own */
  size_t size = 64;
  unsigned char *p = hak_malloc(size);
  CHECK(p != NULL, "hak_malloc(64)");
  if (!p) return;
  unsigned char key;
  fill_key(p, size, &key);
  for (; size < 4096; size *= 2) {
    unsigned char *q = hak_realloc(p, size * 2);
    CHECK(q != NULL && verify_key(q, size, size, &key) == (size_t)-1, "realloc %zu -> %zu lost the contents", size,
          size * 2);
    if (!q) { hak_free(p); return; }
    p = q;
    fill_key(p, size * 2, &key);
  }
  CHECK(hak_usable_size(p) < 8192, "a 4 KiB buffer doubled from 64 B: usable %zu", hak_usable_size(p));
  unsigned char *q = hak_realloc(p, 8192);
  CHECK(q != NULL && hak_usable_size(q) == 16384 && ((uintptr_t)q & 4095) == 0,
        "realloc 4K -> 8K: %p, usable %zu, want a large block of 16 KiB", (void *)q, q ? hak_usable_size(q) : 0);
  if (!q) { hak_free(p); return; }
  CHECK(verify_key(q, 4096, 4096, &key) == (size_t)-1, "realloc 4K -> 8K lost the contents");
  p = q;
  fill_key(p, 8192, &key);
  q = hak_realloc(p, 16384);
  CHECK(q == p && hak_usable_size(q) == 16384, "realloc 8K -> 16K within its room: %p -> %p, usable %zu", (void *)p,
        (void *)q, q ? hak_usable_size(q) : 0);
  if (q) p = q;
  fill_key(p, 16384, &key);
  q = hak_realloc(p, 32768);
  CHECK(q != NULL && hak_usable_size(q) == 65536, "realloc 16K -> 32K: usable %zu, want 64 KiB",
        q ? hak_usable_size(q) : 0);
  if (q) p = q;
  CHECK(verify_key(p, 16384, 16384, &key) == (size_t)-1, "realloc 16K -> 32K lost the contents");
  /* shrunk below the vector's threshold, it goes back to a slab class */
  q = hak_realloc(p, 1000);
  CHECK(q != NULL && hak_usable_size(q) < 4096 && verify_key(q, 16384, 1000, &key) == (size_t)-1,
        "realloc 32K -> 1000: usable %zu", q ? hak_usable_size(q) : 0);
  hak_free(q ? q : p);

  /* A freed large block parked in the thread's slot is taken whole by the
   * next buffer that doubles into the tier, which then grows within it
   * without the tier's lock, to the end of its pages. */
  unsigned char *big = hak_malloc(200000);
  CHECK(big != NULL, "hak_malloc(200000)");
  if (!big) return;
  size_t big_usable = hak_usable_size(big);
  hak_free(big);
  p = hak_malloc(4096);
  CHECK(p != NULL, "hak_malloc(4096)");
  if (!p) return;
  fill_key(p, 4096, &key);
  hak_stats_t s0 = stats_now();
  q = hak_realloc(p, 8192);
  CHECK(q == big && hak_usable_size(q) == big_usable, "realloc 4K -> 8K took %p (usable %zu), want the parked %p (%zu)",
        (void *)q, q ? hak_usable_size(q) : 0, (void *)big, big_usable);
  if (!q) { hak_free(p); return; }
  p = q;
  CHECK(verify_key(p, 4096, 4096, &key) == (size_t)-1, "realloc into the parked block lost the contents");
  for (size = 16384; size <= big_usable; size *= 2) {
    q = hak_realloc(p, size);
    CHECK(q == p, "realloc to %zu within the parked block's pages moved it", size);
    if (q) p = q;
  }
  hak_stats_t s1 = stats_now();
  CHECK(s1.locks_large == s0.locks_large, "%llu locks of the large tier growing within the parked block",
        (unsigned long long)(s1.locks_large - s0.locks_large));
  CHECK(s1.large_cache_hits == s0.large_cache_hits + 1, "large_cache_hits %llu -> %llu: the parked block reused",
        (unsigned long long)s0.large_cache_hits, (unsigned long long)s1.large_cache_hits);
  CHECK(verify_key(p, 4096, 4096, &key) == (size_t)-1, "growth within the parked block lost the contents");
  hak_free(p);
}

static void realloc_aligned(void)
{
  static const size_t aligns[] = {64, 256, 4096, 65536, 1 << 20};
  static const size_t sizes[] = {40, 3000, 9000, 200000};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
      size_t n = sizes[j];
      unsigned char *p = hak_aligned_alloc(aligns[i], n);
      CHECK(p != NULL, "hak_aligned_alloc(%zu, %zu)", aligns[i], n);
      if (!p) continue;
      unsigned char key;
      fill_key(p, n, &key);
      unsigned char *q = hak_realloc(p, n * 3);
      CHECK(q && verify_key(q, n, n, &key) == (size_t)-1, "realloc(aligned %zu/%zu -> %zu) lost data", aligns[i],
            n, n * 3);
      if (!q) { hak_free(p); continue; }
      unsigned char *r = hak_realloc(q, n / 2 + 1);
      CHECK(r && verify_key(r, n, n / 2 + 1, &key) == (size_t)-1, "realloc(aligned %zu/%zu shrink) lost data",
            aligns[i], n);
      hak_free(r ? r : q);
    }
}

static void realloc_corners(void)
{
  hak_stats_t s0 = stats_now();

  /* realloc(NULL, n) behaves as malloc(n). */
  unsigned char *p = hak_realloc(NULL, 200);
  CHECK(p != NULL && hak_owns(p) == 1 && hak_usable_size(p) >= 200, "hak_realloc(NULL, 200) = %p", (void *)p);
  if (p) { fill(p, 200); CHECK(verify(p, 200), "realloc(NULL) block"); hak_free(p); }
  p = hak_realloc(NULL, 50000);
  CHECK(p != NULL && hak_owns(p) == 1, "hak_realloc(NULL, 50000) = %p", (void *)p);
  hak_free(p);

  /* realloc(p, 0): either frees p and returns NULL, or returns a minimal live
   * block (and p is gone). Either way nothing leaks: checked below with
   * bytes_in_use. */
  size_t zero_sizes[] = {64, 5000, 100000};
  for (size_t i = 0; i < 3; i++) {
    p = hak_malloc(zero_sizes[i]);
    CHECK(p != NULL, "hak_malloc(%zu)", zero_sizes[i]);
    void *q = hak_realloc(p, 0);
    if (q) {
      CHECK(hak_owns(q) == 1, "hak_realloc(p, 0) returned %p, not a live block", q);
      hak_free(q);
    }
    if (!q || q != (void *)p) /* p was released */
      CHECK(hak_block_state(p) != HAK_BLOCK_LIVE, "hak_realloc(%zu-byte p, 0) left p live", zero_sizes[i]);
  }

  /* A realloc that cannot be satisfied returns NULL and leaves p intact. */
  p = hak_malloc(300);
  fill(p, 300);
  void *q = hak_realloc(p, SIZE_MAX / 2);
  CHECK(q == NULL, "hak_realloc(p, SIZE_MAX/2) = %p", q);
  CHECK(hak_owns(p) == 1 && verify(p, 300), "failed realloc damaged the block");
  q = hak_realloc(p, SIZE_MAX - 4);
  CHECK(q == NULL, "hak_realloc(p, SIZE_MAX-4) = %p", q);
  CHECK(hak_owns(p) == 1 && verify(p, 300), "failed realloc damaged the block");
  hak_free(p);

  hak_stats_t s1 = stats_now();
  CHECK(s1.bytes_in_use == s0.bytes_in_use, "bytes_in_use %llu -> %llu: realloc corner cases leaked",
        (unsigned long long)s0.bytes_in_use, (unsigned long long)s1.bytes_in_use);
  CHECK(hak_malloc(SIZE_MAX) == NULL, "hak_malloc(SIZE_MAX) != NULL");
  CHECK(hak_malloc(SIZE_MAX / 2) == NULL, "hak_malloc(SIZE_MAX/2) != NULL");
}

static int all_zero(const unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

/* Dirty many blocks of this size, free them, calloc the same number back:
 * calloc must zero recycled memory, not only fresh pages. */
static void calloc_recycled(size_t size, size_t count)
{
  unsigned char **v = malloc(count * sizeof *v);
  for (size_t i = 0; i < count; i++) {
    v[i] = hak_malloc(size);
    if (v[i]) memset(v[i], 0xA5, hak_usable_size(v[i]));
  }
  for (size_t i = 0; i < count; i++) hak_free(v[i]);
  size_t dirty = 0, nulls = 0;
  for (size_t i = 0; i < count; i++) {
    /* alternate the two ways to ask for the same bytes */
    v[i] = (i & 1) ? hak_calloc(1, size) : hak_calloc(size, 1);
    if (!v[i]) nulls++;
    else if (!all_zero(v[i], size)) dirty++;
  }
  CHECK(nulls == 0, "calloc(%zu): %zu NULL", size, nulls);
  CHECK(dirty == 0, "calloc(%zu): %zu of %zu recycled blocks not zeroed", size, dirty, count);
  for (size_t i = 0; i < count; i++) hak_free(v[i]);
  free(v);
}

static void calloc_tests(void)
{
  /* Fresh memory across tiers, with count*size products. */
  size_t shapes[][2] = {{1, 1}, {1, 16}, {3, 17}, {1000, 17}, {7, 1024}, {1, 8192}, {1, 8193},
                        {100, 1000}, {1, 1 << 20}, {4096, 1024}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    size_t n = shapes[i][0] * shapes[i][1];
    unsigned char *p = hak_calloc(shapes[i][0], shapes[i][1]);
    CHECK(p != NULL && is_aligned(p, 16), "hak_calloc(%zu, %zu) = %p", shapes[i][0], shapes[i][1], (void *)p);
    if (!p) continue;
    CHECK(hak_usable_size(p) >= n, "calloc usable %zu < %zu", hak_usable_size(p), n);
    CHECK(all_zero(p, n), "hak_calloc(%zu, %zu) not zeroed", shapes[i][0], shapes[i][1]);
    hak_free(p);
  }
  calloc_recycled(16, 20000);
  calloc_recycled(48, 20000);
  calloc_recycled(256, 8000);
  calloc_recycled(1000, 4000);
  calloc_recycled(8192, 600);
  calloc_recycled(20000, 200);
  calloc_recycled(300000, 20);
  /* from 4 MiB on cleared with streaming stores (large.c); the last bytes are not a whole cache line */
  calloc_recycled((5u << 20) + 1000, 4);

  /* Overflowing products must fail, not wrap into a small block. */
  CHECK(hak_calloc(SIZE_MAX / 2, 3) == NULL, "hak_calloc(SIZE_MAX/2, 3) != NULL");
  CHECK(hak_calloc(3, SIZE_MAX / 2) == NULL, "hak_calloc(3, SIZE_MAX/2) != NULL");
  CHECK(hak_calloc(SIZE_MAX, SIZE_MAX) == NULL, "hak_calloc(SIZE_MAX, SIZE_MAX) != NULL");
  CHECK(hak_calloc((size_t)1 << 33, (size_t)1 << 31) == NULL, "hak_calloc(2^33, 2^31) != NULL");
  CHECK(hak_calloc(((size_t)1 << 32) + 1, (size_t)1 << 32) == NULL, "hak_calloc(2^32+1, 2^32) != NULL");
  /* Zero-sized calloc: NULL or a live block, both fine. */
  void *z = hak_calloc(0, 100);
  CHECK(z == NULL || hak_owns(z) == 1, "hak_calloc(0, 100) = %p", z);
  hak_free(z);
}

int main(void)
{
  check_timeout(300);
  realloc_tiers();
  realloc_growth_headroom();
  realloc_skips_header_classes();
  realloc_doubling();
  realloc_aligned();
  realloc_corners();
  calloc_tests();
  return check_finish();
}
