/* Statistics: per-thread counters summed on demand, rare-path counters kept
 * atomically, and what only the kernel knows (page faults, RSS). The field
 * list (hakmem_stats_fields.h) drives the struct, the copying of counters,
 * the JSON and the text report. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "internal.h"

#define LOAD(field) atomic_load_explicit(&hk_ctr.field, memory_order_relaxed)

static uint64_t rss_now(void) {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The blocks in class c's cache of h, which may be another running thread's:
 * read as of some moment, its bound growing (heap.c, tc_grow) can show a
 * bound and a room from two moments; such a reading counts none
 * (hk_tc_held, exact for the owner). */
static uint32_t cache_held(const hk_heap *h, unsigned c) {
  uint32_t limit = __atomic_load_n(&h->tc_limit[c], __ATOMIC_RELAXED);
  uint64_t room = __atomic_load_n(&h->tc_room[c], __ATOMIC_RELAXED);
  return room > limit ? 0 : limit - (uint32_t)room;
}

int hak_stats(hak_stats_t *o) {
  if (!o) return HAK_E_BAD_VALUE;
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
#define COPY_COUNTER(name) o->name = LOAD(name);
#define COPY_SUMMED(name)
#define COPY(name, source, description) COPY_##source(name)
  HAK_STATS_FIELDS(COPY)
#undef COPY
#undef COPY_SUMMED
#undef COPY_COUNTER
  uint64_t live[HK_NCLASSES] = {0};
  hk_heaps_lock();
  for (hk_heap *h = hk_heaps_first(); h; h = h->all_next) {
    for (unsigned c = 0; c < HK_NCLASSES; c++) {
      uint32_t held = cache_held(h, c);
      uint64_t allocs = h->nalloc[c] + h->nalloc_above[c] + hk_tc_pops_holding(h, c, held);
      uint64_t frees = h->nfree[c] + h->tc_pushes[c];
      o->small_allocs += allocs;
      o->small_frees += frees;
      live[c] += allocs - frees;
      o->thread_cache_bytes += (uint64_t)held * hk_class_size[c];
    }
    /* blocks held from the inbox (heap.c) wait for the cache as its own do; count and class as of some moment */
    uint32_t inbox_held = __atomic_load_n(&h->held_count, __ATOMIC_RELAXED);
    o->thread_cache_bytes += (uint64_t)inbox_held * hk_class_size[__atomic_load_n(&h->held_cls, __ATOMIC_RELAXED)];
    /* and blocks taken for the class below (heap.c, pool_take_above) */
    for (unsigned i = 0; i < HK_ABOVE_SLOTS; i++) {
      uint32_t above = __atomic_load_n(&h->above[i].count, __ATOMIC_RELAXED);
      o->thread_cache_bytes += (uint64_t)above * hk_class_size[__atomic_load_n(&h->above[i].cls, __ATOMIC_RELAXED)];
    }
    o->remote_frees += h->remote_frees;
    o->slabs_emptied += h->slabs_emptied;
    o->slabs_reused += h->slabs_reused;
    o->slabs_in_use += h->slabs_in_use;
    o->classes_split += h->classes_split;
    o->heaps_coarse += h->coarse_only;
  }
  hk_heaps_unlock();
  for (unsigned c = 0; c < HK_NCLASSES; c++) {
    uint64_t unowned = atomic_load_explicit(&hk_ctr.nfree_unowned[c], memory_order_relaxed);
    o->small_frees += unowned;
    live[c] -= unowned;
    o->bytes_in_use += live[c] * hk_class_size[c];
  }
  hk_large_tally large;
  hk_large_counts(&large);
  o->large_allocs = large.allocs;
  o->large_frees = large.frees;
  o->large_cache_hits = large.cache_hits + large.slot_allocs; /* a parked block's pages are committed */
  o->large_cache_misses = large.cache_misses;
  o->bytes_in_use += large.bytes;
  o->lock_acquisitions += large.pool_locks;
  o->allocs = o->small_allocs + o->large_allocs;
  o->frees = o->small_frees + o->large_frees;
  o->remote_frees += LOAD(remote_frees_unowned);
  uint64_t cached_bytes;
  if (hk_is_initialised()) hk_lru_counts(&o->superslabs_cached, &cached_bytes);
  o->superslab_bytes = g_hk.ss_size;
  hk_large_cache_counts(&o->large_cached, &o->large_cached_bytes);
  o->locks_os = LOAD(lock_path[HK_LOCK_OS]);
  o->locks_meta = LOAD(lock_path[HK_LOCK_META]);
  o->locks_lru = LOAD(lock_path[HK_LOCK_LRU]);
  o->locks_heaps = LOAD(lock_path[HK_LOCK_HEAPS]);
  o->locks_large = LOAD(lock_path[HK_LOCK_LARGE]) + large.pool_locks;
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    o->page_faults = (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
    o->rss_peak = (uint64_t)ru.ru_maxrss * 1024;
  }
  o->rss_current = rss_now();
  return HAK_OK;
}

