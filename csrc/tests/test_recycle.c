/* test_recycle: empty slabs and SuperSlabs are recycled, the LRU cache is
 * bounded by its flags, hak_trim gives memory back, and the workload of seed
 * 000 (random mixed sizes over 256 slots) needs only a handful of OS calls.
 *
 * Each scenario runs in a fresh fork()ed child with the flags it relies on set
 * explicitly, so the counters start from zero. */
#include "check.h"

#define MiB (1024ull * 1024)

static void set_flag(const char *name, const char *value)
{
  int rc = hak_config_set(name, value);
  CHECK(rc == HAK_OK, "hak_config_set(%s, %s) = %d", name, value, rc);
}

/* The defaults, whatever the environment says. */
static void default_flags(const char *ss_size)
{
  set_flag("SS_SIZE", ss_size);
  set_flag("SS_LRU_MAX_CACHED", "256");
  set_flag("SS_LRU_MAX_MB", "512");
  set_flag("SS_LRU_TTL_SEC", "60");
  set_flag("SS_PREFAULT", "off");
}

static void **alloc_blocks(size_t size, size_t count)
{
  void **v = malloc(count * sizeof *v); /* libc: not counted by hakmem */
  for (size_t i = 0; i < count; i++) {
    v[i] = hak_malloc(size);
    if (v[i]) fill(v[i], size);
  }
  return v;
}

static void verify_and_free(void **v, size_t size, size_t count, const char *what)
{
  size_t bad = 0, nulls = 0;
  for (size_t i = 0; i < count; i++) {
    if (!v[i]) nulls++;
    else if (!verify(v[i], size)) bad++;
  }
  CHECK(nulls == 0, "%s: %zu NULL blocks", what, nulls);
  CHECK(bad == 0, "%s: %zu of %zu blocks overwritten", what, bad, count);
  for (size_t i = 0; i < count; i++) hak_free(v[i]);
  free(v);
}

#define U(x) ((unsigned long long)(x))

/* Fill 8 MiB of 64-byte blocks (at least 8 SuperSlabs of 1 MiB), free them,
 * fill again: the second round is served from the LRU cache, not the OS. */
static void recycle_superslabs(void *arg)
{
  (void)arg;
  default_flags("1M");
  const size_t size = 64, count = 8 * MiB / 64;

  void **v = alloc_blocks(size, count);
  hak_stats_t full = stats_now();
  CHECK(full.superslabs_live >= 8, "8 MiB of blocks in %llu live SuperSlabs of 1 MiB", U(full.superslabs_live));
  CHECK(full.bytes_in_use >= 8 * MiB, "bytes_in_use %llu < 8 MiB", U(full.bytes_in_use));
  verify_and_free(v, size, count, "first round");

  hak_stats_t empty = stats_now();
  CHECK(empty.slabs_emptied > 0, "slabs_emptied = 0 after freeing everything");
  CHECK(empty.lru_push > 0, "lru_push = 0 after freeing 8 MiB");
  CHECK(empty.superslabs_cached >= 6, "superslabs_cached = %llu after freeing %llu SuperSlabs",
        U(empty.superslabs_cached), U(full.superslabs_live));
  /* Only the SuperSlab holding the thread's current slab may stay live. */
  CHECK(empty.superslabs_live <= 2, "superslabs_live = %llu with nothing allocated", U(empty.superslabs_live));
  CHECK(empty.bytes_in_use == 0, "bytes_in_use = %llu with nothing allocated", U(empty.bytes_in_use));
  CHECK(empty.os_maps <= 10, "os_maps = %llu: SuperSlabs should be carved from big reservations", U(empty.os_maps));

  v = alloc_blocks(size, count);
  hak_stats_t again = stats_now();
  CHECK(again.lru_pop > empty.lru_pop, "lru_pop did not move in the second round");
  CHECK(again.lru_hit > empty.lru_hit, "lru_hit did not move in the second round");
  CHECK(again.slabs_reused > empty.slabs_reused, "slabs_reused did not move in the second round");
  CHECK(again.os_maps == empty.os_maps, "os_maps grew %llu -> %llu although the cache held enough",
        U(empty.os_maps), U(again.os_maps));
  CHECK(again.superslabs_live <= full.superslabs_live + 1, "second round used %llu SuperSlabs, first %llu",
        U(again.superslabs_live), U(full.superslabs_live));
  verify_and_free(v, size, count, "second round");

  /* hak_trim: the cache and the current slabs go back to the OS. */
  hak_stats_t before = stats_now();
  size_t released = hak_trim();
  hak_stats_t after = stats_now();
  CHECK(released > 0, "hak_trim() = 0 with %llu SuperSlabs cached", U(before.superslabs_cached));
  CHECK(after.superslabs_cached == 0, "superslabs_cached = %llu after hak_trim", U(after.superslabs_cached));
  CHECK(after.superslabs_live == 0, "superslabs_live = %llu after hak_trim with nothing allocated",
        U(after.superslabs_live));
  CHECK(after.os_decommits > before.os_decommits, "os_decommits did not move in hak_trim");
  CHECK(after.os_decommit_bytes > before.os_decommit_bytes, "os_decommit_bytes did not move in hak_trim");
  /* The pages really went back: 8 MiB had been touched and freed. */
  CHECK(after.rss_current + 4 * MiB <= full.rss_current, "rss %llu with 8 MiB live, %llu after free + hak_trim",
        U(full.rss_current), U(after.rss_current));
  (void)hak_trim(); /* a second trim finds little or nothing, and must not crash */

  /* The heap works after a trim. */
  v = alloc_blocks(size, count / 4);
  verify_and_free(v, size, count / 4, "after trim");
}

