/* hakmem — public API.
 *
 * Every function here is safe to call before any allocation; the allocator
 * initialises itself on first use. Pointers returned by hakmem are 16-byte
 * aligned unless an explicit alignment was asked for.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>
#include "hakmem_stats_fields.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#else
#define HAK_API
#endif

/* Result codes of the hak_* functions that can fail (0 is success). */
enum hak_result {
  HAK_OK = 0,
  HAK_E_UNKNOWN_FLAG = -1, /* no flag of that name */
  HAK_E_BAD_VALUE = -2,    /* value unparsable or out of the flag's range */
  HAK_E_LOCKED = -3,       /* configuration is frozen: an allocation already happened */
  HAK_E_FOREIGN = -4,      /* pointer not allocated by hakmem (or interior to a block) */
  HAK_E_DOUBLE_FREE = -5,  /* pointer is a hakmem block that is already free */
  HAK_E_NOMEM = -6,        /* the OS refused memory */
  HAK_E_BAD_SIZE = -7      /* size or alignment not acceptable */
};

/* What hakmem knows about an address (hak_block_state). */
enum hak_block_kind {
  HAK_BLOCK_FOREIGN = 0,  /* not in any hakmem region */
  HAK_BLOCK_LIVE = 1,     /* start of an allocated block */
  HAK_BLOCK_FREE = 2,     /* start of a block that is free (never handed out, or freed) */
  HAK_BLOCK_INTERIOR = 3  /* inside a SuperSlab, but not the start of a block (an address
                             inside a large block reads as FOREIGN: large blocks are found by
                             their start address only) */
};

/* ---- allocation ----------------------------------------------------------
 * Blocks from these functions read 0 in their first 8 bytes until written
 * (calloc: all bytes); hak_free_checked and hak_owns use that to decide in
 * O(1) that a block is live. */
HAK_API void *hak_malloc(size_t size);
/* hak_malloc for FFIs whose 32-bit integer arguments are cheaper than 64-bit
 * ones (bun:ffi); NULL for a negative size. */
HAK_API void *hak_malloc_i32(int32_t size);
HAK_API void hak_free(void *ptr);
HAK_API void *hak_calloc(size_t count, size_t size);
HAK_API void *hak_realloc(void *ptr, size_t size);
/* alignment: a power of two; any size is accepted (C11 rounding not required). */
HAK_API void *hak_aligned_alloc(size_t alignment, size_t size);
/* Bytes usable at ptr (>= the size asked for); 0 for NULL or a foreign pointer. */
HAK_API size_t hak_usable_size(const void *ptr);

/* 1 if ptr is the start of a live hakmem block, else 0. O(1) apart from the
 * walk of one slab's free list when the block's first word looks like a link;
 * no system call; safe on any address (NULL, stack, unmapped, interior) and
 * from any thread. Exact for the calling thread's blocks and for blocks of
 * threads that have exited; for a block of another live thread only that
 * slab's remote-free list is searched (its local list is the other thread's
 * to change), so a block that thread freed itself may still read as live;
 * with HAKMEM_CHECK=1 every free slab block carries a free mark and the
 * answer is exact from any thread, with no walk. A large block is known freed
 * for the last 64 large frees. With HAKMEM_REMOTE_BATCH=on (off by default in
 * this library) a block freed by a thread other than its owner reads as live
 * until the owner takes it in. */
HAK_API int hak_owns(const void *ptr);
/* Finer answer than hak_owns: one of enum hak_block_kind. */
HAK_API int hak_block_state(const void *ptr);
/* Free with validation: HAK_OK, HAK_E_FOREIGN (also for NULL and interior
 * pointers) or HAK_E_DOUBLE_FREE; nothing is changed when it fails. */
HAK_API int hak_free_checked(void *ptr);

/* Allocates count blocks of size bytes into out[], each starting with a zero
 * word like hak_malloc's. Returns how many were allocated (count on success;
 * fewer only when memory ran out). */
HAK_API size_t hak_malloc_batch(size_t size, size_t count, void **out);
/* Frees count pointers (NULL entries are skipped). */
HAK_API void hak_free_batch(void **ptrs, size_t count);
/* All or nothing: frees every non-NULL entry if each is a live hakmem block
 * and none appears twice; otherwise frees nothing and returns HAK_E_FOREIGN or
 * HAK_E_DOUBLE_FREE for the first bad entry, whose index goes to *bad (when
 * bad is not NULL). HAK_E_NOMEM if the duplicate check could not get memory
 * (more than 4096 entries need a mapping). While it runs, the first word of
 * each block checked holds a mark; a refused batch gets its words back. */
