/* test_owns: hak_owns / hak_block_state / hak_usable_size / hak_free_checked
 * on every kind of address, and the heap stays usable after every rejected
 * free. */
#include <sys/mman.h>

#include "check.h"

static char static_buffer[256] __attribute__((aligned(64)));

static const char *kind_name(int k)
{
  switch (k) {
  case HAK_BLOCK_FOREIGN: return "FOREIGN";
  case HAK_BLOCK_LIVE: return "LIVE";
  case HAK_BLOCK_FREE: return "FREE";
  case HAK_BLOCK_INTERIOR: return "INTERIOR";
  default: return "?";
  }
}

/* An address hakmem never handed out: owns 0, state FOREIGN, usable 0,
 * hak_free_checked refuses it. */
static void expect_foreign(const void *p, const char *what)
{
  int st = hak_block_state(p);
  CHECK(hak_owns(p) == 0, "hak_owns(%s %p) != 0", what, p);
  CHECK(st == HAK_BLOCK_FOREIGN, "hak_block_state(%s %p) = %s, want FOREIGN", what, p, kind_name(st));
  CHECK(hak_usable_size(p) == 0, "hak_usable_size(%s %p) = %zu, want 0", what, p, hak_usable_size(p));
  int rc = hak_free_checked((void *)p);
  CHECK(rc == HAK_E_FOREIGN, "hak_free_checked(%s %p) = %d, want HAK_E_FOREIGN", what, p, rc);
}

/* The heap still hands out distinct, writable blocks of this size, and the
 * blocks given in keep[] were not disturbed. */
static void heap_still_usable(size_t size, void **keep, size_t nkeep, const char *after)
{
  enum { MAX_N = 256 };
  void *p[MAX_N];
  int N = size > 65536 ? 8 : MAX_N; /* bounded memory for large sizes */
  for (int i = 0; i < N; i++) {
    p[i] = hak_malloc(size);
    CHECK(p[i] != NULL, "after %s: hak_malloc(%zu) = NULL", after, size);
    if (p[i]) fill(p[i], size);
  }
  int bad = 0;
  for (int i = 0; i < N; i++)
    if (p[i] && !verify(p[i], size)) bad++;
  CHECK(bad == 0, "after %s: %d of %d new blocks of %zu overwritten (block handed out twice?)",
        after, bad, N, size);
  for (size_t i = 0; i < nkeep; i++)
    CHECK(verify(keep[i], size), "after %s: a live block of %zu changed", after, size);
  for (int i = 0; i < N; i++) hak_free(p[i]);
}

static void foreign_addresses(void)
{
  int on_stack[16];
  expect_foreign(NULL, "NULL");
  expect_foreign(on_stack, "stack");
  expect_foreign(static_buffer, "static");
  expect_foreign(&static_buffer[128], "static+128");
  expect_foreign((void *)&foreign_addresses, "function");

  void *libc = malloc(100); /* libc's malloc: libhakmem.so never replaces it */
  expect_foreign(libc, "libc malloc");
  free(libc);
  void *libc_big = malloc(1 << 20);
  expect_foreign(libc_big, "libc malloc 1M");
  free(libc_big);

  /* A mapping that is gone: must be answered without touching it. */
  size_t len = 4 << 20;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap");
  if (m != MAP_FAILED) {
    expect_foreign(m, "live foreign mmap");
    munmap(m, len);
    expect_foreign(m, "unmapped");
    expect_foreign(m + (1 << 20), "unmapped+1M");
    expect_foreign(m + len - 16, "unmapped end");
  }
  /* A mapping with no access at all (a guard page). */
  char *g = mmap(NULL, 1 << 21, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g != MAP_FAILED) {
    expect_foreign(g, "PROT_NONE mapping");
    munmap(g, 1 << 21);
  }
  /* Odd values anywhere in the address space. */
  expect_foreign((void *)16, "0x10");
  expect_foreign((void *)4096, "0x1000");
  expect_foreign((void *)(uintptr_t)0x7ffffffff000ull, "top of user space");
  expect_foreign((void *)(uintptr_t)0x0000100000000000ull, "0x100000000000");
  expect_foreign((void *)(uintptr_t)0xffff800000000000ull, "kernel half");
  expect_foreign((void *)(UINTPTR_MAX & ~(uintptr_t)15), "UINTPTR_MAX");
}

