/* The hak_* API: initialisation, the paths above the inline fast paths
 * (large sizes, alignment, validation, realloc) and misuse reports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

hk_globals g_hk = {
  /* Valid before initialisation so that no address maps into a SuperSlab. */
  .ss_mask = ~(uintptr_t)((1u << 20) - 1),
  .ss_size = 1u << 20,
};

/* ---- initialisation -----------------------------------------------------------
 * Serialised by a mutex that fork_prepare also takes, so a fork never copies a
 * half-done initialisation into the child. Initialisation allocates nothing. */
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
    if (!hk_size_classes_verify()) {
      hk_log("hakmem: internal error: size class table inconsistent");
      abort();
    }
    hk_config_freeze();
    if (g_hk.secure) g_hk.secure_key = random_key();
    if (g_hk.check) g_hk.check_key = random_key();
    hk_size_classes_init(g_hk.nslabs);
    hk_stats_init();
    hk_lru_init();
    hk_heap_init_globals();
    atomic_store_explicit(&init_done, 1, memory_order_release);
  }
  hk_mutex_unlock(&init_lock);
}

__attribute__((destructor)) static void hk_at_exit(void) { hk_stats_report_at_exit(); }

/* fork: no lock may be held across it by another thread, and it must not cut
 * an initialisation in half. The prepare handler takes every lock (in the
 * order the code nests them), then opens the fork window (internal.h), so
 * atfork handlers of other libraries that run after it in this thread can
 * still allocate; the parent and child handlers close it and release. The
 * handlers are registered when the library is loaded. */
__thread uint8_t hk_tl_fork_window;

static void fork_prepare(void) {
  pthread_mutex_lock(&init_lock);
  hk_config_fork_prepare();
  hk_stats_fork_prepare();
  hk_heap_fork_prepare();
  hk_lru_fork_prepare();
  hk_large_fork_prepare();
  hk_lent_fork_prepare();
  hk_os_fork_prepare();
  hk_tl_fork_window = 1;
}
static void fork_parent(void) {
  hk_tl_fork_window = 0;
  hk_os_fork_parent();
  hk_lent_fork_parent();
  hk_large_fork_parent();
  hk_lru_fork_parent();
  hk_heap_fork_parent();
  hk_stats_fork_parent();
  hk_config_fork_parent();
  pthread_mutex_unlock(&init_lock);
}
/* The child holds every lock the parent took in prepare (only the forking
 * thread survives): fix up the heaps, then release them as the parent does. */
