#define _GNU_SOURCE
/* The OS layer: address space is reserved in 64 MiB chunks aligned to the
 * SuperSlab size and carved into SuperSlab slots, so no SuperSlab needs its own
 * map-then-trim dance (seed 002: VMA splitting in munmap was 30% of the CPU).
 * A released SuperSlab is decommitted with MADV_DONTNEED and its slot reused;
 * chunks stay reserved (address space only). Also: prefault and huge pages,
 * whose effect is measured (faults taken inside the request), not assumed. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include "internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define HK_CHUNK_BYTES ((size_t)64 << 20)
#define HK_CHUNK_MAX_SLOTS 128 /* 64 MiB / 512 KiB */

typedef struct hk_chunk {
  uint8_t *base;       /* aligned to the SuperSlab size */
  hk_slab *meta;       /* its slab metadata table: entry i for the unit at base + i * 64 KiB */
  uint32_t nslots, nfree;
  uint64_t free_bits[HK_CHUNK_MAX_SLOTS / 64];
  struct hk_chunk *next;
} hk_chunk;

static pthread_mutex_t os_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_chunk *chunks;

/* ---- plain mappings --------------------------------------------------------- */
/* Fault injection (HAKMEM_FAULT_MMAP_FAIL_EVERY, hak_fault_set_mmap_fail_every):
 * every Nth mapping fails as if the kernel had refused it. */
static _Atomic uint64_t fail_every, map_calls;

void hk_os_set_map_fail_every(uint64_t n) { atomic_store(&fail_every, n); }
void hak_fault_set_mmap_fail_every(uint64_t n) { hk_os_set_map_fail_every(n); }

static bool injected_failure(void) {
  uint64_t n = atomic_load_explicit(&fail_every, memory_order_relaxed);
  return n && atomic_fetch_add_explicit(&map_calls, 1, memory_order_relaxed) % n == n - 1;
}

void *hk_os_map(size_t len) {
  void *p = injected_failure() ? MAP_FAILED
                               : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    HK_COUNT(os_map_failures, 1);
    errno = ENOMEM;
    return NULL;
  }
  HK_COUNT(os_maps, 1);
  HK_COUNT(os_map_bytes, len);
  return p;
}

/* A release the kernel refuses (munmap or madvise failing with ENOMEM past
 * vm.max_map_count, or any other error) is counted in os_release_failures and
 * reported once on stderr; the caller keeps the range and tries again later. */
static void release_failed(const char *what, void *p, size_t len) {
  static _Atomic int reported;
  HK_COUNT(os_release_failures, 1);
  if (!atomic_exchange(&reported, 1))
    hk_log("hakmem: %s(%p, %zu) failed (%s); the memory is kept and released later (os_release_failures)", what, p,
           len, strerror(errno));
}

bool hk_os_unmap(void *p, size_t len) {
  if (munmap(p, len) != 0) {
    release_failed("munmap", p, len);
    return false;
  }
  HK_COUNT(os_unmaps, 1);
  HK_COUNT(os_unmap_bytes, len);
  return true;
}

bool hk_os_decommit(void *p, size_t len) {
  if (madvise(p, len, MADV_DONTNEED) != 0) {
    release_failed("madvise", p, len);
    return false;
  }
  HK_COUNT(os_decommits, 1);
  HK_COUNT(os_decommit_bytes, len);
  return true;
}

/* mremap that may move; NULL (and the old mapping intact) when refused. */
void *hk_os_remap(void *p, size_t old_len, size_t new_len) {
  void *q = new_len > old_len && injected_failure() ? MAP_FAILED : mremap(p, old_len, new_len, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) {
    if (new_len > old_len) HK_COUNT(os_map_failures, 1);
    else release_failed("mremap", p, old_len);
    return NULL;
  }
  if (new_len > old_len) {
    HK_COUNT(os_maps, 1);
    HK_COUNT(os_map_bytes, new_len - old_len);
  } else {
    HK_COUNT(os_unmaps, 1);
    HK_COUNT(os_unmap_bytes, old_len - new_len);
  }
  return q;
}