/* Small blocks: live, interior, freed, double-freed. */
static void small_blocks(size_t size)
{
  /* A neighbour keeps the slab in use, so the freed block stays a block of
   * a formatted slab whatever the slab-recycling policy is. */
  unsigned char *keep = hak_malloc(size);
  unsigned char *p = hak_malloc(size);
  CHECK(keep && p, "hak_malloc(%zu)", size);
  if (!keep || !p) return;
  fill(keep, size);
  fill(p, size);

  CHECK(hak_owns(p) == 1, "hak_owns(live %zu) = %d", size, hak_owns(p));
  CHECK(hak_block_state(p) == HAK_BLOCK_LIVE, "state(live %zu) = %s", size, kind_name(hak_block_state(p)));
  CHECK(hak_usable_size(p) >= size, "usable %zu < %zu", hak_usable_size(p), size);

  size_t offsets[] = {1, 8, size / 2, size - 1};
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    size_t off = offsets[i];
    if (off == 0 || off >= size) continue;
    int st = hak_block_state(p + off);
    CHECK(hak_owns(p + off) == 0, "hak_owns(p+%zu) of a %zu block != 0", off, size);
    CHECK(st == HAK_BLOCK_INTERIOR, "state(p+%zu) of a %zu block = %s, want INTERIOR", off, size, kind_name(st));
    int rc = hak_free_checked(p + off);
    CHECK(rc == HAK_E_FOREIGN, "hak_free_checked(p+%zu) = %d, want HAK_E_FOREIGN", off, rc);
    CHECK(hak_owns(p) == 1 && verify(p, size), "interior free changed the block (size %zu, +%zu)", size, off);
  }
  void *keeps[2] = {keep, p};
  heap_still_usable(size, keeps, 2, "interior frees");

  hak_stats_t s0 = stats_now();
  int rc = hak_free_checked(p);
  CHECK(rc == HAK_OK, "hak_free_checked(live %zu) = %d", size, rc);
  CHECK(hak_owns(p) == 0, "hak_owns(freed %zu) = %d", size, hak_owns(p));
  CHECK(hak_block_state(p) == HAK_BLOCK_FREE, "state(freed %zu) = %s, want FREE", size, kind_name(hak_block_state(p)));
  rc = hak_free_checked(p);
  CHECK(rc == HAK_E_DOUBLE_FREE, "second hak_free_checked(%zu) = %d, want HAK_E_DOUBLE_FREE", size, rc);
  rc = hak_free_checked(p);
  CHECK(rc == HAK_E_DOUBLE_FREE, "third hak_free_checked(%zu) = %d, want HAK_E_DOUBLE_FREE", size, rc);
  hak_stats_t s1 = stats_now();
  CHECK(s1.frees - s0.frees == 1, "frees moved by %llu for one good free + two refused",
        (unsigned long long)(s1.frees - s0.frees));
  CHECK(s1.invalid_frees - s0.invalid_frees == 2, "invalid_frees moved by %llu, want 2",
        (unsigned long long)(s1.invalid_frees - s0.invalid_frees));
  CHECK(hak_block_state(keep) == HAK_BLOCK_LIVE && verify(keep, size), "neighbour of size %zu disturbed", size);
  /* A refused double free must not put the block on a free list twice. */
  heap_still_usable(size, (void **)&keep, 1, "double free");

  CHECK(hak_free_checked(keep) == HAK_OK, "hak_free_checked(keep %zu)", size);
}

/* Blocks above 8 KiB: mid-tier slab blocks up to 64 KiB, direct mappings
 * above; the contract is the same for both but for what an interior address
 * reads as. */