static void fork_child(void) {
  hk_heap_fork_child();
  fork_parent();
}
__attribute__((constructor)) static void hk_register_fork_handlers(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- misuse ---------------------------------------------------------------- */
void hk_report_invalid_call(const char *call, const void *p, int state) {
  const char *what = state == HAK_BLOCK_FREE       ? "double free (the block is already free)"
                     : state == HAK_BLOCK_INTERIOR ? "pointer into the middle of a block"
                                                   : "pointer not allocated by hakmem";
  if (state == HAK_BLOCK_FOREIGN) HK_COUNT(foreign_frees, 1);
  else HK_COUNT(invalid_frees, 1);
#ifdef HAK_PRELOAD
  hk_log("hakmem: %s(%p): %s; aborting", call, p, what);
  abort();
#else
  static _Atomic unsigned reported;
  unsigned n = atomic_fetch_add(&reported, 1);
  if (n < 64) hk_log("hakmem: hak_%s(%p): %s; ignored", call, p, what);
  else if (n == 64) hk_log("hakmem: further invalid frees are counted (invalid_frees, foreign_frees) but not printed");
#endif
}

void hk_report_invalid_free(const void *p, int state) { hk_report_invalid_call("free", p, state); }

/* ---- slow paths -------------------------------------------------------------- */
void *hk_alloc_slow(size_t size) {
  hk_init();
  return hk_large_alloc(size, 0, NULL);
}

void *hk_alloc_aligned(size_t align, size_t size) {
  if (align <= 16) return hk_alloc(size);
  if (HK_UNLIKELY(align > HK_ALIGN_MAX)) { /* would reserve align bytes of address space */
    errno = ENOMEM;
    return NULL;
  }
  size_t need = size < align ? align : size;
  if (need <= HK_SLAB_MAX && align <= HK_PAGE_SIZE) {
    /* Slab starts are page aligned, so a class whose size is a multiple of
     * align gives aligned blocks. */
    for (unsigned c = hk_class_of(need); c < HK_NCLASSES; c++)
      if ((hk_class_size[c] & (align - 1)) == 0) return hk_alloc_class(c);
  }
  hk_init();
  return hk_large_alloc(size, align, NULL);
}

bool hk_free_nonsmall(void *p) { return p == NULL || hk_large_free(p); }

static int block_state(const void *p) {
  uintptr_t a = (uintptr_t)p;
  if (hk_registry_has(a)) {
    hk_slab *s = hk_slab_of(hk_ss_of(a), a);
    if (s->cls == HK_CLASS_NONE) return (a & 15) == 0 ? HAK_BLOCK_FREE : HAK_BLOCK_INTERIOR;
    s = hk_slab_head(s);
    hk_heap *owner = s->owner;
    if (owner == hk_tl_heap) return hk_slab_block_state(s, a, true);
    int state = hk_slab_block_state(s, a, false);
    /* live as far as the remote list tells: an abandoned owner's own lists may know better */
    return state == HAK_BLOCK_LIVE && owner && !g_hk.check ? hk_heap_foreign_block_state(owner, s, a) : state;
  }
  if (!p) return HAK_BLOCK_FOREIGN;
  if (hk_large_usable(p)) return HAK_BLOCK_LIVE;
  return hk_large_recently_freed(p) ? HAK_BLOCK_FREE : HAK_BLOCK_FOREIGN;
}

int hk_block_state(const void *p) {
  int state = block_state(p);
  /* A block lent to JavaScript with no guard (buffer.c) is not the caller's to free, resize or own. */
  return state == HAK_BLOCK_LIVE && HK_UNLIKELY(hk_lent_unguarded(p)) ? HAK_BLOCK_FOREIGN : state;
}

/* Frees p, known to be a live block (slab or large). */
static void free_live(void *p) {
  if (!hk_free_small_slow(p)) hk_free_nonsmall(p);
}

/* The error a free of a block in state (not LIVE) returns. */
static int free_error(int state) { return state == HAK_BLOCK_FREE ? HAK_E_DOUBLE_FREE : HAK_E_FOREIGN; }

int hk_free_validated(void *p) {
  int state = p ? hk_block_state(p) : HAK_BLOCK_FOREIGN;
  if (state == HAK_BLOCK_LIVE) {
    free_live(p);
    return HAK_OK;
  }
  if (p) HK_COUNT(invalid_frees, 1);
  return free_error(state);
}

size_t hk_usable_size(const void *p) {
  uintptr_t a = (uintptr_t)p;
  if (hk_registry_has(a)) {
    hk_slab *s = hk_slab_of(hk_ss_of(a), a);
    return s->cls == HK_CLASS_NONE ? 0 : hk_slab_head(s)->block_size;
  }
  return p ? hk_large_usable(p) : 0;
}

/* p is a live hakmem block with old_usable bytes. */
/* A buffer that grows past this leaves the slab tier for the large tier,
 * where it grows in place, instead of being copied into each size class. */
#define HK_REALLOC_LARGE_FROM (16u * 1024)

void *hk_realloc_owned(void *p, size_t size, size_t old_usable) {
  if (hk_registry_has((uintptr_t)p)) {
    if (size <= old_usable && size >= old_usable / 2) return p; /* wastes at most half */
  } else if (size > HK_REALLOC_LARGE_FROM) {
    if (size <= old_usable && old_usable - size < HK_PAGE_SIZE) return p; /* the same pages */
    void *q = hk_large_realloc(p, size); /* grown or shrunk in place (or remapped) */
    if (q) return q;
  }
  bool to_large = size > old_usable && size > HK_REALLOC_LARGE_FROM;
  void *q = to_large ? hk_large_alloc(size, 0, NULL) : hk_alloc(size);
  if (!q) return NULL;
  memcpy(q, p, size < old_usable ? size : old_usable);
  free_live(p);
  return q;
}

void *hk_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (total > HK_SLAB_MAX) {
    hk_init();
    return hk_large_calloc(total); /* clears only the pages that may hold data */
  }
  void *p = hk_alloc(total);
  if (p) memset(p, 0, total);
  return p;
}

/* ---- the exported API ------------------------------------------------------------ */
/* Blocks handed out through the hak_* API start with a zero word: a free
 * block's first word is a list link, so hak_free_checked and hak_owns can
 * tell an unwritten live block from a free one without walking a free list.
 * (The preload malloc does not pay for this: its callers do not validate.) */
static inline void *clear_first_word(void *p) {
  if (p) *(uintptr_t *)p = 0;
  return p;
}

void *hak_malloc(size_t size) { return clear_first_word(hk_alloc(size)); }