/* Mixed sizes: slabs emptied by one class are reused by another. */
static void slabs_change_class(void *arg)
{
  (void)arg;
  default_flags("1M");
  void **v = alloc_blocks(48, 4 * MiB / 48);
  verify_and_free(v, 48, 4 * MiB / 48, "48-byte round");
  hak_stats_t mid = stats_now();
  v = alloc_blocks(512, 4 * MiB / 512);
  hak_stats_t s = stats_now();
  CHECK(s.os_maps == mid.os_maps, "512-byte round mapped new memory (%llu -> %llu) instead of reusing",
        U(mid.os_maps), U(s.os_maps));
  CHECK(s.slabs_reused > mid.slabs_reused || s.lru_hit > mid.lru_hit,
        "512-byte round reused neither slabs nor cached SuperSlabs");
  verify_and_free(v, 512, 4 * MiB / 512, "512-byte round");
}

/* A burst of local frees (a collector dropping its buffers) empties many
 * slabs of one class: the class keeps eight of them besides its current slab
 * (HK_SPARE_SLABS), so the next burst of allocations takes them without
 * formatting them again, and releases the rest; hak_trim releases the spares. */
static void local_burst_keeps_spares(void *arg)
{
  (void)arg;
  default_flags("1M");
  const size_t size = 5000, count = 240; /* 5120-byte class: 12 blocks a 64 KiB slab, 20 slabs */
  const unsigned long long spares = 8;
  hak_stats_t start = stats_now();
  void **v = alloc_blocks(size, count);
  hak_stats_t full = stats_now();
  unsigned long long used = full.slabs_in_use - start.slabs_in_use;
  CHECK(used >= 20, "%zu blocks of %zu bytes in %llu slabs", count, size, used);
  verify_and_free(v, size, count, "first burst"); /* in allocation order: the current slab empties last */

  hak_stats_t empty = stats_now();
  CHECK(empty.bytes_in_use == 0, "bytes_in_use = %llu with nothing allocated", U(empty.bytes_in_use));
  CHECK(empty.slabs_in_use == start.slabs_in_use + 1 + spares,
        "slabs_in_use %llu after the burst of frees, %llu before the burst: expected the current slab and %llu spares",
        U(empty.slabs_in_use), U(start.slabs_in_use), spares);
  CHECK(empty.slabs_emptied - full.slabs_emptied == used - 1 - spares, "%llu of %llu slabs released, expected %llu",
        U(empty.slabs_emptied - full.slabs_emptied), used, used - 1 - spares);

  v = alloc_blocks(size, count);
  hak_stats_t again = stats_now();
  unsigned long long formatted = again.slabs_in_use - empty.slabs_in_use;
  CHECK(again.slabs_in_use - start.slabs_in_use == used, "second burst in %llu slabs, first in %llu",
        U(again.slabs_in_use - start.slabs_in_use), used);
  CHECK(again.slabs_reused - empty.slabs_reused <= formatted,
        "second burst formatted %llu slabs again, but only %llu were new to it",
        U(again.slabs_reused - empty.slabs_reused), formatted);
  verify_and_free(v, size, count, "second burst");

  (void)hak_trim();
  hak_stats_t after = stats_now();
  CHECK(after.superslabs_live == 0, "superslabs_live = %llu after hak_trim with nothing allocated",
        U(after.superslabs_live));
}

