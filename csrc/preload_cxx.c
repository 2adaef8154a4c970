/* C++'s operators new and delete for LD_PRELOAD (libhakmem_preload.so only),
 * defined here under their mangled names (the Itanium C++ ABI, size_t being
 * unsigned long) so that a C++ program's allocations reach hakmem without
 * going through libstdc++'s operators, which call malloc and free through the
 * PLT: mimalloc-bench's alloc-test ran 3.06 -> 2.95 s with one thread and
 * 2.87 -> 2.67 s with two with them here (mimalloc, which defines them too,
 * 2.87 and 2.67).
 *
 * What hakmem cannot give, it leaves to the next definition in line (the C++
 * runtime's), called with the same arguments: that one calls malloc or
 * aligned_alloc again (ours), runs the new_handler installed, and throws
 * std::bad_alloc or returns NULL as the standard says. So this file never
 * throws itself, and a handler that frees memory still gets its retry. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include "internal.h"

#define EXPORT __attribute__((visibility("default")))

_Static_assert(sizeof(size_t) == sizeof(unsigned long), "the mangled names below spell size_t as unsigned long (m)");

/* std::align_val_t is an enum of size_t; std::nothrow_t is passed by reference and never read. */
typedef size_t align_val_t;
typedef struct nothrow_tag nothrow_tag;

typedef void *(*new_fn)(size_t);
typedef void *(*new_nothrow_fn)(size_t, const nothrow_tag *);
typedef void *(*new_aligned_fn)(size_t, align_val_t);
typedef void *(*new_aligned_nothrow_fn)(size_t, align_val_t, const nothrow_tag *);

/* The next definition of the operator `name` (the C++ runtime's), looked up
 * once into *slot. Only a program that calls the operator gets here, and it
 * links a C++ runtime that defines it. */
static void *next_operator(_Atomic(void *) *slot, const char *name) {
  void *f = atomic_load_explicit(slot, memory_order_acquire);
  if (!f) {
    f = dlsym(RTLD_NEXT, name);
    if (!f) {
      hk_log("hakmem: %s: out of memory, and no C++ runtime after hakmem to report it", name);
      abort();
    }
    atomic_store_explicit(slot, f, memory_order_release);
  }
  return f;
}

#define NEXT(type, name)                            \
  ({                                                \
    static _Atomic(void *) next_slot;               \
    (type) next_operator(&next_slot, name);         \
  })

/* operator new(size_t), new[](size_t): a block, else the runtime's handler loop and bad_alloc. */
EXPORT void *hk_cxx_new(size_t size) __asm__("_Znwm");
EXPORT void *hk_cxx_new_array(size_t size) __asm__("_Znam");
EXPORT void *hk_cxx_new(size_t size) {
  void *p = hk_alloc(size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_fn, "_Znwm")(size);
}
EXPORT void *hk_cxx_new_array(size_t size) {
  void *p = hk_alloc(size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_fn, "_Znam")(size);
}

/* The nothrow forms: NULL once the runtime's handler loop gives up. */
EXPORT void *hk_cxx_new_nothrow(size_t size, const nothrow_tag *tag) __asm__("_ZnwmRKSt9nothrow_t");
EXPORT void *hk_cxx_new_array_nothrow(size_t size, const nothrow_tag *tag) __asm__("_ZnamRKSt9nothrow_t");
EXPORT void *hk_cxx_new_nothrow(size_t size, const nothrow_tag *tag) {
  void *p = hk_alloc(size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_nothrow_fn, "_ZnwmRKSt9nothrow_t")(size, tag);
}
EXPORT void *hk_cxx_new_array_nothrow(size_t size, const nothrow_tag *tag) {
  void *p = hk_alloc(size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_nothrow_fn, "_ZnamRKSt9nothrow_t")(size, tag);
}

/* C++17's over-aligned forms (alignof above __STDCPP_DEFAULT_NEW_ALIGNMENT__, 16). */
EXPORT void *hk_cxx_new_aligned(size_t size, align_val_t align) __asm__("_ZnwmSt11align_val_t");
EXPORT void *hk_cxx_new_array_aligned(size_t size, align_val_t align) __asm__("_ZnamSt11align_val_t");
EXPORT void *hk_cxx_new_aligned_nothrow(size_t size, align_val_t align, const nothrow_tag *tag)
    __asm__("_ZnwmSt11align_val_tRKSt9nothrow_t");
EXPORT void *hk_cxx_new_array_aligned_nothrow(size_t size, align_val_t align, const nothrow_tag *tag)
    __asm__("_ZnamSt11align_val_tRKSt9nothrow_t");