static void large_blocks(size_t size)
{
  unsigned char *p = hak_malloc(size);
  CHECK(p != NULL, "hak_malloc(%zu)", size);
  if (!p) return;
  fill(p, size);
  CHECK(hak_owns(p) == 1, "hak_owns(large live %zu) = %d", size, hak_owns(p));
  CHECK(hak_block_state(p) == HAK_BLOCK_LIVE, "state(large live %zu) = %s", size, kind_name(hak_block_state(p)));
  CHECK(hak_usable_size(p) >= size, "usable %zu < %zu", hak_usable_size(p), size);
  size_t offsets[] = {1, 8, 16, 4096, size / 2, size - 16};
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    size_t off = offsets[i];
    int st = hak_block_state(p + off);
    CHECK(hak_owns(p + off) == 0, "hak_owns(large+%zu) != 0", off);
    /* Slab blocks (up to 64 KiB) know their interior; direct mappings are
     * found by their start address only, so inside them reads as FOREIGN
     * (hakmem.h). Either way it is not a block. */
    int want = size <= 65536 ? HAK_BLOCK_INTERIOR : HAK_BLOCK_FOREIGN;
    CHECK(st == want, "state(large %zu +%zu) = %s, want %s", size, off, kind_name(st), kind_name(want));
    CHECK(hak_free_checked(p + off) == HAK_E_FOREIGN, "hak_free_checked(large+%zu) != FOREIGN", off);
  }
  CHECK(verify(p, size), "large %zu changed by refused frees", size);
  heap_still_usable(size, NULL, 0, "large interior frees");

  int rc = hak_free_checked(p);
  CHECK(rc == HAK_OK, "hak_free_checked(large %zu) = %d", size, rc);
  /* The block (or its mapping) may be cached or gone: either way it is no
   * live block, and a second free is refused without a crash. */
  CHECK(hak_owns(p) == 0, "hak_owns(freed large %zu) = %d", size, hak_owns(p));
  CHECK(hak_block_state(p) != HAK_BLOCK_LIVE, "state(freed large %zu) = LIVE", size);
  rc = hak_free_checked(p);
  CHECK(rc == HAK_E_DOUBLE_FREE || rc == HAK_E_FOREIGN, "second free of large %zu = %d", size, rc);
  heap_still_usable(size, NULL, 0, "large double free");
}

/* Plain hak_free with HAKMEM_CHECK=1 validates: foreign and double frees are
 * counted and ignored, and the heap stays consistent. (A fresh process: the
 * flag must be set before the first allocation.) */
static void checked_mode(void *arg)
{
  (void)arg;
  CHECK(hak_config_set("HAKMEM_CHECK", "1") == HAK_OK, "set CHECK=1");
  int on_stack[8];
  unsigned char *keep = hak_malloc(64), *p = hak_malloc(64);
  fill(keep, 64);
  hak_stats_t s0 = stats_now();
  hak_free(on_stack);
  hak_free(static_buffer);
  hak_free(p + 16);
  hak_free(p);
  hak_free(p); /* double free */
  hak_stats_t s1 = stats_now();
  uint64_t refused = (s1.foreign_frees - s0.foreign_frees) + (s1.invalid_frees - s0.invalid_frees);
  CHECK(refused >= 4, "HAKMEM_CHECK=1: 4 bad frees, foreign_frees+invalid_frees moved by %llu",
        (unsigned long long)refused);
  CHECK(s1.frees - s0.frees == 1, "HAKMEM_CHECK=1: frees moved by %llu, want 1",
        (unsigned long long)(s1.frees - s0.frees));
  heap_still_usable(64, (void **)&keep, 1, "HAKMEM_CHECK double free");
  hak_free(keep);
}

/* Plain hak_free of memory hakmem never handed out (no HAKMEM_CHECK): it is
 * recognised as foreign (registry lookup), counted and ignored. */
static void plain_free_of_foreign(void)
{
  int on_stack[8];
  void *libc = malloc(64);
  unsigned char *keep = hak_malloc(64);
  fill(keep, 64);
  hak_stats_t s0 = stats_now();
  hak_free(on_stack);
  hak_free(static_buffer);
  hak_free(libc);
  hak_stats_t s1 = stats_now();
  free(libc);
  CHECK(s1.foreign_frees - s0.foreign_frees == 3, "3 foreign hak_free calls: foreign_frees moved by %llu",
        (unsigned long long)(s1.foreign_frees - s0.foreign_frees));
  CHECK(s1.frees == s0.frees, "foreign hak_free calls counted as frees");
  heap_still_usable(64, (void **)&keep, 1, "plain foreign frees");
  hak_free(keep);
}

/* hak_free of an address in the SuperSlab arena where no SuperSlab lives:
 * the inline free trusts the arena's range without the registry (internal.h,
 * hk_ss_arena), and finds the slot's metadata zero. A slot never used and a
 * SuperSlab given back to the OS must both be refused as foreign, counted,
 * and lose nothing. (A fresh process: few slots in use.) */
