/* Fault injection: with every Nth OS mapping failing, allocation fails with
 * NULL and ENOMEM (nothing crashes, nothing leaks), and recovers as soon as
 * the faults stop. Each scenario runs in a fresh child process. */
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include "check.h"

/* The very first allocation needs mappings (thread heap, address-space chunk). */
static void first_allocation_fails_then_recovers(void *arg) {
  (void)arg;
  CHECK(hak_config_set("HAKMEM_FAULT_MMAP_FAIL_EVERY", "1") == HAK_OK, "set fault flag");
  errno = 0;
  void *p = hak_malloc(16);
  CHECK(p == NULL && errno == ENOMEM, "hak_malloc(16) with every mapping failing = %p, errno %d", p, errno);
  hak_fault_set_mmap_fail_every(0);
  p = hak_malloc(16);
  CHECK(p != NULL, "hak_malloc(16) after the faults stopped");
  fill(p, 16);
  CHECK(verify(p, 16), "block usable after recovery");
  hak_free(p);
  hak_stats_t s;
  hak_stats(&s);
  CHECK(s.os_map_failures >= 1, "os_map_failures = %llu", (unsigned long long)s.os_map_failures);
}

static void large_fails_then_recovers(void *arg) {
  (void)arg;
  hak_free(hak_malloc(16));
  hak_fault_set_mmap_fail_every(1);
  errno = 0;
  void *p = hak_malloc(1 << 20);
  CHECK(p == NULL && errno == ENOMEM, "hak_malloc(1 MiB) = %p, errno %d", p, errno);
  errno = 0;
  p = hak_calloc(1, 3 << 20);
  CHECK(p == NULL && errno == ENOMEM, "hak_calloc(3 MiB) = %p, errno %d", p, errno);
  errno = 0;
  p = hak_aligned_alloc(1 << 21, 100000);
  CHECK(p == NULL && errno == ENOMEM, "hak_aligned_alloc(2 MiB, 100000) = %p, errno %d", p, errno);
  void *small = hak_malloc(100); /* served from the SuperSlab already there: no mapping needed */
  CHECK(small != NULL, "small allocation while large ones fail");
  hak_fault_set_mmap_fail_every(0);
  p = hak_malloc(1 << 20);
  CHECK(p != NULL, "hak_malloc(1 MiB) after the faults stopped");
  if (p) {
    fill(p, 1 << 20);
    CHECK(verify(p, 1 << 20), "large block usable after recovery");
  }
  hak_free(p);
  hak_free(small);
}

/* Fills the first 64 MiB address-space chunk, so that small allocations need a new mapping. */
static void small_exhaustion_then_recovery(void *arg) {
  (void)arg;
  enum { MAX_BLOCKS = 200000, SIZE = 1024 };
  static void *blocks[MAX_BLOCKS];
  hak_free(hak_malloc(16));
  hak_fault_set_mmap_fail_every(1);
  size_t n = 0;
  while (n < MAX_BLOCKS && (blocks[n] = hak_malloc(SIZE)) != NULL) fill(blocks[n++], SIZE);
  CHECK(n < MAX_BLOCKS, "%zu blocks of 1 KiB allocated with every mapping failing: no failure seen", n);
  CHECK(errno == ENOMEM, "errno = %d after the failed allocation", errno);
  CHECK(n > 1000, "only %zu blocks before the first failure: the existing chunk was not used", n);
  hak_fault_set_mmap_fail_every(0);
  void *more = hak_malloc(SIZE);
  CHECK(more != NULL, "allocation after the faults stopped");
  for (size_t i = 0; i < n; i++) {
    CHECK(verify(blocks[i], SIZE), "block %zu corrupted", i);
    hak_free(blocks[i]);
  }
  hak_free(more);
  hak_stats_t s;
  hak_stats(&s);
  CHECK(s.bytes_in_use < 64 * 1024, "bytes_in_use = %llu after freeing everything", (unsigned long long)s.bytes_in_use);
}

/* Intermittent failures in a mixed workload: every failure is a clean NULL.
 * arg: HAKMEM_LARGE_MAX_BLOCK. At 64K every large block is a huge block with
 * its own mapping, so allocations keep failing; by default large blocks share
 * arenas, mapped once, and the failures fall where they may (if anywhere). */