/* A slab is carved a page at a time. A block freed into an older slab of the
 * class is handed out again before the newest slab carves another page
 * (heap.c, reusable_after): 1,024 blocks of 64 B fill one slab, the 1,025th
 * starts the next, whose first page holds 64 blocks; one block of the first
 * slab freed comes back before any block past that page. */
static void reuse_before_carving(void *arg)
{
  (void)arg;
  default_flags("1M");
  enum { SIZE = 64, PER_SLAB = 65536 / SIZE, PER_PAGE = 4096 / SIZE };
  void **v = alloc_blocks(SIZE, PER_SLAB);
  char *first_of_next = hak_malloc(SIZE);
  CHECK(first_of_next != NULL, "the block starting the next slab");
  void *freed = v[PER_SLAB / 2];
  hak_free(freed);
  void *got[PER_PAGE + 1];
  size_t n = 0, past_page = 0;
  int reused = 0;
  while (n <= PER_PAGE && !reused) {
    char *p = got[n++] = hak_malloc(SIZE);
    reused = p == freed;
    past_page += !reused && (p < first_of_next || p >= first_of_next + 4096);
  }
  CHECK(reused, "the freed block did not come back within %d allocations", PER_PAGE + 1);
  CHECK(past_page == 0, "%zu blocks past the new slab's first page came before the freed block", past_page);
  for (size_t i = 0; i < n; i++) hak_free(got[i]);
  hak_free(first_of_next);
  v[PER_SLAB / 2] = NULL;
  for (size_t i = 0; i < PER_SLAB; i++) hak_free(v[i]);
  free(v);
  (void)hak_trim();
  CHECK(stats_now().superslabs_live == 0, "superslabs_live = %llu after hak_trim", U(stats_now().superslabs_live));
}

/* Large blocks (direct mappings): freed mappings wait in the large tier's cache and
 * serve the next request of their size without the kernel; hak_trim empties
 * the cache. The contents of a recycled mapping are the new owner's to
 * write: checked by filling and verifying each round. */
static void large_cache(void *arg)
{
  (void)arg;
  default_flags("1M");
  enum { N = 16 };
  const size_t size = 300000;
  hak_stats_t s0 = stats_now();
  void **v = alloc_blocks(size, N);
  hak_stats_t s1 = stats_now();
  CHECK(s1.large_allocs - s0.large_allocs == N, "large_allocs moved by %llu, want %d", U(s1.large_allocs - s0.large_allocs), N);
  CHECK(s1.large_cache_misses > s0.large_cache_misses, "first requests of a size: large_cache_misses did not move");
  verify_and_free(v, size, N, "large first round");
  hak_stats_t s2 = stats_now();
  CHECK(s2.large_cached > 0 && s2.large_cached <= N, "large_cached = %llu after freeing %d mappings",
        U(s2.large_cached), N);
  CHECK(s2.large_cached_bytes >= s2.large_cached * size, "large_cached_bytes = %llu for %llu mappings",
        U(s2.large_cached_bytes), U(s2.large_cached));
  CHECK(s2.bytes_in_use == s0.bytes_in_use, "bytes_in_use counts cached mappings: %llu -> %llu",
        U(s0.bytes_in_use), U(s2.bytes_in_use));

  v = alloc_blocks(size, N);
  hak_stats_t s3 = stats_now();
  CHECK(s3.large_cache_hits - s2.large_cache_hits >= s2.large_cached, "second round: large_cache_hits moved by %llu with %llu cached",
        U(s3.large_cache_hits - s2.large_cache_hits), U(s2.large_cached));
  CHECK(s3.os_maps - s2.os_maps <= N - s2.large_cached, "second round mapped %llu times with %llu cached",
        U(s3.os_maps - s2.os_maps), U(s2.large_cached));
  verify_and_free(v, size, N, "large second round");

  hak_stats_t s4 = stats_now();
  size_t released = hak_trim();
  hak_stats_t s5 = stats_now();
  CHECK(released >= s4.large_cached_bytes, "hak_trim() = %zu with %llu bytes of cached mappings", released,
        U(s4.large_cached_bytes));
  CHECK(s5.large_cached == 0 && s5.large_cached_bytes == 0, "after hak_trim: large_cached %llu (%llu bytes)",
        U(s5.large_cached), U(s5.large_cached_bytes));
  CHECK(s5.os_unmaps + s5.os_decommits > s4.os_unmaps + s4.os_decommits, "hak_trim released no large mapping");
}

struct lru_case { const char *flag, *value; uint64_t max_cached; };

