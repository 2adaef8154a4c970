/* test_batch: hak_malloc_batch / hak_free_batch (the FFI-friendly calls that
 * move many pointers per crossing). */
#include "check.h"

#define U(x) ((unsigned long long)(x))

static int cmp_ptr(const void *a, const void *b)
{
  uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

/* Allocates count blocks of size in one call and checks them: distinct,
 * aligned, live, not overlapping, writable. Frees them with hak_free_batch. */
static void batch_case(size_t size, size_t count)
{
  void **out = malloc((count + 1) * sizeof *out);
  void **sorted = malloc((count + 1) * sizeof *sorted);
  for (size_t i = 0; i <= count; i++) out[i] = (void *)0x1; /* canary values */

  hak_stats_t s0 = stats_now();
  size_t got = hak_malloc_batch(size, count, out);
  hak_stats_t s1 = stats_now();
  CHECK(got == count, "hak_malloc_batch(%zu, %zu) = %zu", size, count, got);
  CHECK(out[count] == (void *)0x1, "hak_malloc_batch(%zu, %zu) wrote past out[count-1]", size, count);
  CHECK(s1.allocs - s0.allocs == got, "batch of %zu: allocs moved by %llu", got, U(s1.allocs - s0.allocs));

  size_t bad_align = 0, not_live = 0, small_usable = 0;
  for (size_t i = 0; i < got; i++) {
    if (!out[i] || !is_aligned(out[i], 16)) bad_align++;
    else if (hak_owns(out[i]) != 1) not_live++;
    else if (hak_usable_size(out[i]) < size) small_usable++;
  }
  CHECK(bad_align == 0, "size %zu x %zu: %zu NULL or misaligned pointers", size, count, bad_align);
  CHECK(not_live == 0, "size %zu x %zu: %zu pointers not live blocks", size, count, not_live);
  CHECK(small_usable == 0, "size %zu x %zu: %zu blocks with usable size < %zu", size, count, small_usable, size);
  if (bad_align) goto out; /* cannot touch them safely */

  /* Distinct and non-overlapping: sorted, each block ends before the next. */
  memcpy(sorted, out, got * sizeof *out);
  qsort(sorted, got, sizeof *sorted, cmp_ptr);
  size_t overlaps = 0;
  for (size_t i = 1; i < got; i++)
    if ((uintptr_t)sorted[i - 1] + (size ? size : 1) > (uintptr_t)sorted[i]) overlaps++;
  CHECK(overlaps == 0, "size %zu x %zu: %zu duplicate or overlapping blocks", size, count, overlaps);

  for (size_t i = 0; i < got; i++) fill(out[i], size);
  size_t bad = 0;
  for (size_t i = 0; i < got; i++)
    if (!verify(out[i], size)) bad++;
  CHECK(bad == 0, "size %zu x %zu: %zu blocks overwritten", size, count, bad);

  /* Free every third one individually and NULL it: hak_free_batch must skip
   * NULL entries and count only the real frees. */
  size_t individually = 0;
  for (size_t i = 0; i < got; i += 3) {
    hak_free(out[i]);
    out[i] = NULL;
    individually++;
  }
  hak_stats_t s2 = stats_now();
  hak_free_batch(out, got);
  hak_stats_t s3 = stats_now();
  CHECK(s3.frees - s2.frees == got - individually, "hak_free_batch of %zu (%zu NULL): frees moved by %llu",
        got, individually, U(s3.frees - s2.frees));
  size_t still_live = 0;
  for (size_t i = 0; i < got; i++)
    if (hak_owns(sorted[i])) still_live++;
  CHECK(still_live == 0, "size %zu x %zu: %zu blocks still live after hak_free_batch", size, count, still_live);
  CHECK(s3.bytes_in_use == s0.bytes_in_use, "size %zu x %zu: bytes_in_use %llu -> %llu", size, count,
        U(s0.bytes_in_use), U(s3.bytes_in_use));
out:
  free(out);
  free(sorted);
}

/* Batch and single calls mix: batch blocks freed one by one, single blocks
 * freed in a batch. */
static void mixing(void)
{
  enum { N = 500 };
  void *a[N], *b[N];
  CHECK(hak_malloc_batch(200, N, a) == N, "batch 200 x %d", N);
  for (int i = 0; i < N; i++) {
    b[i] = hak_malloc(200);
    fill(a[i], 200);
    fill(b[i], 200);
  }
  size_t bad = 0;
  for (int i = 0; i < N; i++) bad += !verify(a[i], 200) + !verify(b[i], 200);
  CHECK(bad == 0, "%zu mixed blocks overwritten", bad);
  hak_stats_t s0 = stats_now();
  for (int i = 0; i < N; i++) hak_free(a[i]);
  hak_free_batch(b, N);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == 2 * N, "frees moved by %llu, want %d", U(s1.frees - s0.frees), 2 * N);
}