static HK_NOINLINE void free_slow(void *p) {
  if (g_hk.check) {
    int state = p ? hk_block_state(p) : HAK_BLOCK_LIVE;
    if (state != HAK_BLOCK_LIVE) {
      hk_report_invalid_free(p, state);
      return;
    }
  }
  if (hk_free_small_slow(p) || hk_free_nonsmall(p)) return;
  hk_report_invalid_free(p, hk_large_recently_freed(p) ? HAK_BLOCK_FREE
                            : hk_large_interior(p)     ? HAK_BLOCK_INTERIOR
                                                       : HAK_BLOCK_FOREIGN);
}

void hak_free(void *p) {
  if (HK_LIKELY(!g_hk.free_checks) && HK_LIKELY(hk_free_small(p))) return;
  free_slow(p);
}

void *hak_calloc(size_t count, size_t size) { return hk_calloc(count, size); }

void *hak_realloc(void *p, size_t size) {
  if (!p) return clear_first_word(hk_alloc(size));
  if (size == 0) {
    hak_free(p);
    return NULL;
  }
  int state = g_hk.check ? hk_block_state(p) : HAK_BLOCK_LIVE;
  size_t old = state == HAK_BLOCK_LIVE ? hk_usable_size(p) : 0;
  if (old == 0) {
    if (state == HAK_BLOCK_LIVE) state = hk_large_recently_freed(p) ? HAK_BLOCK_FREE : HAK_BLOCK_FOREIGN;
    hk_report_invalid_call("realloc", p, state);
    errno = EINVAL;
    return NULL;
  }
  return hk_realloc_owned(p, size, old);
}

void *hak_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1))) {
    errno = EINVAL;
    return NULL;
  }
  return clear_first_word(hk_alloc_aligned(alignment, size));
}

size_t hak_usable_size(const void *p) {
  return hk_block_state(p) == HAK_BLOCK_LIVE ? hk_usable_size(p) : 0;
}

int hak_owns(const void *p) { return hk_block_state(p) == HAK_BLOCK_LIVE; }
int hak_block_state(const void *p) { return hk_block_state(p); }
int hak_free_checked(void *p) {
  hk_slab *s = HK_LIKELY(!g_hk.free_checks) ? hk_own_live_slab((uintptr_t)p) : NULL;
  if (HK_LIKELY(s != NULL)) {
    hk_free_local(hk_tl_heap, s, (hk_block *)p);
    return HAK_OK;
  }
  return hk_free_validated(p);
}

size_t hak_malloc_batch(size_t size, size_t count, void **out) {
  if (!out) return 0;
  size_t i = 0;
  if (size <= HK_SLAB_MAX) {
    unsigned c = hk_class_of(size);
    for (; i < count && (out[i] = clear_first_word(hk_alloc_class(c))) != NULL; i++) {}
  } else {
    for (; i < count && (out[i] = clear_first_word(hk_alloc_slow(size))) != NULL; i++) {}
  }
  return i;
}

void hak_free_batch(void **ptrs, size_t count) {
  if (!ptrs) return;
  for (size_t i = 0; i < count; i++)
    if (ptrs[i]) hak_free(ptrs[i]);
}

void hak_free_deallocator(void *bytes, void *ctx) {
  (void)ctx;
  hak_free(bytes);
}

void *hak_buffer_deallocator(void) { return (void *)&hak_free_deallocator; }

/* All or nothing in one pass over the batch and one pass of frees: each
 * entry is checked live, then its first word is saved in a scratch array and
 * replaced by a mark, the address of its scratch slot. An entry whose block
 * already carries the mark of an earlier slot holding the same pointer is a
 * repeat (exact: the slot names it). On a bad entry the saved words go back
 * and nothing was freed; otherwise every block is freed (a free overwrites the
 * mark), those of the calling thread's own slabs straight onto their lists
 * (the slab was found by the check), in reverse order. The scratch is on the stack or in a
 * private mapping: never in the user's heap, whose statistics must show only
 * the user's blocks. */
#define BATCH_ON_STACK 4096 /* 64 KiB of stack */

typedef struct batch_scratch {
  uintptr_t saved;  /* the block's first word before the mark */
  hk_slab *own;     /* its slab when it is the calling thread's own (hk_own_live_slab), else NULL */
} batch_scratch;

/* The calling thread's slab that held the previous entry: batches come in
 * runs from one slab, and what hk_own_block_live reads from the slab is read
 * once per run. Its remote list is looked at once too: a block of this batch
 * that another thread frees meanwhile is the caller's race, and a NULL first
 * word then reads live as it would have a moment earlier. */
typedef struct own_run {
  hk_slab *slab;
  uintptr_t start, len; /* the slab's blocks: [start, start + len) */
  uintptr_t span;       /* carved bytes: a free block's link points below start + span */
  bool remote_empty;
} own_run;

static inline void own_run_set(own_run *r, hk_slab *s) {
  *r = (own_run){s, s->start, (uintptr_t)s->capacity * s->block_size, (uintptr_t)s->carved * s->block_size,
                 atomic_load_explicit(&s->remote, memory_order_relaxed) == NULL};
}

