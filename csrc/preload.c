/* The drop-in malloc family for LD_PRELOAD. Pointers hakmem does not own
 * (made before it was loaded, or by another allocator) are recognised by the
 * registry and the large-block set, and handed to the next allocator in line. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define EXPORT __attribute__((visibility("default")))

/* This library's policy (report.c holds the FFI library's): misuse aborts,
 * as glibc's free does, and HAKMEM_REMOTE_BATCH=auto batches remote frees,
 * since free() promises no cross-thread validation. */
const hk_policy hk_host_policy = {.misuse_aborts = 1, .remote_batch_by_default = 1, .thread_cache_by_default = 1};

typedef void (*free_fn)(void *);
typedef size_t (*usable_fn)(void *);

static free_fn next_free(void) {
  static _Atomic(free_fn) fn;
  free_fn f = atomic_load_explicit(&fn, memory_order_acquire);
  if (!f) {
    f = (free_fn)dlsym(RTLD_NEXT, "free");
    atomic_store_explicit(&fn, f, memory_order_release);
  }
  return f;
}

static size_t next_usable_size(void *p) {
  static _Atomic(usable_fn) fn;
  usable_fn f = atomic_load_explicit(&fn, memory_order_acquire);
  if (!f) {
    f = (usable_fn)dlsym(RTLD_NEXT, "malloc_usable_size");
    atomic_store_explicit(&fn, f, memory_order_release);
  }
  return f ? f(p) : 0;
}

__attribute__((constructor)) static void preload_init(void) { hk_init(); }

EXPORT void *malloc(size_t size) { return hk_alloc(size); }

/* Off the fast path: HAKMEM_CHECK validation (aborts on misuse), large blocks,
 * and pointers of the next allocator in line. */
static HK_NOINLINE void free_slow(void *p) {
  /* first: glibc frees a NULL for most slots of a thread's TLS vector when
   * its stack is reused (17 a thread, mleak), each about 30 instructions
   * through the lookups below */
  if (!p) return;
  if (g_hk.check && hk_registry_has((uintptr_t)p)) {
    int state = hk_block_state(p);
    if (state != HAK_BLOCK_LIVE) hk_report_invalid_free(p, state); /* aborts */
  }
  if (hk_free_slab_block_slow(p) || hk_free_large_or_null(p)) return;
  if (hk_large_recently_freed(p)) hk_report_invalid_free(p, HAK_BLOCK_FREE); /* aborts */
  if (hk_large_interior(p)) hk_report_invalid_free(p, HAK_BLOCK_INTERIOR); /* aborts */
  /* Not ours: made before hakmem was loaded, or by another allocator, or a
   * pointer that was never allocated (which the next allocator rejects). */
  HK_COUNT(foreign_frees, 1);
  hk_log("hakmem: free(%p): pointer not allocated by hakmem; handing it to the next allocator", p);
  free_fn f = next_free();
  if (f) f(p);
}

EXPORT void free(void *p) {
  if (HK_LIKELY(hk_free_slab_block(p))) return;
  free_slow(p);
}

/* C23's free with the size (and alignment) the block was asked with. glibc
 * has them since 2.43: a program built against it would otherwise hand our
 * blocks to glibc's, which rejects them. The size is not needed to free. */
EXPORT void free_sized(void *p, size_t size) {
  (void)size;
  free(p);
}

EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size) {
  (void)alignment;
  (void)size;
  free(p);
}

EXPORT void *calloc(size_t count, size_t size) { return hk_calloc(count, size); }

EXPORT void *realloc(void *p, size_t size) {
  if (!p) return hk_alloc(size);
  if (size == 0) {
    free(p);
    return NULL;
  }
  uintptr_t a = (uintptr_t)p;
  if (hk_registry_has(a)) {
    if (HK_UNLIKELY(g_hk.check)) {
      int state = hk_block_state(p);
      if (state != HAK_BLOCK_LIVE) hk_report_invalid_call("realloc", p, state); /* aborts */
    }
    size_t old = hk_slab_usable(a);
    if (old) return hk_realloc_slab(p, size, old);
  } else {
    size_t old = hk_large_usable(p);
    if (old) return hk_realloc_large(p, size, old);
  }
  /* A large block freed already, or a pointer into one: the next allocator must not see it. */
  if (hk_large_recently_freed(p)) hk_report_invalid_call("realloc", p, HAK_BLOCK_FREE); /* aborts */
  if (hk_large_interior(p)) hk_report_invalid_call("realloc", p, HAK_BLOCK_INTERIOR); /* aborts */
  /* Foreign block: move it into hakmem. */
  size_t old = next_usable_size(p);
  void *q = hk_alloc(size);
  if (!q) return NULL;
  memcpy(q, p, old < size ? old : size);
  free(p);
  return q;
}

