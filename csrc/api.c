/* The public face: the hak_* functions of hakmem.h that the layers below do
 * not export themselves (config.c: hak_config_*, stats.c: hak_stats*,
 * buffer.c: hak_buffer_*, report.c: hak_strerror, os.c: hak_fault_*).
 * Blocks handed out here start with a zero word; batches are checked whole. */
#include <errno.h>
#include <string.h>
#include "internal.h"

void *hak_malloc(size_t size) { return hk_clear_first_word(hk_alloc(size)); }

void hak_free(void *p) { hk_free(p); }

void *hak_calloc(size_t count, size_t size) { return hk_calloc(count, size); }

void *hak_realloc(void *p, size_t size) {
  if (!p) return hk_clear_first_word(hk_alloc(size));
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
  return hk_clear_first_word(hk_alloc_aligned(alignment, size));
}

size_t hak_usable_size(const void *p) {
  return hk_block_state(p) == HAK_BLOCK_LIVE ? hk_usable_size(p) : 0;
}

int hak_owns(const void *p) { return hk_block_state(p) == HAK_BLOCK_LIVE; }
int hak_block_state(const void *p) { return hk_block_state(p); }
int hak_free_checked(void *p) {
  hk_slab *s = HK_LIKELY(!g_hk.free_checks) ? hk_own_live_slab((uintptr_t)p) : NULL;
  if (HK_LIKELY(s != NULL)) {
    hk_free_local(hk_tl.heap, s, (hk_block *)p);
    return HAK_OK;
  }
  return hk_free_validated(p);
}

size_t hak_malloc_batch(size_t size, size_t count, void **out) {
  if (!out) return 0;
  size_t i = 0;
  if (size <= HK_SLAB_MAX) {
    unsigned c = hk_thread_class_of(size); /* as hak_malloc's: the same blocks as single calls */
    for (; i < count && (out[i] = hk_clear_first_word(hk_alloc_class(c))) != NULL; i++) {}
  } else {
    for (; i < count && (out[i] = hk_clear_first_word(hk_alloc_slow(size))) != NULL; i++) {}
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
        return hk_free_error(state);
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
  hk_heap *h = hk_tl.heap;
  for (size_t i = count; i-- > 0;) {
    hk_block *b = ptrs[i];
    if (!b) continue;
    hk_slab *s = scratch[i].own;
    if (!s) {
      hk_free_live(b);
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
    HK_ASSERT(s->used >= n, "a checked run frees only blocks its slab counts as used");
    s->free = head;
    h->nfree[c] += n;
    s->used -= n;
    /* as hk_free_local: an empty current slab stays put; a full one is never current */
    if ((s->used == 0 || s->full) && h->current[c] != s) hk_slab_unfull_or_retire(h, s);
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
  hk_heap *h = hk_tl.heap;
  if (!hk_is_initialised()) return 0;
  hk_heap_trim(h != &hk_empty_heap ? h : NULL); /* empty SuperSlabs move to the LRU cache... */
  bytes += hk_lru_flush() + hk_large_flush();  /* ...which goes back to the OS with the large cache */
  return bytes;
}

const char *hak_version(void) { return "0.1.0"; }
