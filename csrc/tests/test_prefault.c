/* test_prefault: HAKMEM_SS_PREFAULT, HAKMEM_SS_PREFAULT_AFTER_MB and
 * HAKMEM_USE_HUGEPAGES do what their counters say. Each mode runs in a fresh
 * fork()ed child, configured with hak_config_set before its first
 * allocation. */
#include "check.h"

#define U(x) ((unsigned long long)(x))
#define MiB (1024ull * 1024)

static void set_flag(const char *name, const char *value)
{
  int rc = hak_config_set(name, value);
  CHECK(rc == HAK_OK, "hak_config_set(%s, %s) = %d", name, value, rc);
}

/* total bytes of blocks of block_size: several SuperSlabs acquired. Each
 * block filled and verified (or, for the large heap, one byte written: its
 * first page faulted in), then freed; the statistics are taken before the
 * frees. */
static hak_stats_t workload_of(size_t total, size_t block_size, int verified)
{
  size_t count = total / block_size;
  void **v = malloc(count * sizeof *v);
  for (size_t i = 0; i < count; i++) {
    v[i] = hak_malloc(block_size);
    if (v[i] && verified) fill(v[i], block_size);
    else if (v[i]) *(volatile char *)v[i] = 1;
  }
  hak_stats_t s = stats_now();
  size_t bad = 0;
  for (size_t i = 0; i < count; i++)
    if (!v[i] || (verified && !verify(v[i], block_size))) bad++;
  CHECK(bad == 0, "%zu of %zu blocks NULL or overwritten", bad, count);
  for (size_t i = 0; i < count; i++) hak_free(v[i]);
  free(v);
  return s;
}
static hak_stats_t small_workload(void) { return workload_of(6 * MiB, 256, 1); }
/* past the first 64 MiB chunk of SuperSlabs */
static hak_stats_t large_workload(void) { return workload_of(80 * MiB, 256, 0); }

static void prefault_mode(void *arg)
{
  const char *mode = arg;
  set_flag("SS_SIZE", "1M");
  set_flag("USE_HUGEPAGES", "0");
  set_flag("SS_PREFAULT", mode);
  hak_stats_t s = small_workload();
  if (strcmp(mode, "off") == 0) {
    CHECK(s.prefault_calls == 0 && s.prefault_bytes == 0 && s.prefault_faults == 0,
          "SS_PREFAULT=off: prefault_calls %llu, bytes %llu, faults %llu", U(s.prefault_calls), U(s.prefault_bytes),
          U(s.prefault_faults));
  } else {
    CHECK(s.prefault_calls > 0, "SS_PREFAULT=%s: prefault_calls = 0", mode);
    CHECK(s.prefault_bytes >= s.superslab_bytes, "SS_PREFAULT=%s: prefault_bytes = %llu (SuperSlab %llu)", mode,
          U(s.prefault_bytes), U(s.superslab_bytes));
    CHECK(s.prefault_faults > 0, "SS_PREFAULT=%s: prefault_faults = 0", mode);
    /* Faults are counted in pages, not bytes: about one per page prefaulted
     * (fewer with huge pages). The slack allows for incidental faults of the
     * measuring thread, e.g. sanitizer shadow memory. */
    CHECK(s.prefault_faults <= s.prefault_bytes / 4096 + 256, "SS_PREFAULT=%s: %llu faults for %llu bytes", mode,
          U(s.prefault_faults), U(s.prefault_bytes));
  }
  CHECK(s.hugepage_advised_bytes == 0, "USE_HUGEPAGES=0 but hugepage_advised_bytes = %llu",
        U(s.hugepage_advised_bytes));
}

/* HAKMEM_SS_PREFAULT_AFTER_MB with HAKMEM_SS_PREFAULT off: slabs formatted
 * once more than that many MiB of SuperSlab memory are reserved (64 MiB at a
 * time) are prefaulted, each once; 0 never. "1": from the first chunk on. */
