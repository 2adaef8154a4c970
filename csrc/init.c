/* Initialisation, once per process: the configuration frozen into g_hk, the
 * per-process keys, the size classes of the SuperSlab size, the SuperSlab
 * arena's reservation, the LRU cache.
 * Serialised by a mutex that the fork handlers (fork.c) also take, so a fork
 * never copies a half-done initialisation into the child. It allocates
 * nothing. Also the state a thread starts in: no heap (hk_empty_heap), whose
 * every class points at a slab with no free block, so the first allocation
 * of each thread takes the slow path, which makes its heap (heap.c). */
#include <stdlib.h>
#include <sys/random.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

hk_slab hk_empty_slab = {.free = HK_END, .cls = HK_CLASS_NONE};
#define HK_CLASS_ITSELF(c) c
/* Its thread caches are empty (tc NULL) and full (tc_room 0) at once. */
#define HK_EMPTY_HEAP_TOP(c) &hk_empty_heap.tc[c]
hk_heap hk_empty_heap = {.current = {[0 ... HK_NCLASSES - 1] = &hk_empty_slab},
                         .class_small = {HK_CLASS_GRANULE_COARSE_RANGES(HK_CLASS_ITSELF)},
                         .tc_of = {HK_CLASS_GRANULE_COARSE_RANGES(HK_EMPTY_HEAP_TOP)}};
__thread hk_thread_state hk_tl = {.heap = &hk_empty_heap,
                                  .tc_of = {HK_CLASS_GRANULE_COARSE_RANGES(HK_EMPTY_HEAP_TOP)}};

/* Whether t, a table in 16-byte steps, gives every size the coarse table's class. */
static bool coarse_in_granules(const uint8_t *t) {
  for (size_t size = 0; size <= HK_CLASS_SMALL_MAX; size++)
    if (t[HK_CLASS_GRANULE(size)] != hk_class_small_coarse[size]) return false;
  return true;
}

/* Whether the calling thread's cache tops (hk_tl) and the empty heap's copy
 * of them are those of the empty heap's coarse classes. */
static bool thread_tops_coarse(void) {
  for (size_t g = 0; g < HK_CLASS_GRANULES; g++) {
    hk_block **top = &hk_empty_heap.tc[hk_empty_heap.class_small[g]];
    if (hk_tl.tc_of[g] != top || hk_empty_heap.tc_of[g] != top) return false;
  }
  return true;
}

static _Atomic int init_done;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static uintptr_t random_key(void) {
  uintptr_t key = 0;
  if (getrandom(&key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    key = (uintptr_t)&key * 0x9E3779B97F4A7C15ull ^ (uintptr_t)ts.tv_nsec ^ ((uintptr_t)getpid() << 32);
  }
  return key | 1;
}

bool hk_is_initialised(void) { return atomic_load_explicit(&init_done, memory_order_acquire); }

void hk_init(void) {
  if (HK_LIKELY(hk_is_initialised())) return;
  hk_mutex_lock(&init_lock);
  if (!hk_is_initialised()) {
    /* the tables, and the coarse one in 16-byte steps that every heap starts from (the empty heap's)
     * and every thread (no thread has a heap before this) */
    if (!hk_size_classes_verify() || !coarse_in_granules(hk_empty_heap.class_small) || !thread_tops_coarse()) {
      hk_log("hakmem: internal error: size class table inconsistent");
      abort();
    }
    hk_config_freeze();
    if (g_hk.secure) g_hk.secure_key = random_key();
    if (g_hk.check) g_hk.check_key = random_key();
    /* else keep what hak_fault_set_mmap_fail_every set before initialisation */
    if (g_hk.map_fail_every) hk_os_set_map_fail_every(g_hk.map_fail_every);
    hk_size_classes_init(g_hk.nslabs);
    hk_os_init();
    if (g_hk.stats_at_exit || g_hk.lock_stats) hk_report_keep_stderr();
    hk_lru_init();
    atomic_store_explicit(&init_done, 1, memory_order_release);
  }
  hk_mutex_unlock(&init_lock);
}

void hk_init_fork_prepare(void) { pthread_mutex_lock(&init_lock); }
void hk_init_fork_parent(void) { pthread_mutex_unlock(&init_lock); }