EXPORT void *hk_cxx_new_aligned(size_t size, align_val_t align) {
  void *p = hk_alloc_aligned(align, size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_aligned_fn, "_ZnwmSt11align_val_t")(size, align);
}
EXPORT void *hk_cxx_new_array_aligned(size_t size, align_val_t align) {
  void *p = hk_alloc_aligned(align, size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_aligned_fn, "_ZnamSt11align_val_t")(size, align);
}
EXPORT void *hk_cxx_new_aligned_nothrow(size_t size, align_val_t align, const nothrow_tag *tag) {
  void *p = hk_alloc_aligned(align, size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_aligned_nothrow_fn, "_ZnwmSt11align_val_tRKSt9nothrow_t")(size, align, tag);
}
EXPORT void *hk_cxx_new_array_aligned_nothrow(size_t size, align_val_t align, const nothrow_tag *tag) {
  void *p = hk_alloc_aligned(align, size);
  return HK_LIKELY(p != NULL) ? p : NEXT(new_aligned_nothrow_fn, "_ZnamSt11align_val_tRKSt9nothrow_t")(size, align, tag);
}

/* Every delete is a free: the inline one for slab blocks, free() for the rest
 * (large blocks, pointers of the allocator before hakmem, misuse). The size
 * and alignment a sized or aligned delete passes are not needed. */
static HK_ALWAYS_INLINE void cxx_delete(void *p) {
  if (HK_LIKELY(hk_free_slab_block(p))) return;
  free(p);
}

EXPORT void hk_cxx_delete(void *p) __asm__("_ZdlPv");
EXPORT void hk_cxx_delete_array(void *p) __asm__("_ZdaPv");
EXPORT void hk_cxx_delete_sized(void *p, size_t size) __asm__("_ZdlPvm");
EXPORT void hk_cxx_delete_array_sized(void *p, size_t size) __asm__("_ZdaPvm");
EXPORT void hk_cxx_delete_nothrow(void *p, const nothrow_tag *tag) __asm__("_ZdlPvRKSt9nothrow_t");
EXPORT void hk_cxx_delete_array_nothrow(void *p, const nothrow_tag *tag) __asm__("_ZdaPvRKSt9nothrow_t");
EXPORT void hk_cxx_delete_aligned(void *p, align_val_t align) __asm__("_ZdlPvSt11align_val_t");
EXPORT void hk_cxx_delete_array_aligned(void *p, align_val_t align) __asm__("_ZdaPvSt11align_val_t");
EXPORT void hk_cxx_delete_sized_aligned(void *p, size_t size, align_val_t align) __asm__("_ZdlPvmSt11align_val_t");
EXPORT void hk_cxx_delete_array_sized_aligned(void *p, size_t size, align_val_t align) __asm__("_ZdaPvmSt11align_val_t");
EXPORT void hk_cxx_delete_aligned_nothrow(void *p, align_val_t align, const nothrow_tag *tag)
    __asm__("_ZdlPvSt11align_val_tRKSt9nothrow_t");
EXPORT void hk_cxx_delete_array_aligned_nothrow(void *p, align_val_t align, const nothrow_tag *tag)
    __asm__("_ZdaPvSt11align_val_tRKSt9nothrow_t");
EXPORT void hk_cxx_delete(void *p) { cxx_delete(p); }
EXPORT void hk_cxx_delete_array(void *p) { cxx_delete(p); }
EXPORT void hk_cxx_delete_sized(void *p, size_t size) { cxx_delete(p); }
EXPORT void hk_cxx_delete_array_sized(void *p, size_t size) { cxx_delete(p); }
EXPORT void hk_cxx_delete_nothrow(void *p, const nothrow_tag *tag) { cxx_delete(p); }
EXPORT void hk_cxx_delete_array_nothrow(void *p, const nothrow_tag *tag) { cxx_delete(p); }
EXPORT void hk_cxx_delete_aligned(void *p, align_val_t align) { cxx_delete(p); }
EXPORT void hk_cxx_delete_array_aligned(void *p, align_val_t align) { cxx_delete(p); }
EXPORT void hk_cxx_delete_sized_aligned(void *p, size_t size, align_val_t align) { cxx_delete(p); }
EXPORT void hk_cxx_delete_array_sized_aligned(void *p, size_t size, align_val_t align) { cxx_delete(p); }
EXPORT void hk_cxx_delete_aligned_nothrow(void *p, align_val_t align, const nothrow_tag *tag) { cxx_delete(p); }
EXPORT void hk_cxx_delete_array_aligned_nothrow(void *p, align_val_t align, const nothrow_tag *tag) { cxx_delete(p); }