static void prefault_after(void *arg)
{
  const char *after = arg;
  set_flag("SS_SIZE", "1M");
  set_flag("SS_PREFAULT", "off");
  set_flag("USE_HUGEPAGES", "0");
  if (after) set_flag("SS_PREFAULT_AFTER_MB", after);
  int large = !after; /* the default (64): only a heap past 64 MiB */
  hak_stats_t s = large ? large_workload() : small_workload();
  if (after && strcmp(after, "0") == 0) {
    CHECK(s.prefault_calls == 0 && s.prefault_bytes == 0, "SS_PREFAULT_AFTER_MB=0: prefault_calls %llu, bytes %llu",
          U(s.prefault_calls), U(s.prefault_bytes));
    return;
  }
  const char *what = after ? after : "64 (default)";
  CHECK(s.prefault_calls > 0, "SS_PREFAULT_AFTER_MB=%s: prefault_calls = 0", what);
  CHECK(s.prefault_faults > 0, "SS_PREFAULT_AFTER_MB=%s: the prefaults took no faults", what);
  CHECK(s.prefault_faults <= s.prefault_bytes / 4096 + 256, "SS_PREFAULT_AFTER_MB=%s: %llu faults for %llu bytes", what,
        U(s.prefault_faults), U(s.prefault_bytes));
  /* slabs of 64 KiB, each prefaulted once: at most what the live SuperSlabs hold */
  uint64_t held = s.superslabs_live * s.superslab_bytes;
  CHECK(s.prefault_bytes % (64 * 1024) == 0 && s.prefault_bytes <= held,
        "SS_PREFAULT_AFTER_MB=%s: %llu bytes prefaulted, %llu in live SuperSlabs", what, U(s.prefault_bytes), U(held));
  if (large)
    CHECK(s.prefault_bytes + 48 * MiB <= held, "default: %llu of %llu bytes prefaulted, the first 64 MiB too",
          U(s.prefault_bytes), U(held));
}

/* Past the threshold, slabs of blocks larger than a page are not prefaulted:
 * the program may never touch a block's middle pages (bench_mid_large_mt
 * writes only the two ends), and prefaulting them cost it 2.6 times the peak
 * RSS at 8 threads. Slabs of 256 B blocks still are. */
static void prefault_after_small_blocks_only(void *arg)
{
  (void)arg;
  set_flag("SS_SIZE", "1M");
  set_flag("SS_PREFAULT", "off");
  set_flag("USE_HUGEPAGES", "0");
  set_flag("SS_PREFAULT_AFTER_MB", "1");
  static const size_t larger[] = {4097, 8192, 16 * 1024, 20000, 32 * 1024};
  for (size_t i = 0; i < sizeof larger / sizeof larger[0]; i++) {
    hak_stats_t s = workload_of(8 * MiB, larger[i], 0);
    CHECK(s.superslabs_live > 1, "blocks of %zu: %llu SuperSlabs live; the threshold of 1 MiB was not passed",
          larger[i], U(s.superslabs_live));
    CHECK(s.prefault_calls == 0, "blocks of %zu bytes: %llu slabs prefaulted (%llu bytes)", larger[i],
          U(s.prefault_calls), U(s.prefault_bytes));
  }
  hak_stats_t s = workload_of(6 * MiB, 4096, 1);
  CHECK(s.prefault_calls > 0, "blocks of 4096 bytes past the threshold: no slab prefaulted");
}

/* Past the threshold, a slab is prefaulted only for a class of which the
 * heap holds 4 slabs already (superslab.c, PREFAULT_CLASS_SLABS): a class a
 * thread allocates a little of carves the pages it uses and no more (16
 * threads of bench_server_handoff held their 20 classes' current slabs
 * resident whole). Blocks of 512 B: the first 4 slabs are faulted in as
 * they are carved, the fifth is prefaulted. */