/* Renders the report: JSON object, or "  key: value" lines after a title. */
static size_t render(char *buf, size_t cap, bool json) {
  hak_stats_t s;
  hak_stats(&s);
  size_t n = (size_t)snprintf(buf, cap, json ? "{" : "== hakmem stats ==\n");
  const char *sep = "";
#define X(f, source, description)                                                                \
  if (n < cap) n += (size_t)snprintf(buf + n, cap - n, json ? "%s\"" #f "\":%llu" : "%s  " #f ": %llu\n", \
                                     sep, (unsigned long long)s.f);                              \
  sep = json ? "," : "";
  HAK_STATS_FIELDS(X)
#undef X
  if (json && n + 1 < cap) buf[n++] = '}', buf[n] = 0;
  return n < cap ? n : cap - 1;
}

/* Each thread with a heap renders into its own buffer; threads that never
 * allocated share one (creating a heap here would freeze the configuration). */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
void hk_stats_fork_prepare(void) { pthread_mutex_lock(&shared_lock); }
void hk_stats_fork_parent(void) { pthread_mutex_unlock(&shared_lock); }

const char *hak_stats_json(void) {
  static char shared[4096];
  hk_heap *h = hk_tl.heap;
  if (h == &hk_empty_heap) {
    hk_mutex_lock(&shared_lock);
    render(shared, sizeof shared, true);
    hk_mutex_unlock(&shared_lock);
    return shared;
  }
  if (!h->json_buf) {
    h->json_cap = 4096;
    h->json_buf = hk_meta_alloc(h->json_cap);
    if (!h->json_buf) return "{}";
  }
  render(h->json_buf, h->json_cap, true);
  return h->json_buf;
}

void hak_stats_print(int fd) {
  char buf[4096];
  size_t n = render(buf, sizeof buf, false);
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, buf + off, n - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
}

/* HAKMEM_LOCK_STATS: lock acquisitions per path, and per 100 allocations and frees. */
static void print_lock_stats(int fd) {
  hak_stats_t s;
  hak_stats(&s);
  uint64_t ops = s.allocs + s.frees;
  char buf[512];
  int n = snprintf(buf, sizeof buf,
                   "[hakmem] lock acquisitions: total=%llu os=%llu meta=%llu lru=%llu heaps=%llu large=%llu; "
                   "allocations and frees=%llu (reallocs in place not counted); locks per 100 of them=%.4f\n",
                   (unsigned long long)s.lock_acquisitions, (unsigned long long)s.locks_os,
                   (unsigned long long)s.locks_meta, (unsigned long long)s.locks_lru,
                   (unsigned long long)s.locks_heaps, (unsigned long long)s.locks_large, (unsigned long long)ops,
                   ops ? 100.0 * (double)s.lock_acquisitions / (double)ops : 0.0);
  if (n > 0 && write(fd, buf, (size_t)n) < 0) return;
}

/* HAKMEM_STATS_FILE: the JSON report, for programs that read it back (the
 * CLI's `run`, the benchmark runner, the tuning loop). */
static void write_stats_file(const char *path) {
  char buf[4096];
  size_t n = render(buf, sizeof buf, true);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    hk_log("hakmem: cannot write HAKMEM_STATS_FILE=%s", path);
    return;
  }
  buf[n++] = '\n';
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, buf + off, n - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  close(fd);
}

__attribute__((destructor)) static void report_at_exit(void) {
  int fd = hk_report_fd();
  hk_config_load();
  const char *file = hak_config_get("HAKMEM_STATS_FILE");
  if (file && *file) write_stats_file(file);
  /* the values, not their text: formatting that would fault printf's code in
   * at the exit of every process (config.c, set_value) */
  if (hk_config_value("HAKMEM_STATS") == 1) hak_stats_print(fd);
  if (hk_config_value("HAKMEM_LOCK_STATS") == 1) print_lock_stats(fd);
}