static void frees_in_arena_gaps(void *arg)
{
  (void)arg;
  unsigned char *keep = hak_malloc(64);
  CHECK(keep != NULL, "hak_malloc(64)");
  if (!keep) return;
  fill(keep, 64);
  /* os.c carves the arena in 64 MiB chunks, 64 MiB aligned: the last 64 KiB
   * of keep's chunk lie in its last SuperSlab slot, unused this early. */
  uintptr_t chunk_bytes = (uintptr_t)64 << 20;
  uintptr_t chunk = (uintptr_t)keep & ~(chunk_bytes - 1);
  unsigned char *gaps[] = {(unsigned char *)(chunk + chunk_bytes - 65536),
                           (unsigned char *)(chunk + chunk_bytes - 65536 + 64),
                           (unsigned char *)(chunk + chunk_bytes - 16)};
  for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) expect_foreign(gaps[i], "unused arena slot");
  hak_stats_t s0 = stats_now();
  for (size_t i = 0; i < sizeof gaps / sizeof gaps[0]; i++) hak_free(gaps[i]);
  hak_stats_t s1 = stats_now();
  CHECK(s1.foreign_frees - s0.foreign_frees == 3, "3 hak_free calls in an unused arena slot: foreign_frees moved by %llu",
        (unsigned long long)(s1.foreign_frees - s0.foreign_frees));
  CHECK(s1.frees == s0.frees, "frees in an unused arena slot counted as frees");

  /* SuperSlabs filled, emptied and given back (hak_trim): their blocks' addresses are foreign again. */
  enum { N = 60000 }; /* 64-byte blocks: 3.7 MiB, several SuperSlabs */
  unsigned char **v = malloc(N * sizeof *v);
  CHECK(v != NULL, "malloc");
  if (!v) return;
  for (int i = 0; i < N; i++) v[i] = hak_malloc(64);
  for (int i = 0; i < N; i++) hak_free(v[i]);
  hak_trim();
  int gone = 0;
  hak_stats_t s2 = stats_now();
  for (int i = 0; i < N; i += 64) {
    if (hak_owns(v[i]) || hak_block_state(v[i]) != HAK_BLOCK_FOREIGN) continue;
    gone++;
    hak_free(v[i]);
  }
  hak_stats_t s3 = stats_now();
  CHECK(gone > 0, "hak_trim gave back none of the SuperSlabs of %d emptied blocks", N);
  CHECK(s3.foreign_frees - s2.foreign_frees == (uint64_t)gone,
        "%d hak_free calls into SuperSlabs given back: foreign_frees moved by %llu", gone,
        (unsigned long long)(s3.foreign_frees - s2.foreign_frees));
  CHECK(s3.frees == s2.frees, "frees into SuperSlabs given back counted as frees");
  free(v);
  heap_still_usable(64, (void **)&keep, 1, "frees in arena gaps");
  hak_free(keep);
}

static int cmp_ptr(const void *a, const void *b)
{
  uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
  return x < y ? -1 : x > y;
}

/* hak_free (the inline free and its interior check) of the addresses between
 * the blocks of one class that are no block start: the slack after each
 * slab's last block, starting a block size past it (a multiple of the block
 * size from the slab's start), and the SuperSlab header that ends the last
 * slab. Each is refused and counted, and frees nothing. In a fresh process,
 * blocks of this size only, all live: no other block lies between them. */