static void prefault_after_busy_classes_only(void *arg)
{
  (void)arg;
  set_flag("SS_SIZE", "1M");
  set_flag("SS_PREFAULT", "off");
  set_flag("USE_HUGEPAGES", "0");
  set_flag("SS_PREFAULT_AFTER_MB", "1");
  enum { MOST = 1024 };
  static void *v[MOST];
  size_t n = 0;
  hak_stats_t s0 = stats_now(), s = s0;
  while (n < MOST && s.slabs_in_use < s0.slabs_in_use + 4) {
    v[n] = hak_malloc(512);
    fill(v[n++], 512);
    s = stats_now();
  }
  CHECK(s.slabs_in_use == s0.slabs_in_use + 4, "%zu blocks of 512 B took %llu slabs, want 4", n,
        U(s.slabs_in_use - s0.slabs_in_use));
  CHECK(s.prefault_calls == s0.prefault_calls, "%llu of a class's first 4 slabs prefaulted",
        U(s.prefault_calls - s0.prefault_calls));
  while (n < MOST && s.slabs_in_use < s0.slabs_in_use + 5) {
    v[n] = hak_malloc(512);
    fill(v[n++], 512);
    s = stats_now();
  }
  CHECK(s.prefault_calls == s0.prefault_calls + 1, "the class's fifth slab: %llu prefaults, want 1",
        U(s.prefault_calls - s0.prefault_calls));
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += !verify(v[i], 512);
  CHECK(bad == 0, "%zu of %zu blocks overwritten", bad, n);
  for (size_t i = 0; i < n; i++) hak_free(v[i]);
}

/* The default threshold leaves a small heap alone. */
static void prefault_after_default_small(void *arg)
{
  (void)arg;
  set_flag("SS_SIZE", "1M");
  set_flag("SS_PREFAULT", "off");
  hak_stats_t s = small_workload();
  CHECK(s.prefault_calls == 0, "a 6 MiB heap was prefaulted (%llu calls) below the default threshold",
        U(s.prefault_calls));
}

static void hugepages(void *arg)
{
  const char *on = arg;
  set_flag("SS_SIZE", "2M");
  set_flag("SS_PREFAULT", "off");
  set_flag("USE_HUGEPAGES", on);
  hak_stats_t s = small_workload();
  if (strcmp(on, "1") == 0)
    CHECK(s.hugepage_advised_bytes > 0, "USE_HUGEPAGES=1 SS_SIZE=2M: hugepage_advised_bytes = 0");
  else
    CHECK(s.hugepage_advised_bytes == 0, "USE_HUGEPAGES=0: hugepage_advised_bytes = %llu",
          U(s.hugepage_advised_bytes));
}

int main(void)
{
  check_timeout(300);
  static char *modes[] = {"off", "populate", "madvise"};
  for (int i = 0; i < 3; i++) {
    char name[64];
    snprintf(name, sizeof name, "SS_PREFAULT=%s", modes[i]);
    check_in_child(name, prefault_mode, modes[i]);
  }
  check_in_child("SS_PREFAULT_AFTER_MB=1", prefault_after, "1");
  check_in_child("SS_PREFAULT_AFTER_MB=0", prefault_after, "0");
  check_in_child("SS_PREFAULT_AFTER_MB default, 80 MiB", prefault_after, NULL);
  check_in_child("SS_PREFAULT_AFTER_MB default, 6 MiB", prefault_after_default_small, NULL);
  check_in_child("SS_PREFAULT_AFTER_MB=1, blocks over a page", prefault_after_small_blocks_only, NULL);
  check_in_child("SS_PREFAULT_AFTER_MB=1, classes with 4 slabs", prefault_after_busy_classes_only, NULL);
  check_in_child("USE_HUGEPAGES=1", hugepages, "1");
  check_in_child("USE_HUGEPAGES=0", hugepages, "0");
  return check_finish();
}
