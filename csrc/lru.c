/* The LRU cache of empty SuperSlabs. A SuperSlab whose slabs are all empty
 * comes here with its pages still committed; a new SuperSlab is taken from
 * here before the OS. Bounded by count, bytes and age; what falls out is
 * decommitted and its address slot reused. Age is checked on every push and
 * pop, by hak_trim and by the background releaser (decay.c). */
#include <stdio.h>
#include <time.h>
#include "internal.h"

static struct {
  pthread_mutex_t lock;
  hk_ss *head, *tail; /* head: most recently cached */
  size_t count;
} lru = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hk_lru_init(void) {
  if (g_hk.trace_lru)
    hk_log("[LRU_INIT] max_cached=%zu max_memory_mb=%zu ttl_sec=%llu", g_hk.lru_max_cached,
           g_hk.lru_max_bytes >> 20, (unsigned long long)(g_hk.lru_ttl_ns / 1000000000ull));
}

static void unlink_locked(hk_ss *ss) {
  if (ss->prev) ss->prev->next = ss->next; else lru.head = ss->next;
  if (ss->next) ss->next->prev = ss->prev; else lru.tail = ss->prev;
  ss->next = ss->prev = NULL;
  lru.count--;
}

/* Unlinks the entries that break a bound onto *out; they are released by the
 * caller once the lock is dropped. */
static void evict_locked(hk_ss **out, uint64_t now, bool everything) {
  while (lru.tail) {
    hk_ss *old = lru.tail;
    const char *why = everything ? "trim"
                      : lru.count > g_hk.lru_max_cached ? "count"
                      : lru.count * g_hk.ss_size > g_hk.lru_max_bytes ? "memory"
                      : now - old->cached_at_ns >= g_hk.lru_ttl_ns ? "ttl" : NULL;
    if (!why) break;
    unlink_locked(old);
    if (g_hk.trace_lru)
      hk_log("[LRU_EVICT] ss=%p reason=%s (cache_size=%zu/%zu)", (void *)hk_ss_base(old), why, lru.count, g_hk.lru_max_cached);
    old->next = *out;
    *out = old;
  }
}

static size_t release_all(hk_ss *list) {
  size_t bytes = 0;
  while (list) {
    hk_ss *next = list->next;
    if (g_hk.trace_ss_free) hk_log("[SS_FREE] ss=%p released to the OS", (void *)hk_ss_base(list));
    HK_COUNT(lru_evict, 1);
    hk_os_ss_free(list);
    bytes += g_hk.ss_size;
    list = next;
  }
  return bytes;
}

void hk_lru_push(hk_ss *ss) {
  hk_ss *evicted = NULL;
  uint64_t now = now_ns();
  hk_lock(&lru.lock, HK_LOCK_LRU);
  ss->owner = NULL;
  ss->cached_at_ns = now;
  ss->prev = NULL;
  ss->next = lru.head;
  if (lru.head) lru.head->prev = ss; else lru.tail = ss;
  lru.head = ss;
  lru.count++;
  HK_COUNT(lru_push, 1);
  if (g_hk.trace_lru) hk_log("[LRU_PUSH] ss=%p (cache_size=%zu/%zu)", (void *)hk_ss_base(ss), lru.count, g_hk.lru_max_cached);
  evict_locked(&evicted, now, false);
  bool cached = lru.count > 0;
  hk_unlock(&lru.lock);
  release_all(evicted);
  if (cached) hk_decay_start(hk_lru_decay);
}

hk_ss *hk_lru_pop(void) {
  hk_ss *evicted = NULL, *ss;
  hk_lock(&lru.lock, HK_LOCK_LRU);
  evict_locked(&evicted, now_ns(), false);
  ss = lru.head;
  if (ss) unlink_locked(ss);
  HK_COUNT(lru_pop, 1);
  if (ss) HK_COUNT(lru_hit, 1); else HK_COUNT(lru_miss, 1);
  if (g_hk.trace_lru)
    hk_log("[LRU_POP] ss=%p (%s) (cache_size=%zu/%zu)", ss ? (void *)hk_ss_base(ss) : NULL, ss ? "hit" : "miss", lru.count, g_hk.lru_max_cached);
  hk_unlock(&lru.lock);
  release_all(evicted);
  return ss;
}

size_t hk_lru_flush(void) {
  hk_ss *evicted = NULL;
  hk_lock(&lru.lock, HK_LOCK_LRU);
  evict_locked(&evicted, now_ns(), true);
  hk_unlock(&lru.lock);
  return release_all(evicted);
}

bool hk_lru_decay(void) {
  hk_ss *evicted = NULL;
  hk_lock(&lru.lock, HK_LOCK_LRU);
  evict_locked(&evicted, now_ns(), false);
  bool left = lru.count > 0;
  hk_unlock(&lru.lock);
  release_all(evicted);
  return left;
}

/* For reports: not counted as a lock acquisition of the allocator. */
void hk_lru_counts(uint64_t *count, uint64_t *bytes) {
  hk_mutex_lock(&lru.lock);
  *count = lru.count;
  *bytes = lru.count * g_hk.ss_size;
  hk_mutex_unlock(&lru.lock);
}

void hk_lru_fork_prepare(void) { pthread_mutex_lock(&lru.lock); }
void hk_lru_fork_parent(void) { pthread_mutex_unlock(&lru.lock); }