HAK_API int hak_free_batch_checked(void **ptrs, size_t count, size_t *bad);
/* The two batch calls for FFIs whose 32-bit integer arguments are cheaper than
 * 64-bit ones (bun:ffi): a negative size or count allocates nothing (0) /
 * frees nothing (HAK_E_BAD_SIZE). */
HAK_API int32_t hak_malloc_batch_i32(int32_t size, int32_t count, void **out);
HAK_API int hak_free_batch_checked_i32(void **ptrs, int32_t count, size_t *bad);

/* A deallocator with the signature JavaScriptCore (bun:ffi toArrayBuffer)
 * expects, void (*)(void *bytes, void *ctx): frees bytes; ctx is unused. It may
 * run on a garbage-collector thread. hak_buffer_deallocator() returns its
 * address for FFI callers that need it as a number. */
HAK_API void hak_free_deallocator(void *bytes, void *ctx);
HAK_API void *hak_buffer_deallocator(void);

/* Blocks lent to a garbage-collected runtime (csrc/buffer.c). The memory
 * returned is preceded by a 16-byte guard inside the block, so the address
 * is never the start of a hakmem block (65521 to 65536 bytes: a 64 KiB block
 * marked lent instead): hak_free_checked refuses it, and only hak_buffer_free
 * gives it back (as the ArrayBuffer's native deallocator, void (*)(void
 * *bytes, void *ctx); it may run on a collector thread). ctx: NULL, or the
 * size given to hak_buffer_alloc for bytes, which saves a lookup; any other
 * value is a misuse, as a wrong pointer is. zeroed: 0 leaves the bytes as they are. Memory known to
 * be zero already (a fresh large mapping) is not written, so its pages are
 * not faulted in. hak_buffer_size: the size asked for when bytes came from
 * hak_buffer_alloc and is not yet freed, else 0; safe on any address.
 * hak_buffer_free_fn: hak_buffer_free's address, for FFI callers. */
HAK_API void *hak_buffer_alloc(size_t size, int zeroed);
/* hak_buffer_alloc for FFIs whose 32-bit integer arguments are cheaper than
 * 64-bit ones (bun:ffi); NULL for a negative size. */
HAK_API void *hak_buffer_alloc_i32(int32_t size, int32_t zeroed);
HAK_API size_t hak_buffer_size(const void *bytes);
HAK_API void hak_buffer_free(void *bytes, void *ctx);
HAK_API void *hak_buffer_free_fn(void);

/* Fault injection for tests: from now on every nth OS mapping fails with
 * ENOMEM (0 turns it off). The same as HAKMEM_FAULT_MMAP_FAIL_EVERY, but
 * adjustable at run time, so a test can watch allocation recover. */
HAK_API void hak_fault_set_mmap_fail_every(uint64_t n);

/* Returns cached memory to the OS: empty slabs kept by the calling thread, the
 * whole LRU cache of empty SuperSlabs, unused large mappings. Returns bytes released. */
HAK_API size_t hak_trim(void);

/* ---- statistics ---------------------------------------------------------- */
/* The fields, each a uint64_t, and what they count: hakmem_stats_fields.h. */
typedef struct hak_stats {
  uint64_t size; /* sizeof(struct hak_stats), for FFI readers */
#define HAK_STATS_FIELD_(name, source, description) uint64_t name;
  HAK_STATS_FIELDS(HAK_STATS_FIELD_)
#undef HAK_STATS_FIELD_
} hak_stats_t;

/* Fills *out (out->size is set). Returns HAK_OK. */
HAK_API int hak_stats(hak_stats_t *out);
/* The same figures as one JSON object. The string lives until the next call
 * from the same thread. */
HAK_API const char *hak_stats_json(void);
/* Writes the human-readable report (what HAKMEM_STATS=1 prints at exit) to fd. */
HAK_API void hak_stats_print(int fd);

/* ---- configuration ------------------------------------------------------- */
/* name: the flag's environment name ("HAKMEM_SS_SIZE") or the same without the
 * prefix ("SS_SIZE"); value as in the environment ("1M", "populate", "60").
 * Only before the first allocation; afterwards HAK_E_LOCKED. */
HAK_API int hak_config_set(const char *name, const char *value);
/* Effective value as text, or NULL for an unknown flag. */
HAK_API const char *hak_config_get(const char *name);
/* JSON array describing every flag: name, type, default, min, max, values, description, value. */
HAK_API const char *hak_config_describe(void);
/* 1 once the configuration is frozen (first allocation happened). */
HAK_API int hak_config_locked(void);
/* Message for a hak_result code. */
HAK_API const char *hak_strerror(int code);
/* Library version, "MAJOR.MINOR.PATCH". */
HAK_API const char *hak_version(void);

#ifdef __cplusplus
}
#endif
#endif /* HAKMEM_H */