static void corner_cases(void)
{
  void *out[4] = {(void *)0x1, (void *)0x1, (void *)0x1, (void *)0x1};
  CHECK(hak_malloc_batch(64, 0, out) == 0, "hak_malloc_batch(64, 0) != 0");
  CHECK(out[0] == (void *)0x1, "hak_malloc_batch(64, 0) wrote out[0]");
  hak_free_batch(out, 0); /* nothing to do: must not touch the canaries */
  void *nulls[8] = {0};
  hak_stats_t s0 = stats_now();
  hak_free_batch(nulls, 8);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees == s0.frees, "hak_free_batch of NULLs counted %llu frees", U(s1.frees - s0.frees));
  /* Impossible size: nothing allocated, reported as 0. */
  size_t got = hak_malloc_batch(SIZE_MAX / 2, 4, out);
  CHECK(got == 0, "hak_malloc_batch(SIZE_MAX/2, 4) = %zu", got);
}

/* Every block from hak_malloc_batch starts with a zero word, as the header
 * promises, also large blocks that come back from the large tier's cache with
 * what the previous owner wrote. */
static void large_first_word(void)
{
  enum { N = 8 };
  void *ptrs[N];
  for (int round = 0; round < 3; round++) {
    size_t n = hak_malloc_batch(200000, N, ptrs);
    CHECK(n == N, "hak_malloc_batch(200000, %d) = %zu", N, n);
    for (size_t i = 0; i < n; i++) {
      CHECK(*(uintptr_t *)ptrs[i] == 0, "round %d: large block %zu starts with %#lx, not 0", round, i,
            (unsigned long)*(uintptr_t *)ptrs[i]);
      *(uintptr_t *)ptrs[i] = 0xdeadbeef; /* what the next round must not see */
    }
    hak_free_batch(ptrs, n);
  }
}

/* hak_free_batch_checked frees runs of entries from one slab together: in
 * order, shuffled (runs of one), with NULLs and large blocks between runs,
 * over full and emptied slabs. The counts must be exact and the lists
 * intact: the blocks come back distinct and writable. */