/* ---- internal metadata (heaps, chunk descriptors): bump-allocated, never freed */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *meta_cur, *meta_end;

void *hk_meta_alloc(size_t len) {
  len = (len + 63) & ~(size_t)63;
  hk_lock(&meta_lock, HK_LOCK_META);
  if ((size_t)(meta_end - meta_cur) < len) {
    size_t block = len > ((size_t)1 << 20) ? len : ((size_t)1 << 20);
    uint8_t *p = hk_os_map(block);
    if (!p) { hk_unlock(&meta_lock); return NULL; }
    meta_cur = p;
    meta_end = p + block;
  }
  void *r = meta_cur;
  meta_cur += len;
  hk_unlock(&meta_lock);
  return r;
}

/* ---- the SuperSlab arena (internal.h) ------------------------------------------
 * One PROT_NONE reservation (address space only, never charged to the commit
 * limit), made writable a chunk at a time from its start, so that the range
 * the inline free trusts, [base, base + fast_len), is always mapped. When it is
 * used up, or cannot be had (RLIMIT_AS), chunks are mapped one by one and their
 * frees take the registry's test, as every free did before the arena. The
 * arena's slab metadata table (hk_ss_arena.meta, 128 bytes per 64 KiB unit:
 * 1/512 of the arena) is a reservation of its own, made writable with each
 * chunk; a chunk outside the arena has a table from hk_meta_alloc. */
#define HK_ARENA_MAX_BYTES ((size_t)64 << 30)
#define HK_ARENA_MIN_BYTES ((size_t)1 << 30)
#define HK_META_BYTES(len) ((len) / HK_SLAB_SIZE * sizeof(hk_slab))

hk_ss_arena_bounds hk_ss_arena;
static uint8_t *arena_next, *arena_end; /* under os_lock */
static bool arena_tried;