static void intermittent_failures(void *arg) {
  const char *max_block = arg;
  CHECK(hak_config_set("LARGE_MAX_BLOCK", max_block) == HAK_OK, "config");
  enum { SLOTS = 512 };
  static void *slot[SLOTS];
  static size_t slot_size[SLOTS];
  CHECK(hak_config_set("SS_SIZE", "512K") == HAK_OK && hak_config_set("LARGE_CACHE_MAX_RUNS", "0") == HAK_OK, "config");
  CHECK(hak_config_set("SS_LRU_MAX_CACHED", "0") == HAK_OK, "config");
  hak_fault_set_mmap_fail_every(3);
  uint32_t x = 12345;
  size_t failures = 0;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    unsigned k = x % SLOTS;
    if (slot[k]) {
      CHECK(verify(slot[k], slot_size[k]), "slot %u corrupted", k);
      hak_free(slot[k]);
      slot[k] = NULL;
    } else {
      size_t n = (x >> 9) % 8 == 0 ? 70000 + (x >> 12) % 300000 : 16 + (x >> 12) % 2000;
      errno = 0;
      slot[k] = hak_malloc(n);
      if (!slot[k]) {
        CHECK(errno == ENOMEM, "failed allocation left errno %d", errno);
        failures++;
        continue;
      }
      slot_size[k] = n;
      fill(slot[k], n);
    }
  }
  if (strcmp(max_block, "64K") == 0) CHECK(failures > 0, "no allocation failed with every third mapping failing");
  hak_fault_set_mmap_fail_every(0);
  for (int k = 0; k < SLOTS; k++) hak_free(slot[k]);
  hak_trim();
  hak_stats_t s;
  hak_stats(&s);
  CHECK(s.bytes_in_use < 64 * 1024, "bytes_in_use = %llu after freeing everything", (unsigned long long)s.bytes_in_use);
}

/* The virtual size now, in bytes (/proc/self/statm's first field, in pages). */
static size_t vm_size_now(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  if (f) {
    if (fscanf(f, "%llu", &pages) != 1) pages = 0;
    fclose(f);
  }
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void *free_half_of(void *arg) {
  void **blocks = arg;
  for (int i = 0; i < 2000; i += 2) hak_free(blocks[i]);
  return NULL;
}

/* Under an address-space limit (ulimit -v) that leaves no room for the
 * SuperSlab arena (1 GiB at the least), SuperSlabs are mapped chunk by chunk
 * and every free takes the registry's test: the allocator works the same,
 * misuse is still caught, and the statistics stay exact. */
static void without_the_arena(void *arg) {
  (void)arg;
  struct rlimit limit = {.rlim_cur = vm_size_now() + ((size_t)768 << 20), .rlim_max = RLIM_INFINITY};
  CHECK(setrlimit(RLIMIT_AS, &limit) == 0, "setrlimit(RLIMIT_AS): %s", strerror(errno));
  static void *blocks[2000];
  for (int i = 0; i < 2000; i++) {
    blocks[i] = hak_malloc(16 + (size_t)(i % 200) * 40);
    CHECK(blocks[i] != NULL, "hak_malloc under the limit");
    if (blocks[i]) fill(blocks[i], 16 + (size_t)(i % 200) * 40);
  }
  hak_stats_t s;
  hak_stats(&s);
  CHECK(s.superslab_arena_bytes == 0, "superslab_arena_bytes = %llu under a %zu MiB address-space limit",
        (unsigned long long)s.superslab_arena_bytes, (size_t)(limit.rlim_cur >> 20));
  pthread_t t; /* half the blocks freed by another thread */
  CHECK(pthread_create(&t, NULL, free_half_of, blocks) == 0, "pthread_create");
  pthread_join(t, NULL);
  int on_stack[4];
  hak_stats_t before;
  hak_stats(&before);
  hak_free(on_stack);
  hak_free(blocks[1]);
  hak_free(blocks[1]); /* a double free */
  hak_stats(&s);
  CHECK(s.foreign_frees - before.foreign_frees == 1, "foreign_frees moved by %llu, want 1",
        (unsigned long long)(s.foreign_frees - before.foreign_frees));
  CHECK(s.invalid_frees - before.invalid_frees == 1, "invalid_frees moved by %llu, want 1",
        (unsigned long long)(s.invalid_frees - before.invalid_frees));
  for (int i = 3; i < 2000; i += 2) {
    CHECK(verify(blocks[i], 16 + (size_t)(i % 200) * 40), "block %d corrupted", i);
    hak_free(blocks[i]);
  }
  hak_trim();
  hak_stats(&s);
  CHECK(s.bytes_in_use == 0, "bytes_in_use = %llu after freeing everything", (unsigned long long)s.bytes_in_use);
  CHECK(s.frees == s.allocs, "allocs %llu, frees %llu", (unsigned long long)s.allocs, (unsigned long long)s.frees);
}

int main(void) {
  check_in_child("first allocation", first_allocation_fails_then_recovers, NULL);
  check_in_child("large tier", large_fails_then_recovers, NULL);
  check_in_child("small tier exhaustion", small_exhaustion_then_recovery, NULL);
  check_in_child("intermittent, huge blocks", intermittent_failures, "64K");
  check_in_child("intermittent, arenas", intermittent_failures, "32M");
  check_in_child("no SuperSlab arena", without_the_arena, NULL);
  return check_finish();
}