static void checked_runs(size_t size, size_t order)
{
  enum { N = 3000 };
  static void *out[N + 1], *again[N];
  hak_stats_t before = stats_now();
  CHECK(hak_malloc_batch(size, N, out) == N, "hak_malloc_batch(%zu, %d)", size, N);
  for (size_t i = 0; i < N; i++) fill(out[i], size);
  if (order == 1) /* shuffled: consecutive entries mostly from different slabs */
    for (size_t i = N - 1; i > 0; i--) {
      size_t j = (i * 7919u + 13u) % (i + 1);
      void *t = out[i]; out[i] = out[j]; out[j] = t;
    }
  size_t nulls = 0;
  if (order == 2) /* NULLs and large blocks between runs */
    for (size_t i = 50; i < N; i += 211) {
      if (i % 2) { hak_free(out[i]); out[i] = NULL; nulls++; }
      else { hak_free(out[i]); out[i] = hak_malloc(100000); }
    }
  hak_stats_t s0 = stats_now();
  size_t bad = 0;
  CHECK(hak_free_batch_checked(out, N, &bad) == HAK_OK, "size %zu order %zu: refused at %zu", size, order, bad);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == N - nulls, "size %zu order %zu: frees moved by %llu, want %zu", size, order,
        U(s1.frees - s0.frees), (size_t)N - nulls);
  /* every slab the batch filled was emptied and went back (the current one of the class and 8 spares may stay) */
  CHECK(s1.slabs_in_use <= before.slabs_in_use + 9, "size %zu order %zu: slabs in use %llu -> %llu",
        size, order, U(before.slabs_in_use), U(s1.slabs_in_use));
  size_t live = 0;
  for (size_t i = 0; i < N; i++) live += out[i] && hak_block_state(out[i]) == HAK_BLOCK_LIVE;
  CHECK(live == 0, "size %zu order %zu: %zu blocks still live", size, order, live);
  CHECK(hak_malloc_batch(size, N, again) == N, "allocated again");
  qsort(again, N, sizeof *again, cmp_ptr);
  size_t overlaps = 0;
  for (size_t i = 1; i < N; i++) overlaps += (uintptr_t)again[i - 1] + size > (uintptr_t)again[i];
  CHECK(overlaps == 0, "size %zu order %zu: %zu blocks handed out twice after the batch", size, order, overlaps);
  for (size_t i = 0; i < N; i++) fill(again[i], size);
  size_t bad_blocks = 0;
  for (size_t i = 0; i < N; i++) bad_blocks += !verify(again[i], size);
  CHECK(bad_blocks == 0, "size %zu order %zu: %zu blocks overwritten", size, order, bad_blocks);
  CHECK(hak_free_batch_checked(again, N, &bad) == HAK_OK, "second batch freed");
}

/* The int32 entries of the bindings: the same blocks and checks as the size_t ones. */
static void i32_entries(void)
{
  enum { N = 300 };
  static void *out[N];
  size_t bad = 99;
  CHECK(hak_malloc_batch_i32(64, N, out) == N, "hak_malloc_batch_i32(64, %d)", N);
  for (int i = 0; i < N; i++)
    CHECK(hak_block_state(out[i]) == HAK_BLOCK_LIVE && *(uint64_t *)out[i] == 0, "entry %d live, first word 0", i);
  void *keep = out[N - 1];
  out[N - 1] = out[0]; /* a repeat: refused, nothing freed */
  CHECK(hak_free_batch_checked_i32(out, N, &bad) == HAK_E_DOUBLE_FREE && bad == N - 1, "repeat refused at %zu", bad);
  CHECK(hak_free_batch_checked_i32(out, -1, &bad) == HAK_E_BAD_SIZE, "negative count refused");
  for (int i = 0; i < N; i++) CHECK(hak_block_state(out[i]) == HAK_BLOCK_LIVE, "entry %d still live", i);
  out[N - 1] = keep;
  CHECK(hak_free_batch_checked_i32(out, N, &bad) == HAK_OK, "hak_free_batch_checked_i32");
  for (int i = 0; i < N; i++) CHECK(hak_block_state(out[i]) != HAK_BLOCK_LIVE, "entry %d freed", i);
  CHECK(hak_malloc_batch_i32(-1, 5, out) == 0 && hak_malloc_batch_i32(64, -5, out) == 0, "negative size or count: none");
  CHECK(hak_malloc_batch_i32(100000, 3, out) == 3, "large blocks through the i32 entry");
  CHECK(hak_free_batch_checked_i32(out, 3, &bad) == HAK_OK, "large blocks freed");
}

int main(void)
{
  check_timeout(300);
  static const size_t sizes[] = {1, 16, 24, 48, 64, 100, 128, 129, 1000, 4096, 8192, 8193, 20000, 100000};
  static const size_t counts[] = {1, 2, 7, 100, 1000, 5000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    for (size_t j = 0; j < sizeof counts / sizeof counts[0]; j++)
      if (sizes[i] * counts[j] <= (64u << 20)) batch_case(sizes[i], counts[j]);
  batch_case(32, 100000); /* more than many slabs' worth in one call */
  mixing();
  corner_cases();
  large_first_word();
  for (size_t order = 0; order < 3; order++) {
    checked_runs(64, order);
    checked_runs(1000, order);
  }
  i32_entries();
  return check_finish();
}