EXPORT void *reallocarray(void *p, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, total);
}

EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1))) return EINVAL;
  void *p = hk_alloc_aligned(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

EXPORT void *aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1))) {
    errno = EINVAL;
    return NULL;
  }
  return hk_alloc_aligned(alignment, size);
}

/* glibc's meaning: an alignment that is not a power of two is rounded up to
 * one (0 and anything up to 16 give malloc's alignment); beyond 2^63 EINVAL. */
EXPORT void *memalign(size_t alignment, size_t size) {
  if (alignment > (SIZE_MAX >> 1) + 1) {
    errno = EINVAL;
    return NULL;
  }
  size_t a = 16;
  while (a < alignment) a <<= 1;
  return hk_alloc_aligned(a, size);
}

EXPORT void *valloc(size_t size) { return hk_alloc_aligned(HK_PAGE_SIZE, size); }

EXPORT void *pvalloc(size_t size) {
  size_t rounded = (size + HK_PAGE_SIZE - 1) & ~(size_t)(HK_PAGE_SIZE - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return NULL;
  }
  return hk_alloc_aligned(HK_PAGE_SIZE, rounded ? rounded : HK_PAGE_SIZE);
}

EXPORT size_t malloc_usable_size(void *p) {
  if (!p) return 0;
  size_t n = hk_usable_size(p);
  return n ? n : next_usable_size(p);
}

/* ---- glibc's malloc introspection, with its meaning ------------------------- */
/* Gives free memory back to the OS: memory other threads freed into the heaps
 * of exited threads, empty slabs, the caches of SuperSlabs and large blocks.
 * pad (memory to keep at the top of the heap) has no equivalent here. 1 if
 * any memory was released, as glibc. */
EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  return hak_trim() > 0;
}

/* glibc's fields, filled from hakmem's counters: "arena" is the SuperSlabs
 * in use, "hblks"/"hblkhd" the large blocks (each its own mapping, like
 * glibc's mmapped chunks), "ordblks" the free SuperSlabs and large mappings
 * cached, "uordblks"/"fordblks" the bytes of slab blocks in use / not. */
EXPORT struct mallinfo2 mallinfo2(void) {
  hak_stats_t st;
  struct mallinfo2 mi = {0};
  hak_stats(&st);
  uint64_t large_live = st.large_allocs - st.large_frees;
  uint64_t small_bytes;
  hk_large_tally large;
  hk_large_counts(&large);
  uint64_t large_bytes = large.bytes;
  small_bytes = st.bytes_in_use > large_bytes ? st.bytes_in_use - large_bytes : 0;
  uint64_t cached = st.superslabs_cached * st.superslab_bytes + st.large_cached_bytes;
  mi.arena = st.superslabs_live * st.superslab_bytes;
  mi.ordblks = st.superslabs_cached + st.large_cached;
  mi.hblks = large_live;
  mi.hblkhd = large_bytes;
  mi.uordblks = small_bytes;
  mi.fordblks = (mi.arena > small_bytes ? mi.arena - small_bytes : 0) + cached;
  return mi;
}

static int clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* The old int-sized form: each field saturates at INT_MAX (glibc wraps). */
EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m = mallinfo2();
  return (struct mallinfo){
    .arena = clamp_int(m.arena), .ordblks = clamp_int(m.ordblks), .smblks = clamp_int(m.smblks),
    .hblks = clamp_int(m.hblks), .hblkhd = clamp_int(m.hblkhd), .usmblks = clamp_int(m.usmblks),
    .fsmblks = clamp_int(m.fsmblks), .uordblks = clamp_int(m.uordblks), .fordblks = clamp_int(m.fordblks),
    .keepcost = clamp_int(m.keepcost),
  };
}

/* glibc's layout on stderr: the slab tier as arena 0, then the totals with the
 * large blocks (hakmem keeps no maximum of them: the current figures). */
EXPORT void malloc_stats(void) {
  struct mallinfo2 m = mallinfo2();
  hk_log("Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\nTotal (incl. mmap):\n"
         "system bytes     = %10zu\nin use bytes     = %10zu\nmax mmap regions = %10zu\nmax mmap bytes   = %10zu",
         m.arena, m.uordblks, m.arena + m.hblkhd, m.uordblks + m.hblkhd, m.hblks, m.hblkhd);
}