static void arena_reserve(void) {
  arena_tried = true;
  for (size_t len = HK_ARENA_MAX_BYTES; len >= HK_ARENA_MIN_BYTES; len /= 2) {
    uint8_t *raw = mmap(NULL, len + HK_CHUNK_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) continue;
    void *meta = mmap(NULL, HK_META_BYTES(len), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (meta == MAP_FAILED) {
      munmap(raw, len + HK_CHUNK_BYTES);
      continue;
    }
    /* chunk-aligned, so aligned to every SuperSlab size; the slack goes back */
    uint8_t *base = (uint8_t *)(((uintptr_t)raw + HK_CHUNK_BYTES - 1) & ~(uintptr_t)(HK_CHUNK_BYTES - 1));
    if (base > raw) munmap(raw, (size_t)(base - raw));
    if (raw + HK_CHUNK_BYTES > base) munmap(base + len, (size_t)(raw + HK_CHUNK_BYTES - base));
    arena_next = base;
    arena_end = base + len;
    hk_ss_arena.base = (uintptr_t)base;
    hk_ss_arena.meta = meta;
    HK_COUNT(superslab_arena_bytes, len);
    return;
  }
}

/* The arena is reserved at initialisation, before any block is handed out:
 * the inline free reads its base with a plain load before the length it
 * trusts, so the base must never change once a thread can free into it.
 * Reserved at the first SuperSlab instead, a thread freeing a large block
 * raced the thread reserving it (ThreadSanitizer, test_large). */
void hk_os_init(void) {
  hk_mutex_lock(&os_lock);
  if (!arena_tried) arena_reserve();
  hk_mutex_unlock(&os_lock);
}

/* The next chunk of the arena made writable, with its part of the metadata
 * table (*meta), or NULL (used up, refused). */
static uint8_t *arena_chunk(hk_slab **meta) {
  HK_ASSERT(arena_tried, "the arena is reserved at initialisation (hk_os_init)");
  if (arena_next == arena_end) return NULL; /* used up, or never had (both NULL) */
  *meta = hk_arena_slab((uintptr_t)(arena_next - (uint8_t *)hk_ss_arena.base));
  if (injected_failure() || mprotect(*meta, HK_META_BYTES(HK_CHUNK_BYTES), PROT_READ | PROT_WRITE) != 0 ||
      mprotect(arena_next, HK_CHUNK_BYTES, PROT_READ | PROT_WRITE) != 0) {
    HK_COUNT(os_map_failures, 1);
    return NULL;
  }
  uint8_t *chunk = arena_next;
  arena_next += HK_CHUNK_BYTES;
  HK_COUNT(os_maps, 1);
  HK_COUNT(os_map_bytes, HK_CHUNK_BYTES);
  /* release: a free that sees the new length sees the base (and the pages) */
  if (!g_hk.free_checks)
    atomic_store_explicit(&hk_ss_arena.fast_len, (uintptr_t)(arena_next - (uint8_t *)hk_ss_arena.base), memory_order_release);
  return chunk;
}

/* A chunk outside the arena: mapped on its own, aligned by hand, with a
 * metadata table of its own (*meta; zero, never given back). */
static uint8_t *plain_chunk(hk_slab **meta) {
  size_t ss = g_hk.ss_size;
  if (!*meta && !(*meta = hk_meta_alloc(HK_META_BYTES(HK_CHUNK_BYTES)))) return NULL;
  uint8_t *raw = hk_os_map(HK_CHUNK_BYTES + ss);
  if (!raw) return NULL;
  /* The unaligned head and tail stay reserved but are never touched. */
  return (uint8_t *)(((uintptr_t)raw + ss - 1) & ~(uintptr_t)(ss - 1));
}

/* ---- SuperSlab slots ---------------------------------------------------------- */
/* Chunks made so far (under os_lock), and whether that passed
 * HAKMEM_SS_PREFAULT_AFTER_MB: from then on every slab of blocks up to a page
 * is prefaulted when first formatted (superslab.c). A program that builds a
 * large structure faults in every page it fills, a trap each: jq reading 300,000 objects
 * (300 MB) took 77,600 faults and 1.76 s (0.46 s of it in the kernel),
 * glibc 72,500 and 1.62 s; prefaulting its slabs past the first 64 MiB,
 * 1.49 s (0.2 s in the kernel) at a peak RSS 1% higher. Below the
 * threshold a slab is only touched where blocks are carved: a small
 * program's slabs are mostly part-used, and prefaulting them whole would be
 * most of its memory. */
static size_t reserved_bytes;
static _Atomic uint8_t prefault_auto;

bool hk_os_prefault_auto(void) { return atomic_load_explicit(&prefault_auto, memory_order_relaxed); }

static hk_chunk *chunk_new(void) {
  static hk_chunk *unused; /* a descriptor whose chunk was refused, for the next try */
  hk_chunk *c = unused ? unused : hk_meta_alloc(sizeof *c);
  if (!c) return NULL;
  hk_slab *meta = NULL;
  uint8_t *base = arena_chunk(&meta);
  if (!base) {
    meta = c->meta; /* a table made for a refused plain chunk, or NULL */
    base = plain_chunk(&meta);
  }
  c->meta = meta;
  unused = base ? NULL : c;
  if (!base) return NULL;
  c->base = base;
  c->nslots = c->nfree = (uint32_t)(HK_CHUNK_BYTES / g_hk.ss_size);
  for (uint32_t i = 0; i < c->nslots; i++) c->free_bits[i / 64] |= 1ull << (i % 64);
  if (g_hk.hugepages && madvise(c->base, HK_CHUNK_BYTES, MADV_HUGEPAGE) == 0)
    HK_COUNT(hugepage_advised_bytes, HK_CHUNK_BYTES);
  reserved_bytes += HK_CHUNK_BYTES;
  if (g_hk.prefault_after_bytes && reserved_bytes > g_hk.prefault_after_bytes)
    atomic_store_explicit(&prefault_auto, 1, memory_order_relaxed);
  c->next = chunks;
  chunks = c;
  return c;
}

hk_ss *hk_os_ss_alloc(void) {
  hk_lock(&os_lock, HK_LOCK_OS);
  hk_chunk *c = chunks;
  while (c && c->nfree == 0) c = c->next;
  if (!c && !(c = chunk_new())) {
    hk_unlock(&os_lock);
    errno = ENOMEM;
    return NULL;
  }
  uint32_t slot = 0;
  for (unsigned w = 0; w < HK_CHUNK_MAX_SLOTS / 64; w++) {
    if (c->free_bits[w]) {
      slot = w * 64 + (uint32_t)__builtin_ctzll(c->free_bits[w]);
      break;
    }
  }
  c->free_bits[slot / 64] &= ~(1ull << (slot % 64));
  c->nfree--;
  hk_unlock(&os_lock);
  uint8_t *base = c->base + (size_t)slot * g_hk.ss_size;
  hk_ss *ss = hk_ss_of((uintptr_t)base);
  ss->chunk = c;
  ss->slot = slot;
  ss->slabs = c->meta + ((size_t)slot * g_hk.ss_size >> HK_SLAB_SHIFT);
  hk_registry_set((uintptr_t)base, g_hk.ss_size, true);
  return ss;
}

void hk_os_ss_free(hk_ss *ss) {
  hk_chunk *c = ss->chunk;
  uint32_t slot = ss->slot;
  void *base = (void *)hk_ss_base(ss);
  hk_registry_set((uintptr_t)base, g_hk.ss_size, false);
  /* the next SuperSlab of this slot starts from zero metadata, as from zero
   * pages; meanwhile a free into it finds owner NULL (internal.h, hk_ss_arena) */
  memset(ss->slabs, 0, (size_t)ss->nslabs * sizeof(hk_slab));
  hk_os_decommit(base, g_hk.ss_size); /* a failure is counted; the slot is reused committed */
  hk_lock(&os_lock, HK_LOCK_OS);
  c->free_bits[slot / 64] |= 1ull << (slot % 64);
  c->nfree++;
  hk_unlock(&os_lock);
}

/* ---- prefault ----------------------------------------------------------------- */
static uint64_t thread_faults(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

/* Populates [p, p+len) for writing. Counts the faults the kernel took for it:
 * a populate that did nothing shows up as prefault_faults == 0. */
static void prefault(void *p, size_t len) {
  static _Atomic int warned;
  uint64_t before = thread_faults();
  if (madvise(p, len, MADV_POPULATE_WRITE) != 0) {
    if (!atomic_exchange(&warned, 1))
      hk_log("hakmem: MADV_POPULATE_WRITE failed (%s); prefaulting by touching each page", strerror(errno));
    for (size_t off = 0; off < len; off += HK_PAGE_SIZE) ((volatile uint8_t *)p)[off] = 0;
  }
  HK_COUNT(prefault_calls, 1);
  HK_COUNT(prefault_bytes, len);
  HK_COUNT(prefault_faults, thread_faults() - before);
}

void hk_os_prefault_range(void *p, size_t len) { prefault(p, len); }

bool hk_os_populate(void *p, size_t len) {
  uint64_t before = thread_faults();
  if (madvise(p, len, MADV_POPULATE_WRITE) != 0) {
    atomic_store_explicit(&prefault_auto, 0, memory_order_relaxed);
    return false;
  }
  HK_COUNT(prefault_calls, 1);
  HK_COUNT(prefault_bytes, len);
  HK_COUNT(prefault_faults, thread_faults() - before);
  return true;
}

/* ---- fork: no lock of this layer may be held across fork() -------------------- */
/* Lock order: os_lock before meta_lock (chunk_new allocates metadata). */
void hk_os_fork_prepare(void) { pthread_mutex_lock(&os_lock); pthread_mutex_lock(&meta_lock); }
void hk_os_fork_parent(void) { pthread_mutex_unlock(&meta_lock); pthread_mutex_unlock(&os_lock); }
