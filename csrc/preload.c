/* The drop-in malloc family for LD_PRELOAD. Pointers hakmem does not own
 * (made before it was loaded, or by another allocator) are recognised by the
 * registry and the large-block set, and handed to the next allocator in line. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

#define EXPORT __attribute__((visibility("default")))

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
  if (g_hk.check && p && hk_registry_has((uintptr_t)p)) {
    int state = hk_block_state(p);
    if (state != HAK_BLOCK_LIVE) hk_report_invalid_free(p, state); /* aborts */
  }
  if (hk_free_small_slow(p) || hk_free_nonsmall(p)) return;
  if (hk_large_recently_freed(p)) hk_report_invalid_free(p, HAK_BLOCK_FREE); /* aborts */
  /* Not ours: made before hakmem was loaded, or by another allocator, or a
   * pointer that was never allocated (which the next allocator rejects). */
  HK_COUNT(foreign_frees, 1);
  hk_log("hakmem: free(%p): pointer not allocated by hakmem; handing it to the next allocator", p);
  free_fn f = next_free();
  if (f) f(p);
}

EXPORT void free(void *p) {
  if (HK_LIKELY(!g_hk.free_checks) && HK_LIKELY(hk_free_small(p))) return;
  free_slow(p);
}

EXPORT void *calloc(size_t count, size_t size) { return hk_calloc(count, size); }

EXPORT void *realloc(void *p, size_t size) {
  if (!p) return hk_alloc(size);
  if (size == 0) {
    free(p);
    return NULL;
  }
  size_t old = hk_usable_size(p);
  if (old) return hk_realloc_owned(p, size, old);
  /* Foreign block: move it into hakmem. */
  old = next_usable_size(p);
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

EXPORT void *memalign(size_t alignment, size_t size) { return aligned_alloc(alignment, size); }

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