/* hk_own_block_live(r->slab, a) for an a inside the run's slab, with its first word already read. */
static inline bool own_run_live(const own_run *r, uintptr_t a, uintptr_t word) {
  return hk_block_start_ok(r->slab, a) && a - r->start < r->span && word != (uintptr_t)HK_END &&
         word - r->start >= r->span && (word != 0 || r->remote_empty);
}

static int check_and_mark(void **ptrs, size_t count, batch_scratch *scratch, size_t *bad) {
  bool fast = !g_hk.free_checks;
  own_run run = {.len = 0};
  for (size_t i = 0; i < count; i++) {
    void *p = ptrs[i];
    if (!p) continue;
    uintptr_t a = (uintptr_t)p;
    hk_slab *own = NULL;
    if (fast) {
      if (a - run.start >= run.len) {
        hk_slab *s = hk_own_slab_of(a);
        if (s) own_run_set(&run, s);
      }
      if (a - run.start < run.len && own_run_live(&run, a, *(uintptr_t *)p)) own = run.slab;
    }
    if (!own) {
      int state = hk_block_state(p); /* a marked block reads live: its mark is no link */
      if (state != HAK_BLOCK_LIVE) {
        *bad = i;
        return free_error(state);
      }
    }
    uintptr_t word = *(uintptr_t *)p, slot = (word - (uintptr_t)scratch) / sizeof *scratch;
    if (word >= (uintptr_t)scratch && slot < i && word % sizeof *scratch == 0 && ptrs[slot] == p) {
      *bad = i;
      return HAK_E_DOUBLE_FREE;
    }
    scratch[i].saved = word;
    scratch[i].own = own;
    *(uintptr_t *)p = (uintptr_t)&scratch[i];
  }
  return HAK_OK;
}

/* Frees a checked batch, last checked first (those blocks are still in the
 * cache). A run of entries from one of the calling thread's slabs is linked
 * onto the slab's list in a register and its counters change once per run:
 * hk_free_local per block spent most of this loop on the slab's own fields
 * (a store and reload of s->free and s->used per block, perf). The check
 * excluded repeats and freed blocks, so hk_free_local's test of the list
 * head is not needed. A slab emptied by an earlier run held none of the later
 * (live) entries. */
static void free_checked_batch(void **ptrs, size_t count, const batch_scratch *scratch) {
  hk_heap *h = hk_tl_heap;
  for (size_t i = count; i-- > 0;) {
    hk_block *b = ptrs[i];
    if (!b) continue;
    hk_slab *s = scratch[i].own;
    if (!s) {
      free_live(b);
      continue;
    }
    hk_block *head = s->free;
    uint32_t n = 0;
    for (;;) {
      b->next = head;
      head = b;
      n++;
      if (i == 0 || !ptrs[i - 1] || scratch[i - 1].own != s) break;
      b = ptrs[--i];
    }
    unsigned c = s->cls;
    s->free = head;
    h->nfree[c] += n;
    s->used -= n;
    /* as hk_free_local: an empty current slab stays put; a full one is never current */
    if ((s->used == 0 || s->full) && h->current[c] != s) hk_free_local_slow(h, s);
  }
}

int hak_free_batch_checked(void **ptrs, size_t count, size_t *bad) {
  if (!ptrs && count) return HAK_E_FOREIGN;
  batch_scratch on_stack[BATCH_ON_STACK];
  size_t map_len = count > BATCH_ON_STACK ? count * sizeof(batch_scratch) : 0;
  batch_scratch *scratch = map_len ? hk_os_map(map_len) : on_stack;
  if (!scratch) return HAK_E_NOMEM;
  size_t first_bad = count;
  int rc = check_and_mark(ptrs, count, scratch, &first_bad);
  if (rc != HAK_OK) {
    for (size_t i = 0; i < first_bad; i++)
      if (ptrs[i]) *(uintptr_t *)ptrs[i] = scratch[i].saved;
    if (bad) *bad = first_bad;
  } else {
    free_checked_batch(ptrs, count, scratch);
  }
  if (map_len) hk_os_unmap(scratch, map_len);
  return rc;
}

size_t hak_trim(void) {
  size_t bytes = 0;
  hk_heap *h = hk_tl_heap;
  if (!hk_is_initialised()) return 0;
  hk_heap_trim(h != &hk_empty_heap ? h : NULL); /* empty SuperSlabs move to the LRU cache... */
  bytes += hk_lru_flush() + hk_large_flush();  /* ...which goes back to the OS with the large cache */
  return bytes;
}

const char *hak_version(void) { return "0.1.0"; }
