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
/* The floor of every class's thread cache in a heap without one (this one,
 * the exit heap, HAKMEM_THREAD_CACHE off): each stack is empty and full at
 * once, and the word read as its top is no block. */
hk_block *const hk_tc_none[1] = {NULL};
hk_heap hk_empty_heap = {.current = {[0 ... HK_NCLASSES - 1] = &hk_empty_slab},
                         .tc = {[0 ... HK_NCLASSES - 1] = (hk_block **)hk_tc_none},
                         .tc_end = {[0 ... HK_NCLASSES - 1] = (hk_block **)hk_tc_none},
                         .tc_floor = {[0 ... HK_NCLASSES - 1] = (hk_block **)hk_tc_none},
                         .class_of_small = {HK_CLASS_SMALL_COARSE_RANGES},
                         .class_of_mid = {HK_CLASS_MID_RANGES}};
__thread hk_heap *hk_tl_heap = &hk_empty_heap;

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
    /* the tables, and their copies in the heap of threads without one (every other heap copies the tables) */
    if (!hk_size_classes_verify() ||
        memcmp(hk_empty_heap.class_of_small, hk_class_small_coarse, sizeof hk_class_small_coarse) != 0 ||
        memcmp(hk_empty_heap.class_of_mid, hk_class_mid, sizeof hk_class_mid) != 0) {
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