static void slab_tails(void *arg)
{
  size_t size = *(const size_t *)arg;
  size_t n = ((size_t)3 << 20) / size + 8; /* three SuperSlabs of the default 1 MiB and more */
  unsigned char **v = malloc(n * sizeof *v);
  CHECK(v != NULL, "malloc");
  if (!v) return;
  for (size_t i = 0; i < n; i++) {
    v[i] = hak_malloc(size);
    CHECK(v[i] != NULL, "hak_malloc(%zu)", size);
    if (!v[i]) return;
    fill(v[i], size);
  }
  qsort(v, n, sizeof *v, cmp_ptr);
  size_t tried = 0;
  hak_stats_t s0 = stats_now();
  for (size_t i = 0; i + 1 < n; i++) {
    unsigned char *gap = v[i] + size, *next = v[i + 1];
    if (gap == next) continue;
    unsigned char *bad[] = {gap, gap + 16, next - 16};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
      if (bad[k] < gap || bad[k] >= next || (k == 2 && next - 16 <= gap + 16)) continue;
      int st = hak_block_state(bad[k]);
      CHECK(st != HAK_BLOCK_LIVE, "%p, %zu bytes past the %zu-byte block %p before a gap: LIVE", (void *)bad[k],
            (size_t)(bad[k] - v[i]), size, (void *)v[i]);
      hak_free(bad[k]);
      tried++;
    }
  }
  hak_stats_t s1 = stats_now();
  CHECK(tried >= 3, "%zu-byte blocks over three SuperSlabs left %zu addresses in gaps", size, tried);
  uint64_t refused = s1.invalid_frees + s1.foreign_frees - s0.invalid_frees - s0.foreign_frees;
  CHECK(refused == tried, "%zu hak_free calls between %zu-byte blocks, %llu refused", tried, size,
        (unsigned long long)refused);
  CHECK(s1.frees == s0.frees, "hak_free between %zu-byte blocks freed %llu", size,
        (unsigned long long)(s1.frees - s0.frees));
  size_t bad_blocks = 0;
  for (size_t i = 0; i < n; i++) bad_blocks += !verify(v[i], size);
  CHECK(bad_blocks == 0, "%zu of %zu live %zu-byte blocks changed", bad_blocks, n, size);
  heap_still_usable(size, NULL, 0, "frees in slab tails");
  for (size_t i = 0; i < n; i++) hak_free(v[i]);
  free(v);
}

/* hak_malloc_i32 (the bindings' alloc): hak_malloc's blocks, NULL for a negative size. */
static void malloc_i32(void)
{
  static const int32_t sizes[] = {0, 16, 64, 1000, 8192, 65536, 100000, 3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t size = (size_t)sizes[i];
    uint64_t *dirty = hak_malloc(size < 8 ? 8 : size);
    CHECK(dirty != NULL, "hak_malloc(%zu)", size);
    *dirty = 0x1234; /* a reused block must still read 0 in its first word */
    hak_free(dirty);
    uint64_t *p = hak_malloc_i32(sizes[i]);
    CHECK(p != NULL, "hak_malloc_i32(%zu) = NULL", size);
    CHECK(*p == 0, "hak_malloc_i32(%zu): first word %#llx, want 0", size, (unsigned long long)*p);
    CHECK(hak_block_state(p) == HAK_BLOCK_LIVE, "hak_malloc_i32(%zu): not LIVE", size);
    CHECK(hak_usable_size(p) >= size, "hak_malloc_i32(%zu): usable %zu", size, hak_usable_size(p));
    CHECK(hak_free_checked(p) == HAK_OK, "hak_free_checked(hak_malloc_i32(%zu))", size);
    if (size <= 65536) CHECK(hak_free_checked(p) == HAK_E_DOUBLE_FREE, "second hak_free_checked(hak_malloc_i32(%zu))", size);
  }
  CHECK(hak_malloc_i32(-1) == NULL, "hak_malloc_i32(-1) != NULL");
  CHECK(hak_malloc_i32(INT32_MIN) == NULL, "hak_malloc_i32(INT32_MIN) != NULL");
}

int main(void)
{
  check_timeout(300);
  check_in_child("HAKMEM_CHECK=1", checked_mode, NULL);
  check_in_child("frees in arena gaps", frees_in_arena_gaps, NULL);
  /* exact fill, odd sizes, powers of two, multi-unit slabs */
  static const size_t tails[] = {16, 48, 80, 256, 4096, 5120, 20480, 65536};
  for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) check_in_child("slab tails", slab_tails, (void *)&tails[i]);
  foreign_addresses();
  static const size_t small[] = {16, 32, 64, 100, 256, 1000, 4096, 8192};
  for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) small_blocks(small[i]);
  large_blocks(8193);
  large_blocks(65537);
  large_blocks(100000);
  large_blocks(3 << 20);
  plain_free_of_foreign();
  malloc_i32();
  /* Foreign checks again now that hakmem has regions mapped. */
  foreign_addresses();
  return check_finish();
}