/* The cache never holds more than its flags allow; the rest is released. */
static void lru_bounded(void *arg)
{
  const struct lru_case *c = arg;
  default_flags("1M");
  set_flag(c->flag, c->value);
  const size_t size = 64, count = 8 * MiB / 64;
  void **v = alloc_blocks(size, count);
  hak_stats_t full = stats_now();
  verify_and_free(v, size, count, "fill");
  hak_stats_t s = stats_now();
  CHECK(s.superslabs_cached <= c->max_cached, "%s=%s: superslabs_cached = %llu", c->flag, c->value,
        U(s.superslabs_cached));
  CHECK(s.superslabs_live <= 2, "%s=%s: superslabs_live = %llu with nothing allocated", c->flag, c->value,
        U(s.superslabs_live));
  /* What did not fit was given back to the OS. */
  CHECK(s.os_decommits + s.os_unmaps > full.os_decommits + full.os_unmaps,
        "%s=%s: SuperSlabs beyond the cache bound were not released", c->flag, c->value);
  if (c->max_cached > 0)
    CHECK(s.lru_evict > 0 || s.lru_push <= c->max_cached, "%s=%s: lru_evict = 0 but lru_push = %llu", c->flag,
          c->value, U(s.lru_push));
  /* Still usable. */
  v = alloc_blocks(size, count / 2);
  verify_and_free(v, size, count / 2, "refill");
}

/* Seed 000: 100000 random operations on 256 slots with sizes 16..1039. The
 * slabs never all empty out; the allocator must still not map and unmap over
 * and over. */
static void seed_random_mixed(void *arg)
{
  const char *ss = arg;
  default_flags(ss);
  enum { SLOTS = 256, OPS = 100000 };
  static unsigned char *slot[SLOTS];
  static size_t slot_size[SLOTS];
  uint64_t rng = 0xC0FFEE;
  size_t bad = 0;
  for (int op = 0; op < OPS; op++) {
    uint64_t r = rng_next(&rng);
    int i = (int)(r % SLOTS);
    if (slot[i]) {
      if (!verify(slot[i], slot_size[i])) bad++;
      hak_free(slot[i]);
      slot[i] = NULL;
    } else {
      slot_size[i] = 16 + (size_t)((r >> 16) % 1024);
      slot[i] = hak_malloc(slot_size[i]);
      CHECK(slot[i] != NULL, "hak_malloc(%zu)", slot_size[i]);
      if (slot[i]) fill(slot[i], slot_size[i]);
    }
  }
  for (int i = 0; i < SLOTS; i++) {
    if (slot[i] && !verify(slot[i], slot_size[i])) bad++;
    hak_free(slot[i]);
  }
  hak_stats_t s = stats_now();
  CHECK(bad == 0, "SS_SIZE=%s: %zu blocks overwritten", ss, bad);
  CHECK(s.os_maps + s.os_unmaps <= 10, "SS_SIZE=%s: os_maps %llu + os_unmaps %llu > 10 for 100000 ops", ss,
        U(s.os_maps), U(s.os_unmaps));
  CHECK(s.allocs == s.frees, "SS_SIZE=%s: allocs %llu != frees %llu", ss, U(s.allocs), U(s.frees));
  CHECK(s.bytes_in_use == 0, "SS_SIZE=%s: bytes_in_use %llu after freeing everything", ss, U(s.bytes_in_use));
}

int main(void)
{
  check_timeout(300);
  check_in_child("recycle SuperSlabs", recycle_superslabs, NULL);
  check_in_child("slabs change class", slabs_change_class, NULL);
  check_in_child("local burst keeps spares", local_burst_keeps_spares, NULL);
  check_in_child("freed blocks reused before a new page is carved", reuse_before_carving, NULL);
  check_in_child("large cache", large_cache, NULL);
  static struct lru_case cases[] = {{"SS_LRU_MAX_CACHED", "2", 2},
                                    {"SS_LRU_MAX_CACHED", "0", 0},
                                    {"SS_LRU_MAX_MB", "3", 3},
                                    {"SS_LRU_MAX_MB", "0", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "LRU %s=%s", cases[i].flag, cases[i].value);
    check_in_child(name, lru_bounded, &cases[i]);
  }
  static char *sizes[] = {"512K", "1M", "2M", "4M"};
  for (int i = 0; i < 4; i++) {
    char name[64];
    snprintf(name, sizeof name, "seed random_mixed SS_SIZE=%s", sizes[i]);
    check_in_child(name, seed_random_mixed, sizes[i]);
  }
  return check_finish();
}
