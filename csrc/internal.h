/* hakmem — the one internal header.
 *
 * Layers, bottom up (one file each). Every file calls only files above it in
 * this list (csrc/tests/check_layers.sh checks it on the objects: make layers):
 *   report.c      rare-event counters, hk_log, misuse reports (by the library's policy), hak_strerror
 *   lock.c        the fork window, locks held per thread, work put off until none is held
 *   config_file.c the HAKMEM_CONFIG JSON reader (applies each setting through config.c's callback)
 *   config.c      the flag table (single source of truth), parsing, describe; owns g_hk
 *   size_class.c  the size-class tables
 *   registry.c    bitmap of the 512 KiB granules covered by live SuperSlabs ("is it ours?")
 *   os.c          address-space chunks, SuperSlab slots, commit/decommit, prefault, huge pages
 *   decay.c       background thread releasing cached memory older than its TTL (started on first need)
 *   lru.c         bounded LRU cache of empty SuperSlabs
 *   init.c        initialisation once per process; the state a thread starts in (no heap)
 *   superslab.c   SuperSlab and slab formatting, slab carving, remote-list collection
 *   remote.c      frees into other threads' slabs: per-slab lists, or batches sent to the owner heap
 *   heap.c        thread heaps: per-class slab lists, slow paths, abandon/adopt at thread exit
 *   large.c       allocations above the slab tier: page runs in 1 GiB arenas; huge blocks map their own
 *   lent.c        marks of the slab blocks lent to JavaScript with no guard
 *   dispatch.c    the paths above the inline fast paths: routing to a tier, block state, realloc, calloc
 *   stats.c       counters summed on demand, JSON and text reports
 *   buffer.c      blocks lent to JavaScript as ArrayBuffers (guarded, or marked in lent.c)
 *   fork.c        fork handlers: every lock taken before fork, released after
 *   api.c         the public face: the hak_* functions of hakmem.h the layers do not export
 *   js_entry.c    entry points shaped for JavaScript FFIs: int32 sizes and counts (bun:ffi's fast conversion)
 *   preload.c     the malloc family for LD_PRELOAD (libhakmem_preload.so only)
 *   preload_cxx.c C++'s operators new and delete for LD_PRELOAD (libhakmem_preload.so only)
 * The inline fast paths below run in the file that uses them, so they count
 * as that file's calls.
 */
#ifndef HAKMEM_INTERNAL_H
#define HAKMEM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define HK_HAVE_SINGLE_THREADED 1
#endif
#endif
#include "hakmem.h"

#define HK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HK_INTERNAL __attribute__((visibility("hidden")))
#define HK_NOINLINE __attribute__((noinline))
#define HK_ALWAYS_INLINE inline __attribute__((always_inline))

/* Invariant checks, compiled in by -DHK_DEBUG (make debug, and the sanitizer
 * and fuzz builds): a failed one names the file, line, condition and what it
 * guards on stderr, then aborts. In the release build the condition is not
 * evaluated (sizeof only type-checks it): no instruction is emitted. */
#ifdef HK_DEBUG
#define HK_ASSERT(cond, what) \
  (HK_LIKELY(cond) ? (void)0 : hk_assert_failed(__FILE__, __LINE__, #cond, what))
#else
#define HK_ASSERT(cond, what) ((void)sizeof(!(cond)))
#endif
__attribute__((visibility("hidden"), noreturn, cold)) void hk_assert_failed(const char *file, int line,
                                                                             const char *cond, const char *what);

/* ---- geometry -------------------------------------------------------------
 * A SuperSlab is g_hk.ss_size bytes (512 KiB .. 4 MiB), aligned to its size,
 * split into 64 KiB slabs. Its header (struct hk_ss, two cache lines) takes
 * its last HK_SS_HDR_BYTES, so every slab starts on a page (aligned
 * allocations rely on it) and only the last holds fewer blocks; the slab
 * metadata lives in a table of its chunk (os.c, hk_slab_of). */
#define HK_SLAB_SHIFT 16
#define HK_SLAB_SIZE ((size_t)1 << HK_SLAB_SHIFT)
#define HK_SS_HDR_BYTES 128u
#define HK_GRANULE_SHIFT 19             /* smallest SuperSlab: 512 KiB */
#define HK_PAGE_SIZE 4096u
/* A large block grown in place by less than 1/2^this of it takes that much
 * more (large.c); realloc keeps a block asked for within it (dispatch.c). */
#define HK_LARGE_HEADROOM_SHIFT 4
/* A block resized from old to want grows by half to twice: a vector
 * doubling its buffer, which will likely double again; realloc gives it room
 * for that (dispatch.c, large.c). */
static inline bool hk_grows_like_vector(size_t want, size_t old) { return want >= old + old / 2 && want <= 2 * old; }
/* Largest alignment served: a block aligned to A costs a mapping of A more
 * bytes; beyond 1 GiB requests fail with ENOMEM (glibc's, of a 1 TiB
 * alignment, fails the same way: the mapping is refused). */
#define HK_ALIGN_MAX ((size_t)1 << 30)

/* ---- size classes ---------------------------------------------------------
 * 16-byte steps up to 512 bytes (16 is the alignment quantum), 64-byte steps
 * to 1 KiB, then four classes per power of two (spacing <= 25%) and, from
 * 2 KiB, one an eighth above each power of two (size_class.c), all
 * slab-backed: up to 8 KiB on one 64 KiB slab, up to HK_SLAB_MAX (64 KiB) on
 * slabs of several units. A heap starts on the coarse classes, four per
 * power of two between 128 bytes and 1 KiB (hk_class_small_coarse), and
 * splits one into its fine classes when it holds 1 MiB of it (heap.c).
 * Above: the large tier (large.c). "slab" in a name below means any of
 * these classes, "large" the tier above. */
#define HK_NCLASSES 69
#define HK_SLAB_MAX 65536u
#define HK_CLASS_NONE 0xFF      /* unit not part of any slab */
extern HK_INTERNAL const uint32_t hk_class_size[HK_NCLASSES];
extern HK_INTERNAL uint8_t hk_class_span[HK_NCLASSES]; /* 64 KiB units per slab */
HK_INTERNAL void hk_size_classes_init(unsigned nslabs);

/* The class of a size, from two tables: by the size itself up to 1 KiB
 * (16-byte steps there), by the size in 256-byte steps above (where every
 * class's bound is a multiple of 256). One table by the size up to 64 KiB
 * needed no shift, but was 64 KiB of the library, all of it resident in every
 * process (the kernel maps a read page's neighbours with it). Every heap
 * holds its own small-size table, in 16-byte steps (hk_heap: class_small;
 * its thread allocates through hk_tl.tc_of, written from it); the tables
 * and the state of a thread without a heap (hk_tl) must be valid
 * before any initialisation runs (the dynamic loader may call malloc first),
 * so they are static data, written once here as designated ranges.
 * hk_class_of gives the fine class (the smallest that holds the size);
 * allocations take their thread's (hk_thread_class_of: coarse unless its
 * heap split the class, heap.c). */
#define HK_CLASS_SMALL_MAX 1024u
/* a size up to HK_CLASS_SMALL_MAX in 16-byte steps: every class bound there is a multiple of 16 */
#define HK_CLASS_GRANULE(size) (((size) + 15) >> 4)
#define HK_CLASS_GRANULES (HK_CLASS_GRANULE(HK_CLASS_SMALL_MAX) + 1)
#define HK_CLASS_MID_INDEX(size) (((size) + 255) >> 8)
#define HK_CLASS_MID_ENTRIES (HK_CLASS_MID_INDEX(HK_SLAB_MAX) + 1)
extern HK_INTERNAL const uint8_t hk_class_small[HK_CLASS_SMALL_MAX + 1];
extern HK_INTERNAL const uint8_t hk_class_small_coarse[HK_CLASS_SMALL_MAX + 1];
extern HK_INTERNAL const uint8_t hk_class_mid[HK_CLASS_MID_ENTRIES];
static inline unsigned hk_class_of(size_t size) {
  return size <= HK_CLASS_SMALL_MAX ? hk_class_small[size] : hk_class_mid[HK_CLASS_MID_INDEX(size)];
}
#define HK_CLASS_SMALL_RANGES                                                       \
  [0 ... 16] = 0, [17 ... 32] = 1, [33 ... 48] = 2, [49 ... 64] = 3,                \
  [65 ... 80] = 4, [81 ... 96] = 5, [97 ... 112] = 6, [113 ... 128] = 7,            \
  [129 ... 144] = 8, [145 ... 160] = 9, [161 ... 176] = 10, [177 ... 192] = 11,     \
  [193 ... 208] = 12, [209 ... 224] = 13, [225 ... 240] = 14, [241 ... 256] = 15,   \
  [257 ... 272] = 16, [273 ... 288] = 17, [289 ... 304] = 18, [305 ... 320] = 19,   \
  [321 ... 336] = 20, [337 ... 352] = 21, [353 ... 368] = 22, [369 ... 384] = 23,   \
  [385 ... 400] = 24, [401 ... 416] = 25, [417 ... 432] = 26, [433 ... 448] = 27,   \
  [449 ... 464] = 28, [465 ... 480] = 29, [481 ... 496] = 30, [497 ... 512] = 31,   \
  [513 ... 576] = 32, [577 ... 640] = 33, [641 ... 704] = 34, [705 ... 768] = 35,   \
  [769 ... 832] = 36, [833 ... 896] = 37, [897 ... 960] = 38, [961 ... 1024] = 39
/* the coarse classes up to 1 KiB: four per power of two from 128 bytes */
#define HK_CLASS_SMALL_COARSE_RANGES                                                \
  [0 ... 16] = 0, [17 ... 32] = 1, [33 ... 48] = 2, [49 ... 64] = 3,                \
  [65 ... 80] = 4, [81 ... 96] = 5, [97 ... 112] = 6, [113 ... 128] = 7,            \
  [129 ... 160] = 9, [161 ... 192] = 11, [193 ... 224] = 13, [225 ... 256] = 15,    \
  [257 ... 320] = 19, [321 ... 384] = 23, [385 ... 448] = 27, [449 ... 512] = 31,   \
  [513 ... 640] = 33, [641 ... 768] = 35, [769 ... 896] = 37, [897 ... 1024] = 39
/* the same in 16-byte steps (entry g: sizes 16 * g - 15 to 16 * g; 0: size 0),
 * each entry X(its class) */
#define HK_CLASS_GRANULE_COARSE_RANGES(X)                                           \
  [0 ... 1] = X(0), [2] = X(1), [3] = X(2), [4] = X(3), [5] = X(4), [6] = X(5),     \
  [7] = X(6), [8] = X(7), [9 ... 10] = X(9), [11 ... 12] = X(11),                   \
  [13 ... 14] = X(13), [15 ... 16] = X(15), [17 ... 20] = X(19),                    \
  [21 ... 24] = X(23), [25 ... 28] = X(27), [29 ... 32] = X(31),                    \
  [33 ... 40] = X(33), [41 ... 48] = X(35), [49 ... 56] = X(37), [57 ... 64] = X(39)
/* Whether class c's blocks fill whole cache lines (share none with their neighbours). */
static inline bool hk_class_whole_lines(unsigned c) { return hk_class_size[c] % 64 == 0; }
/* Whether a heap on the coarse classes never allocates class c. */
static inline bool hk_class_fine_only(unsigned c) {
  return hk_class_size[c] <= HK_CLASS_SMALL_MAX && hk_class_small_coarse[hk_class_size[c]] != c;
}
/* entry i: sizes 256 * (i - 1) + 1 to 256 * i, from 1025 bytes on (i >= 5) */
#define HK_CLASS_MID_RANGES                                                         \
  [5] = 40, [6] = 41, [7] = 42, [8] = 43,                                           \
  [9] = 44, [10] = 45, [11 ... 12] = 46, [13 ... 14] = 47,                          \
  [15 ... 16] = 48, [17 ... 18] = 49, [19 ... 20] = 50, [21 ... 24] = 51,           \
  [25 ... 28] = 52, [29 ... 32] = 53, [33 ... 36] = 54, [37 ... 40] = 55,           \
  [41 ... 48] = 56, [49 ... 56] = 57, [57 ... 64] = 58, [65 ... 72] = 59,           \
  [73 ... 80] = 60, [81 ... 96] = 61, [97 ... 112] = 62, [113 ... 128] = 63,        \
  [129 ... 144] = 64, [145 ... 160] = 65, [161 ... 192] = 66, [193 ... 224] = 67,   \
  [225 ... 256] = 68

/* ---- blocks, slabs, SuperSlabs -------------------------------------------- */
typedef struct hk_block { struct hk_block *next; } hk_block;

/* A local free list ends in HK_END, not NULL, so that a block whose first word
 * is 0 (zeroed or never written) is known live without a walk of the list
 * (hak_free_checked, hak_owns). Remote lists still end in NULL. */
#define HK_END ((hk_block *)1)

struct hk_heap;

/* Per-slab metadata: 128 bytes, two cache lines split by who writes them.
 * A slab of several 64 KiB units (classes above 8 KiB) has its metadata in
 * its first unit's entry (the head); each other unit's entry (a follower)
 * holds a copy of the head's fixed fields (owner, start, block_size, inv,
 * lim, capacity, cls, shift, shareable) and `back`, its distance to the
 * head, so a free into a follower unit decides on the follower's own line
 * and only the rare paths go to the head (hk_slab_head). The lists, counts
 * and the second line are the head's alone.
 * The first is set when the slab is formatted and read by every free, from
 * any thread; it also holds the remote-free list other threads push to (in
 * batches, see remote.c, so that line changes rarely). The second is written
 * by the owner on every allocation and local free: a thread freeing into
 * another thread's slab never touches it, so the owner's allocations from
 * that slab do not lose the line to the freeing thread. */
typedef struct hk_slab {
  /* first line: fixed while formatted (any thread reads), and the remote list.
   * _Alignas: the lines must be real cache lines (a SuperSlab header once put
   * the entries at offset 96, so cls and shift shared a line with free and used) */
  _Alignas(64) struct hk_heap *owner; /* owning heap; NULL while the slab is unformatted */
  uintptr_t start;           /* address of the first block: its first unit's */
  uint64_t start_mul;        /* 2^64 / block_size, rounded up, plus one if exact (hk_block_offset_ok) */
  uint64_t start_lim;        /* (capacity - 1) * (block_size * start_mul mod 2^64) (hk_block_offset_ok) */
  uint32_t block_size;
  uint32_t capacity;         /* blocks that fit */
  uint8_t cls;               /* size class (a follower's: its head's), HK_CLASS_NONE when unformatted */
  uint8_t span;              /* units in this slab (head only) */
  uint8_t back;              /* units back to the head: 0 for a head and an unformatted unit */
  uint8_t index;             /* slab index within its SuperSlab */
  uint8_t was_formatted;     /* formatted before: the next format counts as reuse */
  /* 1: its blocks fill whole cache lines and thread caches are on, so any
   * thread may keep a block of it freed in its own thread cache (heap.c);
   * 0 for unformatted slabs. */
  uint8_t shareable;
  uint8_t pad0[2];
  _Atomic(hk_block *) remote; /* frees from other threads, collected by the owner */
  /* bit i: block i is lent to JavaScript with no guard (lent.c); only in
   * slabs of at most 64 blocks. Set by the owner, cleared by any thread;
   * 0 after formatting, and 0 whenever used is 0 unless a lent block was
   * given back by hak_free (misuse). Checked frees of a slab with bits set
   * leave the fast path. */
  _Atomic uint64_t lent;
  /* second line: the owner's */
  hk_block *free;            /* local free list (owner only), ends in HK_END */
  uint32_t used;             /* blocks handed out and not yet back on a local list: exact */
  uint32_t carved;           /* blocks linked into the free list so far (lazy carving) */
  uint8_t full;              /* on the heap's full list rather than its available list */
  uint8_t pad2[7];
  struct hk_slab *next, *prev; /* heap's per-class available or full list */
  uint8_t pad3[24];
} hk_slab;
_Static_assert(sizeof(hk_slab) == 128, "slab metadata is two cache lines");
_Static_assert(offsetof(hk_slab, free) == 64, "the owner's fields start the second line");
_Static_assert(_Alignof(hk_slab) == 64, "slab metadata starts on a cache line");

typedef struct hk_ss {
  struct hk_heap *owner;       /* NULL while cached in the LRU */
  uint64_t free_mask;          /* bit i: slab i is unformatted (free for any class) */
  uint32_t nslabs;
  uint32_t pad0;
  struct hk_ss *next, *prev;   /* owner's list of SuperSlabs, or the LRU list */
  struct hk_ss *avail_next, *avail_prev; /* owner's list of SuperSlabs with free slabs */
  uint8_t in_avail;
  uint8_t pad[7];
  uint64_t populated_slabs;    /* slabs prefaulted (HAKMEM_SS_PREFAULT=madvise) */
  uint64_t cached_at_ns;       /* when it entered the LRU */
  struct hk_chunk *chunk;      /* address-space chunk it was carved from */
  uint32_t slot;
  uint32_t pad2;
  /* its nslabs metadata entries, in its chunk's table (os.c): packed, 2 KiB
   * a SuperSlab of 1 MiB, where entries in the SuperSlab (a 16 KiB window,
   * each SuperSlab using a run of it by its address, so that they did not
   * all fall in the same cache sets) took 2 to 3 of its pages: 1,000,000
   * blocks of 16 B grew the RSS by 16.17 MB, now 16.12 */
  hk_slab *slabs;
} hk_ss;
_Static_assert(sizeof(hk_ss) <= HK_SS_HDR_BYTES, "the header fits the bytes the last slab gives it");

/* ---- thread heaps --------------------------------------------------------- */
typedef struct hk_slab_list { hk_slab *head, *tail; } hk_slab_list;

/* Remote frees of one class for one other heap (remote.c), as a message: the
 * blocks' addresses, not a chain linked through them, so the freeing thread
 * writes nothing into a block it may never have touched (a server freeing
 * the blocks it inherited, larson: the line stays in the owner's cache, where
 * the owner will use the block again). Sent whole onto the owner's inbox;
 * the owner gives it back to the pool of the heap it came from. */
#define HK_BATCH_BLOCKS 64
/* Blocks a heap took from another's idle pool for allocations of the class
 * below theirs (heap.c, pool_take_above): per class, up to HK_ABOVE_STASH,
 * for HK_ABOVE_SLOTS classes at a time. count and cls are read by
 * hak_stats (thread_cache_bytes). */
#define HK_ABOVE_SLOTS 4
#define HK_ABOVE_STASH 128
typedef struct hk_above_stash {
  uint32_t count, cls, below; /* count blocks of class cls, for allocations of class below */
  hk_block *blocks[HK_ABOVE_STASH];
} hk_above_stash;

typedef struct hk_remote_msg {
  struct hk_remote_msg *next; /* on an inbox or in a pool */
  struct hk_heap *home;       /* the heap whose pool it belongs to (heaps are never unmapped) */
  uint32_t count;             /* blocks[0..count) */
  uint32_t cls;               /* their size class */
  hk_block *blocks[HK_BATCH_BLOCKS];
} hk_remote_msg;

/* The message being filled for one (heap, class) in a thread's table. */
typedef struct hk_remote_batch {
  uintptr_t key;             /* destination heap | class (heaps are 128-byte aligned); stale once sent */
  hk_remote_msg *msg;        /* NULL when empty; otherwise holds at least one block */
  uint32_t limit;            /* blocks its message takes before it is sent (batch_limit) */
  uint32_t pad;
} hk_remote_batch;
#define HK_SPARE_SLABS 8        /* emptied slabs a class keeps besides its current one (heap.c) */
/* (heap, class) messages filled at once (remote.c, batch_for): with 69
 * classes, 32 slots had classes 32 apart share one (16 and 576 bytes), and
 * bench_remote_free took 8% more instructions (38.4 M against 35.7 M) */
#define HK_REMOTE_SLOTS 64

typedef struct hk_heap {
  /* The thread cache: per class, a list, linked through their first words,
   * of the blocks this thread freed last (its own, and blocks of other
   * heaps' shareable slabs), and blocks its owner's inbox or an idle heap's
   * pools held (heap.c, take_from_idle_heaps). Allocation pops it first, so a block
   * freed a moment ago, still in this core's cache, is handed out again. A
   * block in it still counts as used in its slab: tc_flush puts own blocks
   * back on their slabs and sends the others to their owners, at
   * collect_all (before a new SuperSlab, trim, exit, adoption).
   *
   * A list, not a stack of addresses: a free's store into the stack went to
   * a slot found by loading the top, so the next allocation's loads (the
   * top, then the slot) could not tell whether they read what the free
   * wrote until that load was done, and the processor either waited or
   * guessed and replayed; a list's free writes the block, an address it
   * has from the start, and the allocation's one uncertain load is the head.
   * With the stack, tcmalloc (a list) led every row of random sizes; with
   * the list (3 alternating rounds, M ops/s): server_handoff 1 thread 41.5
   * -> 50.8 (tcmalloc 51.1), random_mixed WS 256 60.0 -> 67.0 (66.8),
   * pool_replace 39.8 -> 46.0 (48.5); one size in a loop, within the spread.
   * The list also takes fewer instructions (16 mallocs then 16 frees: 62.7
   * -> 59.7 a pair, mimalloc 63.1): no floor to compare, and the room is
   * one subtract in memory (hk_take_one).
   *
   * tc[c] is the block freed last, NULL when empty; tc_room[c] how many
   * more the bound lets in (0 in a heap without a cache, so every free
   * there finds it full). */
  _Alignas(128) hk_block *tc[HK_NCLASSES]; /* 128: a batch key holds a heap's address and a class (remote.c) */
  uint64_t tc_room[HK_NCLASSES];    /* a word, as tc[c], so addressed from &tc[c] (HK_TC_FIELD) */
  uint64_t tc_pushes[HK_NCLASSES];  /* blocks the thread's frees put in the cache */
  hk_slab *current[HK_NCLASSES];   /* slab allocated from; never NULL (hk_empty_slab) */
  /* counters written by the owner only: allocations and frees that did not
   * go through the thread cache (those are tc_pushes and the pops derived
   * from tc_push_base) */
  uint64_t nalloc[HK_NCLASSES];
  uint64_t nfree[HK_NCLASSES];
  hk_slab_list avail[HK_NCLASSES]; /* slabs that may have free blocks; head == current */
  hk_slab_list full[HK_NCLASSES];  /* exhausted slabs; remote frees are collected from here */
  hk_ss *ss_list;                  /* SuperSlabs owned */
  hk_ss *ss_avail;                 /* owned SuperSlabs with unformatted slabs */
  uint64_t remote_frees;           /* frees this thread made into other heaps' slabs */
  uint64_t slabs_emptied, slabs_reused, slabs_in_use;
  uint64_t classes_split; /* coarse classes split into fine ones (split_class) */
  uint64_t invalid_frees;
  struct hk_heap *all_next;        /* every heap ever made (heaps are never unmapped) */
  struct hk_heap *abandoned_next;
  char *json_buf;                  /* hak_stats_json result of this thread */
  size_t json_cap;
  uint8_t is_live;                 /* its thread runs (atomic: read by remote frees) */
  uint8_t is_shared;               /* the heap of exited threads (heap.c), never abandoned */
  uint8_t caches_flushed;          /* abandoned with its caches empty (heap.c, collect_abandoned) */
  /* this thread's frees into other heaps, not yet sent; on lines of their
   * own: is_live, which every remote free into this heap reads, shared one
   * with the first slot, which this thread writes */
  _Alignas(64) hk_remote_batch remote_batch[HK_REMOTE_SLOTS];
  /* a bit per slot of remote_batch that was given a message since the last
   * send of them all (remote.c, hk_remote_send_batches), which visits those */
  uint64_t remote_slots_used;
  hk_remote_msg *msg_pool;         /* its empty messages (owner only) */
  uint32_t msgs_made;              /* messages it made (remote.c, HK_REMOTE_MSGS_MAX) */
  /* Blocks of class held_cls taken from the inbox that the thread cache had
   * no room for, as their addresses (held[0..held_count)), kept for the
   * cache's next refills instead of being linked onto their slabs (heap.c,
   * take_inbox). Written by the owner only (hak_stats reads the count and
   * class); held is made on first use. */
  uint32_t held_count, held_cls;
  hk_block **held;
  /* Remote frees into one slab in a row, gathered while no message could be
   * had: linked through the blocks, first (the newest), second, ..., last,
   * chain_count of them, for the slab chain_slab (NULL: none) (remote.c,
   * chain_add). */
  uint32_t chain_count, chain_limit;
  hk_slab *chain_slab;
  hk_block *chain_first, *chain_second, *chain_last;
  /* Times the owner looked at its inbox (heap.c, take_inbox), atomic for the
   * threads that read it (take_from_idle_heaps); and the next heap such a look
   * by this heap's thread starts at (NULL: the first). */
  _Atomic uint32_t inbox_looks;
  struct hk_heap *idle_cursor;
  /* Messages other threads sent (remote.c): blocks of this heap's slabs,
   * NULL-terminated; and this heap's messages that their receivers gave back.
   * Their own line: other threads write them, the owner takes each whole. */
  _Alignas(64) _Atomic(hk_remote_msg *) inbox;
  _Atomic(hk_remote_msg *) msgs_returned;
  /* 1 once a block went onto the empty remote list of one of its slabs
   * (hk_remote_push): only then may a full slab hold blocks to collect, so
   * collect_all walks the full lists only then (it takes the flag first). A
   * walk on every new SuperSlab made a growing heap quadratic: perl building
   * a 600 MB hash spent 2.6% of its time there. */
  _Atomic uint8_t remote_pending;
  uint8_t inbox_pad0[3];
  /* inbox_looks + 1 as another thread last saw it (take_from_idle_heaps); 0 never */
  _Atomic uint32_t inbox_looks_seen;
  /* 1 once another thread sorted the inbox into idle_pool and idle_kept
   * (below), which the owner's next look takes back (heap.c, take_inbox) */
  _Atomic uint32_t idle_sorted;
  uint8_t inbox_pad[36];
  /* Per class, the empty slabs kept as spares on the available list (heap.c,
   * keep_spare), or NULL; each a spare while used == 0 and not the head.
   * Cleared when that slab is released, so none points to a slab of a
   * SuperSlab that left the heap. Owner only; after the hot fields. */
  hk_slab *spare[HK_NCLASSES][HK_SPARE_SLABS];
  /* The thread cache's bound per class (heap.c, tc_set_limits, tc_grow); 0
   * in the heap of threads without one (hk_empty_heap), in the exit heap and
   * with HAKMEM_THREAD_CACHE off: nothing is pushed there. */
  uint32_t tc_limit[HK_NCLASSES];
  /* per class, the most the bound may grow to: the process's (heap.c,
   * tc_max_of, worked out once, as the starting bounds tc_base_of), put
   * back by tc_set_limits and lowered by tc_grow once the heap's growth
   * budget is spent. A free that finds the cache full asks tc_grow, and two
   * divisions there on every such free made a program freeing a large
   * structure (perl, 1.5 M hash entries) spend 0.3 s more in it than
   * without thread caches */
  uint16_t tc_max[HK_NCLASSES];
  /* bytes by which the bounds grew past their starting values (tc_grow) */
  uint64_t tc_grown_bytes;
  /* Blocks that left the cache other than by pops (flushes) less those that
   * entered it other than by pushes (messages taken in), wrapping: a pop is
   * not counted: pops = tc_pushes - tc_push_base - held (hk_tc_pops) */
  uint64_t tc_push_base[HK_NCLASSES];
  /* Per class, the blocks handed out (heap.c, class_allocs) past which a
   * full cache asks to grow: its bound, or more once tc_grow found the
   * class's blocks in use too few for a larger bound (heap.c, tc_class_in_use) */
  uint64_t tc_grow_after[HK_NCLASSES];
  uint8_t has_tc; /* the heap has a thread cache (HAKMEM_THREAD_CACHE; not the exit heap) */
  /* The class of each size up to 1 KiB (HK_CLASS_GRANULE): coarse, or fine
   * for the classes the heap split (heap.c). Its thread allocates through
   * hk_tl.tc_of, written from it. */
  uint8_t class_small[HK_CLASS_GRANULES];
  /* Per class, the slabs formatted for it that the heap holds (heap.c:
   * a coarse class with many is split into fine ones, split_class). */
  uint32_t class_slabs[HK_NCLASSES];
  /* A bit per class whose thread cache the heap opened or of which it
   * formatted a slab (heap.c, note_class_used); never cleared. Only those
   * classes can hold blocks or slabs, so the walks over classes at a flush,
   * a collection and a thread's exit visit them alone (a thread that
   * allocates once and exits, mleak, walked all 69 classes four times). */
  uint64_t classes_used[(HK_NCLASSES + 63) / 64];
  /* blocks of fine-only classes (hk_class_fine_only) other threads freed and
   * this heap took back, until it went back to the coarse classes for good
   * (heap.c, go_coarse), when coarse_only is set */
  uint32_t fine_returned;
  uint8_t coarse_only;
  /* Blocks taken from another heap's idle pool for allocations of the class
   * below theirs (heap.c, pool_take_above), handed out one at a time. Owner
   * only. And per class, the blocks handed out from there: allocations of
   * their own class, apart from class_allocs (which would open a thread
   * cache for a class the thread never asks for). */
  hk_above_stash above[HK_ABOVE_SLOTS];
  uint32_t above_held; /* stashes that hold blocks */
  uint64_t nalloc_above[HK_NCLASSES];
  /* The messages other threads took from the inbox of this heap while its
   * thread did not look at it (heap.c, idle pools): per shareable class,
   * for any thread to take blocks from; the others kept for the owner.
   * Under idle_pools_lock (heap.c). */
  hk_remote_msg *idle_pool[HK_NCLASSES];
  hk_remote_msg *idle_kept;
  /* class_small as the addresses of the class's cache tops (&tc[c]), which
   * the heap's thread copies into hk_tl.tc_of when it takes the heap or
   * leaves it for the empty heap's (heap.c, class_table_changed,
   * thread_take_heap): a copy, where working the table out again at each
   * thread's start and exit were 780 of the 8,100 instructions of a thread
   * that allocates once and exits (mleak). */
  hk_block **tc_of[HK_CLASS_GRANULES];
} hk_heap;

/* blocks in class c's cache, and the room left below its bound */
static inline uint32_t hk_tc_held(const hk_heap *h, unsigned c) { return h->tc_limit[c] - (uint32_t)h->tc_room[c]; }
static inline uint32_t hk_tc_room(const hk_heap *h, unsigned c) { return (uint32_t)h->tc_room[c]; }
/* blocks allocations took from class c's cache, which holds held (read
 * racily by hak_stats, exactly by the owner) */
static inline uint64_t hk_tc_pops_holding(const hk_heap *h, unsigned c, uint32_t held) {
  return h->tc_pushes[c] - h->tc_push_base[c] - held;
}
static inline uint64_t hk_tc_pops(const hk_heap *h, unsigned c) { return hk_tc_pops_holding(h, c, hk_tc_held(h, c)); }

extern HK_INTERNAL hk_slab hk_empty_slab;
extern HK_INTERNAL hk_heap hk_empty_heap;
/* The calling thread's heap, and for each size up to 1 KiB in 16-byte steps
 * the address of its class's thread-cache head in that heap (&heap->tc[c],
 * c from heap->class_small), which malloc reads. With the class table in
 * the heap, malloc's block waited for four dependent loads after the GOT's
 * (heap pointer, class, cache top, block); from here for three (slot, top,
 * block), in as many instructions (the 16-byte step's add and shift take
 * the place of the heap pointer's load and the class's scaling): the
 * 256-byte random row ran 4-6% faster. A class table here instead (bytes)
 * gave the same three loads but two instructions more. Written by heap.c
 * only, as the thread takes, changes or leaves its heap. 528 bytes: the
 * initial-exec storage of a library that is dlopened (the FFI library)
 * comes out of glibc's static TLS surplus, 1152 bytes for all such
 * libraries (make tls keeps ours within 768), so no table by the size
 * itself. */
typedef struct hk_thread_state {
  hk_heap *heap;
  hk_block **tc_of[HK_CLASS_GRANULES];
} hk_thread_state;
extern HK_INTERNAL __thread hk_thread_state hk_tl;

/* ---- global state fixed at initialisation --------------------------------- */
typedef struct hk_globals {
  uintptr_t ss_mask;       /* ~(ss_size - 1) */
  size_t ss_size;
  unsigned nslabs;
  uint8_t free_checks;     /* check or secure: frees leave the fast path */
  /* Registry words the inline free covers (hk_registry_has_inline_free):
   * HK_REG_WORDS, or 0 with free_checks and before initialisation, so that
   * the registry's bound test also sends every free to the slow path. */
  uintptr_t free_fast_words;
  uint8_t check;           /* HAKMEM_CHECK: validate every free */
  uint8_t secure;          /* HAKMEM_SECURE: encoded free lists, checked on every pop */
  uint8_t trace_lru, trace_ss_free;
  uint8_t prefault;        /* enum hk_prefault */
  uint8_t hugepages;
  uint8_t stats_at_exit;
  uint8_t large_trace, lock_stats;
  uint8_t remote_batch;    /* HAKMEM_REMOTE_BATCH resolved: gather remote frees per slab (remote.c) */
  uint8_t thread_cache;    /* HAKMEM_THREAD_CACHE resolved: heaps made from now on have one (heap.c) */
  size_t prefault_after_bytes; /* HAKMEM_SS_PREFAULT_AFTER_MB in bytes (0: never) */
  size_t lru_max_cached, lru_max_bytes;
  uint64_t lru_ttl_ns;
  size_t large_cache_max_runs, large_cache_max_bytes, large_max_block;
  uint64_t map_fail_every; /* HAKMEM_FAULT_MMAP_FAIL_EVERY (0: as hak_fault_set_mmap_fail_every left it) */
  uintptr_t secure_key;    /* random, per process */
  uintptr_t check_key;     /* HAKMEM_CHECK: random, per process (hk_free_mark) */
} hk_globals;
extern HK_INTERNAL hk_globals g_hk;

/* Whether any thread may keep a block of class c in its thread cache: a
 * block filling whole lines shares none with its owner's blocks, so another
 * thread may reuse it without fighting the owner over a line (a slab's
 * `shareable`, superslab.c; idle inboxes, heap.c). What the guard costs:
 * true for every class, bench_server_handoff with 2 threads ran 8% faster
 * (69.9 -> 76.3 M ops/s, level with tcmalloc's 76.0, which keeps any block
 * freed), the messages back to the owners and their blocks' cold lines;
 * bench_false_sharing fell 4x (23.2 -> 6.0, shared_lines=2).
 *
 * And only up to HK_SHARE_MAX_BYTES: a larger block goes back to its owner,
 * whose slab may then empty. Kept by the threads it was passed to, it left
 * its owner's slabs part-used while that thread took new ones:
 * bench_pass_random (blocks of 16 B to 16 KiB passed between 2 threads)
 * peaked at 16.3-17.5 MB against 13.8-14.7 with this bound alone (mimalloc
 * 8-9), within the spread of its throughput; blocks of a few KiB are worth a
 * message each (remote.c, batch_limit). A server passing blocks of 8 to 1024
 * bytes (bench_server_handoff) keeps them all. */
#define HK_SHARE_MAX_BYTES 1024u
static inline bool hk_class_shareable(unsigned c) {
  return g_hk.thread_cache && hk_class_whole_lines(c) && hk_class_size[c] <= HK_SHARE_MAX_BYTES;
}

/* What differs between the two libraries, fixed when each is linked
 * (report.c holds the FFI library's, preload.c the LD_PRELOAD library's). */
typedef struct hk_policy {
  uint8_t misuse_aborts;           /* a misuse report aborts (free() of glibc does) rather than returns */
  uint8_t remote_batch_by_default; /* HAKMEM_REMOTE_BATCH=auto means on */
  uint8_t thread_cache_by_default; /* HAKMEM_THREAD_CACHE=auto means on */
} hk_policy;
extern HK_INTERNAL const hk_policy hk_host_policy;

enum hk_prefault { HK_PREFAULT_OFF = 0, HK_PREFAULT_POPULATE = 1, HK_PREFAULT_MADVISE = 2 };

/* Free-list links as the slow paths read and write them. With HAKMEM_SECURE
 * each link is stored xor-ed with a per-process key and its own address, so a
 * plain overwrite of a free block (use after free, overflow) does not give an
 * attacker a pointer the allocator will follow: pops validate the decoded link.
 * The fast paths use raw links; in secure mode they are never taken. */
static inline uintptr_t hk_link_mask(const hk_block *at) {
  uintptr_t a = (uintptr_t)at;
  return g_hk.secure_key ^ ((a << 23) | (a >> 41));
}
static inline hk_block *hk_next(const hk_block *b) {
  uintptr_t v = (uintptr_t)b->next;
  return (hk_block *)(g_hk.secure ? (v ? v ^ hk_link_mask(b) : 0) : v);
}
static inline void hk_set_next(hk_block *b, hk_block *next) {
  b->next = (hk_block *)(g_hk.secure && next ? (uintptr_t)next ^ hk_link_mask(b) : (uintptr_t)next);
}

/* HAKMEM_CHECK: every free slab block carries a mark in its second word (the
 * first is its free-list link): its address xor a per-process key. Blocks get
 * it when carved and when freed; in check mode allocation always takes the
 * slow path (sync_current), which clears it. So a block is free exactly when
 * it carries the mark, whichever thread owns it and whatever list it is on. */
static inline uintptr_t hk_free_mark(const void *p) { return (uintptr_t)p ^ g_hk.check_key; }
static inline bool hk_has_free_mark(const void *p) {
  return __atomic_load_n((const uintptr_t *)p + 1, __ATOMIC_RELAXED) == hk_free_mark(p);
}

/* ---- registry -------------------------------------------------------------
 * One bit per 512 KiB granule of the 47-bit user address space (32 MiB of
 * zero-initialised .bss: untouched pages cost nothing). A bit is set while a
 * committed SuperSlab covers the granule. One load answers "ours?". */
#define HK_REG_WORDS ((size_t)1 << (47 - HK_GRANULE_SHIFT - 6))
extern HK_INTERNAL uint64_t hk_registry[HK_REG_WORDS];

/* Whether a's granule is registered, looking only at the first `words` words. */
static inline bool hk_registry_has_below(uintptr_t a, uintptr_t words) {
  uintptr_t w = a >> (HK_GRANULE_SHIFT + 6);
  /* relaxed atomic: the same plain load on x86, but hk_registry_set writes concurrently */
  return w < words && ((__atomic_load_n(&hk_registry[w], __ATOMIC_RELAXED) >> ((a >> HK_GRANULE_SHIFT) & 63)) & 1);
}
static inline bool hk_registry_has(uintptr_t a) { return hk_registry_has_below(a, HK_REG_WORDS); }
/* For the inline frees (free, hak_free): false for every address in check
 * and secure modes (g_hk.free_fast_words), which spares them a test of
 * g_hk.free_checks. */
static inline bool hk_registry_has_inline_free(uintptr_t a) { return hk_registry_has_below(a, g_hk.free_fast_words); }
HK_INTERNAL void hk_registry_set(uintptr_t base, size_t len, bool on);

/* ---- the SuperSlab arena ---------------------------------------------------
 * SuperSlabs come from one reserved range while it lasts (os.c), so the
 * inline free asks "ours?" with a subtract and a compare (the registry's bound
 * test, two loads and bit test: 5 instructions more per free), and finds the
 * metadata of the 64 KiB unit it frees into from the same offset: a shift, a
 * mask and an add into `meta`, the arena's table of slab metadata (entry i for
 * the unit at base + i * 64 KiB), instead of masking the address for its
 * SuperSlab and indexing that header. fast_len covers the chunks carved so
 * far, all mapped read-write with their part of the table, where every entry
 * is valid metadata (a registered SuperSlab), or has owner NULL and shareable
 * 0 (a slot never used, given back, or cached unformatted), which sends the
 * free to hk_free_other: there the registry decides. 0 in check and secure
 * modes. Set once at initialisation (hk_os_init), base and meta before
 * fast_len; fast_len only grows. */
typedef struct hk_ss_arena_bounds {
  _Alignas(64) uintptr_t base; /* a line of its own: every free reads it, nothing writes it after initialisation */
  _Atomic uintptr_t fast_len;
  hk_slab *meta;
} hk_ss_arena_bounds;
_Static_assert(sizeof(hk_ss_arena_bounds) == 64, "the arena's bounds fill their cache line");
extern HK_INTERNAL hk_ss_arena_bounds hk_ss_arena;
/* Whether off, an address less the arena's base, lies in the carved arena. */
static inline bool hk_arena_offset_ok(uintptr_t off) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  /* The compare reads fast_len from memory: GCC loads an atomic into a
   * register first (an instruction more per free). An x86 load is an acquire
   * load; the metadata reads that depend on the result come after the branch. */
  bool below;
  __asm__("cmpq %[len], %[off]" : "=@ccb"(below) : [off] "r"(off), [len] "m"(hk_ss_arena.fast_len));
  return below;
#else
  return off < atomic_load_explicit(&hk_ss_arena.fast_len, memory_order_acquire);
#endif
}
/* The metadata of the unit at arena offset off (hk_arena_offset_ok(off)). */
static inline hk_slab *hk_arena_slab(uintptr_t off) { return hk_ss_arena.meta + (off >> HK_SLAB_SHIFT); }

/* The header of the SuperSlab at address a, and the address a SuperSlab starts at. */
static inline hk_ss *hk_ss_of(uintptr_t a) { return (hk_ss *)((a & g_hk.ss_mask) + g_hk.ss_size - HK_SS_HDR_BYTES); }
static inline uintptr_t hk_ss_base(const hk_ss *ss) { return (uintptr_t)ss & g_hk.ss_mask; }
/* The metadata of the unit at address a of SuperSlab ss. */
static inline hk_slab *hk_slab_of(hk_ss *ss, uintptr_t a) { return ss->slabs + ((a & ~g_hk.ss_mask) >> HK_SLAB_SHIFT); }
/* The metadata of the unit at a, an address of a registered SuperSlab. */
static inline hk_slab *hk_slab_at(uintptr_t a) { return hk_slab_of(hk_ss_of(a), a); }
/* Slab idx of ss (idx < ss->nslabs). */
static inline hk_slab *hk_ss_slab(hk_ss *ss, unsigned idx) { return ss->slabs + idx; }
/* The SuperSlab of a formatted slab (any unit of it). */
static inline hk_ss *hk_ss_of_slab(const hk_slab *s) { return hk_ss_of(s->start); }
/* The slab owning unit s (s itself unless s is a follower of a multi-unit slab). */
static inline hk_slab *hk_slab_head(hk_slab *s) { return s - s->back; }
/* The (head) slab of the SuperSlab address a: by the arena's table when a
 * lies in it (as the inline free finds it: no load of the SuperSlab's
 * header), else by its SuperSlab's header. */
static inline hk_slab *hk_head_slab_of(uintptr_t a) {
  uintptr_t off = a - hk_ss_arena.base;
  return hk_slab_head(HK_LIKELY(hk_arena_offset_ok(off)) ? hk_arena_slab(off) : hk_slab_at(a));
}
/* The usable size of a block at a (in the registry): its class's size (a
 * follower unit holds a copy), 0 in an unformatted slab. */
static inline size_t hk_slab_usable(uintptr_t a) {
  const hk_slab *s = hk_slab_at(a);
  return s->cls == HK_CLASS_NONE ? 0 : s->block_size;
}
/* ---- cross-layer functions ------------------------------------------------ */
/* report.c */
HK_INTERNAL void hk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
HK_INTERNAL void hk_report_keep_stderr(void); /* reports at exit go to a copy of fd 2 taken now */
HK_INTERNAL int hk_report_fd(void);
/* Misuse reports: a bad pointer p given to call ("free", "realloc") in state
 * (HAK_BLOCK_FREE: double free, ...). What follows is hk_host_policy's. */
HK_INTERNAL void hk_report_invalid_call(const char *call, const void *p, int state);
HK_INTERNAL void hk_report_invalid_free(const void *p, int state);
/* config_file.c: reads a HAKMEM_CONFIG file whole, then calls apply for each
 * setting; a broken file applies nothing (and says why on stderr). */
HK_INTERNAL void hk_config_file_read(const char *path,
                                     void (*apply)(const char *source, const char *name, const char *text));
/* config.c */
HK_INTERNAL void hk_config_load(void);     /* environment, once */
HK_INTERNAL void hk_config_freeze(void);   /* fill g_hk; further sets fail */
HK_INTERNAL int64_t hk_config_value(const char *name); /* a flag's value as loaded (-1: no such flag) */
/* size_class.c */
HK_INTERNAL bool hk_size_classes_verify(void);
/* init.c */
HK_INTERNAL void hk_init(void);
HK_INTERNAL bool hk_is_initialised(void);
HK_INTERNAL void hk_init_fork_prepare(void);
HK_INTERNAL void hk_init_fork_parent(void);
/* os.c */
HK_INTERNAL void hk_os_init(void);                /* the SuperSlab arena reserved (hk_init) */
HK_INTERNAL hk_ss *hk_os_ss_alloc(void);           /* committed (zero) SuperSlab */
HK_INTERNAL void hk_os_ss_free(hk_ss *ss);         /* decommit, slot back to its chunk */
HK_INTERNAL void hk_os_prefault_range(void *p, size_t len);
/* Whether slabs formatted now are prefaulted without HAKMEM_SS_PREFAULT:
 * the heap is past HAKMEM_SS_PREFAULT_AFTER_MB (os.c). */
HK_INTERNAL bool hk_os_prefault_auto(void);
/* MADV_POPULATE_WRITE of [p, p+len), for hk_os_prefault_auto: false where
 * the kernel lacks it, which turns that off for good (no page-by-page
 * fallback: touching each page is the faults it was to save). */
HK_INTERNAL bool hk_os_populate(void *p, size_t len);
HK_INTERNAL void *hk_os_map(size_t len);           /* plain anonymous mapping, counted; NULL + ENOMEM */
HK_INTERNAL void hk_os_set_map_fail_every(uint64_t n);
HK_INTERNAL bool hk_os_unmap(void *p, size_t len);        /* false: refused, counted (os_release_failures) */
HK_INTERNAL bool hk_os_decommit(void *p, size_t len);     /* MADV_DONTNEED; false: refused, counted */
HK_INTERNAL void *hk_os_remap(void *p, size_t old_len, size_t new_len); /* mremap, may move; NULL: refused */
HK_INTERNAL void *hk_meta_alloc(size_t len);       /* internal metadata, never freed */
/* lru.c */
HK_INTERNAL void hk_lru_init(void);
HK_INTERNAL void hk_lru_push(hk_ss *ss);
HK_INTERNAL hk_ss *hk_lru_pop(void);
HK_INTERNAL size_t hk_lru_flush(void);
HK_INTERNAL void hk_lru_counts(uint64_t *count, uint64_t *bytes);
HK_INTERNAL bool hk_lru_decay(void);              /* releases what outlived the TTL; true: some still cached */
/* decay.c: the background releaser. lru.c and large.c call hk_decay_start
 * with their release function (called by the releaser thread every period)
 * once they hold memory for a time; a thread that holds a hakmem lock then
 * starts it when it lets go of its last one (hk_tl_after_locks). */
HK_INTERNAL void hk_decay_start(bool (*release)(void)); /* release: NULL or the caller's */
/* Whether the releaser thread runs; when not (a single-threaded program, a
 * TTL of 0), the caches look at the TTL on their own events. */
HK_INTERNAL bool hk_decay_running(void);
/* superslab.c */
HK_INTERNAL hk_ss *hk_ss_acquire(hk_heap *owner);
/* A cache's release of at least n bytes (or all it holds); bytes released. */
typedef size_t (*hk_shed_fn)(size_t n);
/* shed is called before each fresh SuperSlab (the large tier's, large.c) */
HK_INTERNAL void hk_ss_on_growth(hk_shed_fn shed);
HK_INTERNAL void hk_ss_release(hk_ss *ss);
HK_INTERNAL void hk_slab_format(hk_ss *ss, unsigned idx, unsigned cls, hk_heap *owner);
HK_INTERNAL void hk_slab_extend(hk_ss *ss, hk_slab *s);
HK_INTERNAL uint32_t hk_slab_collect(hk_slab *s);
HK_INTERNAL bool hk_block_in_slab(const hk_slab *s, const hk_block *b);
HK_INTERNAL void hk_corrupt_list(const hk_slab *s, const hk_block *at) __attribute__((noreturn));
HK_INTERNAL int hk_slab_block_state(hk_slab *s, uintptr_t a, bool may_walk_local); /* s: head slab */
/* remote.c */
/* s: head slab of another heap; false: b was refused (freed twice in a row, reported) */
HK_INTERNAL bool hk_remote_push(hk_slab *s, hk_block *b);               /* per slab */
/* b gathered and counted (or refused: freed twice in a row, reported) */
HK_INTERNAL void hk_remote_free_batched(hk_heap *h, hk_slab *s, hk_block *b);
HK_INTERNAL void hk_remote_send_batches(hk_heap *h); /* sends every gathered batch of h (h not empty) */
HK_INTERNAL void hk_remote_flush(hk_heap *h);      /* the same (h may be hk_empty_heap) */
/* b, of (head) slab s of another heap, kept by h's thread cache and counted
 * as freed then, goes to its owner (gathered in a batch, or pushed) */
HK_INTERNAL void hk_remote_give_back(hk_heap *h, hk_slab *s, hk_block *b);
HK_INTERNAL hk_remote_msg *hk_inbox_take(hk_heap *h); /* what other threads sent h, NULL-terminated */
/* messages first..last (linked) taken from h's inbox by another thread, back onto it */
HK_INTERNAL void hk_inbox_put_back(hk_heap *h, hk_remote_msg *first, hk_remote_msg *last);
/* the messages of chain m, taken from h's inbox and emptied, back to their home heaps' pools */
HK_INTERNAL void hk_remote_msgs_done(hk_heap *h, hk_remote_msg *m);
/* heap.c */
HK_INTERNAL hk_heap *hk_heap_get(void);            /* creates the thread heap on first use */
/* a block of class c, whose thread cache and current slab were found empty */
HK_INTERNAL void *hk_alloc_slab_slow(hk_heap *h, size_t c);
HK_INTERNAL bool hk_free_slab_block_slow(void *p);      /* hk_free_slab_block for check/secure modes */
/* A local free found the slab full (unfull: back to the available list) or
 * left it empty (retire: back to its SuperSlab). */
HK_INTERNAL void hk_slab_unfull_or_retire(hk_heap *h, hk_slab *s);
HK_INTERNAL void hk_free_other(hk_slab *s, hk_block *b);
HK_INTERNAL void hk_tc_overflow(hk_heap *h, hk_slab *s, hk_block *b);
HK_INTERNAL void hk_freed_into_abandoned(void);  /* a remote free landed in an exited thread's heap */
HK_INTERNAL void hk_heap_trim(hk_heap *h);
HK_INTERNAL int hk_heap_foreign_block_state(hk_heap *owner, hk_slab *s, uintptr_t a);
HK_INTERNAL void hk_heaps_lock(void);
HK_INTERNAL void hk_heaps_unlock(void);
HK_INTERNAL hk_heap *hk_heaps_first(void);
/* large.c */
HK_INTERNAL void *hk_large_alloc(size_t size, size_t align, bool *known_zero); /* known_zero may be NULL */
/* realloc's move of an old-byte block into the tier, grown to size bytes */
HK_INTERNAL void *hk_large_alloc_grown(size_t size, size_t old);
HK_INTERNAL void *hk_large_calloc(size_t size);   /* zeroes only pages that may hold data */
HK_INTERNAL bool hk_large_free(void *p);           /* false: not a large block */
HK_INTERNAL size_t hk_large_usable(const void *p); /* 0: not a large block */
HK_INTERNAL bool hk_large_recently_freed(const void *p); /* freed: in an arena, outside a used run; huge, one of the last 64 freed */
HK_INTERNAL bool hk_large_interior(const void *p); /* inside a live large block, not its start (a scan) */
HK_INTERNAL void *hk_large_realloc(void *p, size_t size);
/* The large tier's counts: allocations and frees (those of the threads' slots
 * among them), bytes live, allocations that found their pages committed or
 * not (slots' not among them), and its pools' lock acquisitions, which are
 * counted per pool under the pool's lock rather than in hk_ctr (two threads
 * bouncing one counter's line cost more than the lock of a pool each). */
typedef struct hk_large_tally {
  uint64_t allocs, frees, bytes, slot_allocs, cache_hits, cache_misses, pool_locks;
} hk_large_tally;
HK_INTERNAL void hk_large_counts(hk_large_tally *out);
HK_INTERNAL size_t hk_large_flush(void);          /* decommits every cached free page; bytes */
HK_INTERNAL bool hk_large_decay(void);            /* releases what outlived the TTL; true: some still cached */
HK_INTERNAL void hk_large_cache_counts(uint64_t *entries, uint64_t *bytes);
/* lent.c */
HK_INTERNAL bool hk_lent_mark(void *p, size_t size); /* p: a new block of a slab of <= 64; false: no memory for the size */
HK_INTERNAL bool hk_lent_unguarded(const void *p); /* a block marked lent, not yet taken back */
HK_INTERNAL size_t hk_lent_size(const void *p, bool take); /* the size lent, 0: not marked; take unmarks it */
HK_INTERNAL void hk_lent_fork_prepare(void);
HK_INTERNAL void hk_lent_fork_parent(void);
/* report.c holds the counters of rare events, stats.c sums them */
/* The COUNTER fields of hakmem_stats_fields.h, then counters hak_stats()
 * sums into other fields. */
#define HK_COUNTER_FIELD_COUNTER(name) _Atomic uint64_t name;
#define HK_COUNTER_FIELD_SUMMED(name)
#define HK_COUNTER_FIELD(name, source, description) HK_COUNTER_FIELD_##source(name)
typedef struct hk_counters {   /* rare-path counters, updated atomically */
  HAK_STATS_FIELDS(HK_COUNTER_FIELD)
  _Atomic uint64_t lock_path[5];  /* by enum hk_lock_path: locks_os, ... */
  _Atomic uint64_t remote_frees_unowned;
  _Atomic uint64_t nfree_unowned[HK_NCLASSES]; /* remote frees by threads without a heap */
} hk_counters;
extern HK_INTERNAL hk_counters hk_ctr;
#define HK_COUNT(field, n) atomic_fetch_add_explicit(&hk_ctr.field, (n), memory_order_relaxed)

/* Locks on rare paths, counted per path (HAKMEM_LOCK_STATS) so a
 * report shows how rarely the common path takes one. */
enum hk_lock_path { HK_LOCK_OS, HK_LOCK_META, HK_LOCK_LRU, HK_LOCK_HEAPS, HK_LOCK_LARGE, HK_LOCK_NPATHS };
/* fork window: from hakmem's prepare handler to its parent or child handler
 * the forking thread holds every hakmem lock. Handlers that run inside that
 * window in the same thread (pthread_atfork handlers registered before
 * hakmem's: their prepare runs after hakmem's, their parent and child before)
 * may still allocate: for that thread every lock and unlock is a no-op then.
 * That is safe because it holds them all, and no other thread runs hakmem code
 * under any of them. Every hakmem mutex goes through these two functions. */
extern HK_INTERNAL __thread uint8_t hk_tl_fork_window;
/* hakmem mutexes this thread holds, and a releaser start it put off until it
 * holds none (decay.c): pthread_create allocates, and that allocation may need
 * a lock the thread holds already. */
extern HK_INTERNAL __thread uint32_t hk_tl_locks_held;
extern HK_INTERNAL __thread void (*hk_tl_after_locks)(void); /* NULL, or work put off until no lock is held */
HK_INTERNAL void hk_after_locks_run(void);
/* Whether the C library takes the process for single-threaded (glibc 2.32
 * and later say, through __libc_single_threaded; elsewhere never). */
static inline bool hk_program_single_threaded(void) {
#ifdef HK_HAVE_SINGLE_THREADED
  return __libc_single_threaded != 0;
#else
  return false;
#endif
}
/* Set at a thread's outermost lock while the process is single-threaded:
 * that lock and those nested in it take no mutex, as glibc's malloc takes
 * none then. No other thread can run hakmem code, and none can start while
 * this one holds a lock: hakmem starts only the releaser, and only once the
 * thread holds none (decay.c). A mutex is an atomic read-modify-write, which
 * waits for every store before it to reach the cache: after a buffer was
 * written (realloc growing a large block in place) that wait was most of
 * the call. */
extern HK_INTERNAL __thread bool hk_tl_locks_elided;
/* A lock's bookkeeping, shared by the three below: entering counts the lock
 * (the outermost decides whether this thread's locks are elided) and says
 * whether to take the mutex itself (hk_lock_is_real, asked again to release
 * it); leaving runs the work put off until the thread holds none. */
static inline bool hk_lock_is_real(void) { return HK_LIKELY(!hk_tl_fork_window) && !hk_tl_locks_elided; }
static inline bool hk_lock_enter(void) {
  if (hk_tl_locks_held++ == 0) hk_tl_locks_elided = hk_program_single_threaded();
  return hk_lock_is_real();
}
static inline void hk_lock_leave(void) {
  if (--hk_tl_locks_held == 0 && HK_UNLIKELY(hk_tl_after_locks != NULL)) hk_after_locks_run();
}
static inline void hk_mutex_lock(pthread_mutex_t *m) {
  if (hk_lock_enter()) pthread_mutex_lock(m);
}
static inline void hk_mutex_unlock(pthread_mutex_t *m) {
  if (hk_lock_is_real()) pthread_mutex_unlock(m);
  hk_lock_leave();
}
/* hk_mutex_lock's counterpart for a lock a thread may do without: true when
 * taken (and then released by hk_mutex_unlock). A plain pthread_mutex_trylock
 * paired with hk_mutex_unlock left the count of locks held one short and, in
 * a thread whose last lock had been elided, the mutex taken for good
 * (mimalloc-bench's rptest hung: a thread waited on the idle pools' lock
 * forever, and a fork's handler would have too). */
static inline bool hk_mutex_trylock(pthread_mutex_t *m) {
  if (!hk_lock_enter() || pthread_mutex_trylock(m) == 0) return true;
  hk_lock_leave();
  return false;
}
/* A lock counted (HAKMEM_LOCK_STATS) without an atomic add while the locks
 * are elided: no other thread counts then. */
static inline void hk_count_lock(_Atomic uint64_t *counter) {
  if (hk_tl_locks_elided)
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}
static inline void hk_lock(pthread_mutex_t *m, enum hk_lock_path path) {
  hk_mutex_lock(m);
  hk_count_lock(&hk_ctr.lock_acquisitions);
  hk_count_lock(&hk_ctr.lock_path[path]);
}
static inline void hk_unlock(pthread_mutex_t *m) { hk_mutex_unlock(m); }


/* ---- fast paths, shared by api.c and preload.c ---------------------------- */
/* A class's field of a heap, from the address of its thread-cache top
 * (&h->tc[c], as hk_tl.tc_of holds): the heap's per-class arrays are of
 * words, so at a fixed distance. */
#define HK_TC_FIELD(top_slot, field)                                                                     \
  (*(__typeof__(((hk_heap *)0)->field[0]) *)((char *)(top_slot) + offsetof(hk_heap, field) -              \
                                            offsetof(hk_heap, tc)))
_Static_assert(sizeof(((hk_heap *)0)->tc_room[0]) == sizeof(((hk_heap *)0)->tc[0]),
               "tc_room is per-class words, as tc");

/* Whether the thread cache whose head is at slot (&h->tc[c]) holds a block;
 * if so, *t is the one freed last, taken out (its room back; the pop is
 * counted by what it leaves, hk_tc_pops). */
static inline bool hk_tc_pop_at(hk_block **slot, hk_block **t) {
  hk_block *top = *slot;
  if (HK_UNLIKELY(top == NULL)) return false;
  *slot = top->next;
  HK_TC_FIELD(slot, tc_room)++;
  *t = top;
  return true;
}

/* hk_tc_pop_at for h's class c. */
static inline bool hk_tc_pop(hk_heap *h, size_t c, hk_block **t) { return hk_tc_pop_at(&h->tc[c], t); }

/* An allocation of class cls from h's current slab, the calling thread's
 * heap, or the slow path. */
static inline void *hk_heap_alloc_slab(hk_heap *h, size_t cls) {
  hk_slab *s = h->current[cls];
  hk_block *b = s->free;
  if (HK_LIKELY(b != HK_END)) {
    s->free = b->next;
    s->used++;
    h->nalloc[cls]++;
    return b;
  }
  return hk_alloc_slab_slow(h, cls);
}

/* t, a block popped from a thread cache, loaded straight into the return
 * register: gcc gave that register to the cache top's address and copied t
 * over (an instruction). */
static HK_ALWAYS_INLINE hk_block *hk_in_return_register(hk_block *t) {
#if defined(__x86_64__) && defined(__GNUC__)
  __asm__("" : "+a"(t));
#endif
  return t;
}

/* An allocation of class cls from h, the calling thread's heap. */
static inline void *hk_heap_alloc(hk_heap *h, size_t cls) {
  hk_block *t;
  if (HK_LIKELY(hk_tc_pop(h, cls, &t))) return hk_in_return_register(t);
  return hk_heap_alloc_slab(h, cls);
}

static inline void *hk_alloc_class(size_t cls) { return hk_heap_alloc(hk_tl.heap, cls); }

/* dispatch.c */
HK_INTERNAL void *hk_alloc_slow(size_t size);
HK_INTERNAL void *hk_alloc_aligned(size_t align, size_t size);

/* The class the calling thread allocates size (at most HK_SLAB_MAX) from:
 * coarse unless its heap split it (heap.c). */
static inline unsigned hk_thread_class_of(size_t size) {
  return size <= HK_CLASS_SMALL_MAX ? hk_tl.heap->class_small[HK_CLASS_GRANULE(size)]
                                    : hk_class_mid[HK_CLASS_MID_INDEX(size)];
}

/* Up to 1 KiB the thread cache's top from hk_tl, the class only when it is
 * empty (from the slot's place in the heap); above, the class from its
 * table. */
static inline void *hk_alloc(size_t size) {
  if (HK_LIKELY(size <= HK_CLASS_SMALL_MAX)) {
    hk_block **slot = hk_tl.tc_of[HK_CLASS_GRANULE(size)];
    hk_block *t;
    if (HK_LIKELY(hk_tc_pop_at(slot, &t))) return hk_in_return_register(t);
    hk_heap *h = hk_tl.heap;
    return hk_heap_alloc_slab(h, (size_t)(slot - h->tc));
  }
  if (HK_LIKELY(size <= HK_SLAB_MAX)) return hk_heap_alloc(hk_tl.heap, hk_class_mid[HK_CLASS_MID_INDEX(size)]);
  return hk_alloc_slow(size);
}

/* Is off, an offset from the start of (head) slab s below 2^32, that of a
 * block? It must be a multiple of block_size, with a quotient below capacity
 * (an address in the slack after the last block is no block). With
 * c = start_mul and e = block_size * c - 2^64 (0 < e <= block_size), off * c
 * mod 2^64 is k * e for off = k * block_size, and at least c for any other
 * offset (r * c for the remainder r, plus k * e, which stays far below
 * 2^64 - c: k < 2^28, e <= 2^16, c > 2^47). So one multiply and one compare
 * against start_lim = (capacity - 1) * e decide (Lemire, Kaser and Kurz's
 * divisibility test, with the bound folded in; e > 0 for every block size,
 * so a power of two's multiples past the last block still fail). */
static inline bool hk_block_offset_ok(const hk_slab *s, uint64_t off) { return off * s->start_mul <= s->start_lim; }

/* Is a the start of a block of (head) slab s? */
static inline bool hk_block_start_ok(const hk_slab *s, uintptr_t a) {
  uint64_t off = a - s->start;
  return (off >> 32) == 0 && hk_block_offset_ok(s, off);
}

/* hk_block_start_ok for a in a unit of slab s (s was found from a): every
 * slab starts at its first unit's address, so a - start is below the slab's
 * size (at most 2 MiB). */
static inline bool hk_block_start_ok_in_ss(const hk_slab *s, uintptr_t a) { return hk_block_offset_ok(s, a - s->start); }

/* Blocks handed out through the hak_* API (api.c, js_entry.c) start with a
 * zero word: a free block's first word is a list link, so hak_free_checked and
 * hak_owns can tell an unwritten live block from a free one without walking a
 * free list. (The preload malloc does not pay for this: its callers do not
 * validate.) */
static inline void *hk_clear_first_word(void *p) {
  if (p) *(uintptr_t *)p = 0;
  return p;
}

/* Takes one from *word, in memory; whether it was 0 (it is all ones then).
 * A subtract and a branch on its borrow: gcc made a test first and the
 * subtract in a register four instructions (the free's room, hk_tc_push). */
static HK_ALWAYS_INLINE bool hk_take_one(uint64_t *word) {
#if defined(__x86_64__) && defined(__GNUC__)
  bool borrow;
  __asm__("subq $1, %[w]" : [w] "+m"(*word), "=@ccb"(borrow));
  return borrow;
#else
  return __builtin_sub_overflow(*word, 1, word);
#endif
}

/* What hk_tc_push did with a block. */
enum hk_tc_pushed { HK_TC_FULL = 0, HK_TC_PUSHED = 1, HK_TC_REPEATED = 2 };

/* Pushes b, a block of class c that the thread may keep (its own, or of a
 * shareable slab), on its thread cache when there is room. The block at the
 * top is refused as a repeated free: the commonest double free, which the
 * caller reports (a tail call) and takes as done, as glibc's tcache does. */
static inline enum hk_tc_pushed hk_tc_push(hk_heap *h, size_t c, hk_block *b) {
  hk_block *top = h->tc[c];
  if (HK_UNLIKELY(top == b)) return HK_TC_REPEATED;
  if (HK_UNLIKELY(hk_take_one(&h->tc_room[c]))) { /* none: given back */
    h->tc_room[c] = 0;
    return HK_TC_FULL;
  }
  b->next = top;
  h->tc[c] = b;
  h->tc_pushes[c]++;
  return HK_TC_PUSHED;
}

/* Free by the owning thread into its slab s (its thread cache full or off):
 * straight onto the slab's list, every slab alike (testing for the class's
 * current slab first, and sending the others out of line, made random_mixed
 * WS 8192 25% slower in CPU time: that test is unpredictable there). The
 * block just freed into a slab is at the head of its list: freeing it again
 * is caught here for a compare. A slab that empties, or was full, goes to
 * heap.c (spare, retire, or back on the available list). */
static inline void hk_free_into_slab(hk_heap *h, hk_slab *s, hk_block *b) {
  unsigned c = s->cls;
  hk_block *head = s->free;
  if (HK_UNLIKELY(b == head)) {
    hk_report_invalid_free(b, HAK_BLOCK_FREE);
    return;
  }
  HK_ASSERT(s->used > 0, "a block coming back was counted in used");
  b->next = head;
  s->free = b;
  h->nfree[c]++;
  /* An empty current slab stays put (see heap.c); a full one is never current. */
  if (HK_UNLIKELY(--s->used == 0 || s->full) && h->current[c] != s) hk_slab_unfull_or_retire(h, s);
}

/* A block of slab (or follower unit) s that h's thread cache did not take:
 * a repeat of the top is reported; a full cache goes out of line (a tail
 * call: the fast path keeps its registers), where the class's bound may
 * grow (heap.c) and another heap's block goes on to hk_free_other; without
 * thread caches (so never a shareable block) the slab is freed into inline. */
static HK_ALWAYS_INLINE void hk_free_not_pushed(hk_heap *h, hk_slab *s, hk_block *b, enum hk_tc_pushed r) {
  if (HK_UNLIKELY(r == HK_TC_REPEATED)) hk_report_invalid_free(b, HAK_BLOCK_FREE);
  else if (g_hk.thread_cache) hk_tc_overflow(h, s, b);
  else hk_free_into_slab(h, hk_slab_head(s), b); /* s may be a follower unit */
}

/* Free by the owning thread: its thread cache, else its slab. */
static HK_ALWAYS_INLINE void hk_free_local(hk_heap *h, hk_slab *s, hk_block *b) {
  enum hk_tc_pushed r = hk_tc_push(h, s->cls, b);
  if (HK_LIKELY(r == HK_TC_PUSHED)) return;
  hk_free_not_pushed(h, s, b, r);
}

/* The calling thread's slab holding a, or NULL (not a slab block, another
 * thread's slab, a follower unit, or a slab with blocks lent unguarded to
 * JavaScript: lent.c, whose bits the exact check reads). */
static inline hk_slab *hk_own_slab_of(uintptr_t a) {
  if (HK_UNLIKELY(!hk_registry_has(a))) return NULL;
  hk_slab *s = hk_slab_at(a);
  if (HK_UNLIKELY(s->owner != hk_tl.heap || s->back || atomic_load_explicit(&s->lent, memory_order_relaxed) != 0))
    return NULL;
  return s;
}

/* Whether a, inside the calling thread's slab s, is a live block, when that
 * can be told without walking a list (false: the exact check must decide).
 * Not for check or secure modes (raw links). A block's first word is a link
 * into its own slab, HK_END (end of the local list) or NULL (end of the
 * remote list) only while it is free; anything else means live. NULL is
 * taken as live only while the remote list is empty. Changes nothing. */
static inline bool hk_own_block_live(const hk_slab *s, uintptr_t a) {
  if (HK_UNLIKELY(!hk_block_start_ok(s, a))) return false;
  uintptr_t span = (uintptr_t)s->carved * s->block_size;
  if (HK_UNLIKELY(a - s->start >= span)) return false; /* never handed out */
  uintptr_t next = (uintptr_t)((hk_block *)a)->next;
  if (next == (uintptr_t)HK_END || next - s->start < span) return false;
  return next != 0 || atomic_load_explicit(&s->remote, memory_order_relaxed) == NULL;
}

/* The calling thread's slab that a is a live block of, or NULL when the exact
 * check (hk_block_state) must decide. */
static inline hk_slab *hk_own_live_slab(uintptr_t a) {
  hk_slab *s = hk_own_slab_of(a);
  return s && hk_own_block_live(s, a) ? s : NULL;
}

/* Frees p if it lies in a SuperSlab (any slab-backed class, up to 64 KiB);
 * returns false otherwise (large, NULL or foreign), and for every address in
 * check and secure modes. The owner's free goes to its thread cache, or its
 * slab; a block of another heap's shareable slab goes to the thread cache as
 * well (a server handing work between threads frees both kinds, and reuses
 * the block it just freed, still in this core's cache, whoever owned it),
 * counted as a remote free. Both take one branch: where a thread frees its
 * own and other threads' blocks at random (larson), a branch on the owner
 * was mispredicted on a fifth of the frees. */
static HK_ALWAYS_INLINE bool hk_free_slab_block(void *p) {
  uintptr_t a = (uintptr_t)p, off = a - hk_ss_arena.base;
  hk_slab *s;
  if (HK_LIKELY(hk_arena_offset_ok(off))) s = hk_arena_slab(off);
  else if (HK_LIKELY(hk_registry_has_inline_free(a))) s = hk_slab_at(a);
  else return false;
  hk_heap *h = hk_tl.heap;
  hk_block *b = (hk_block *)p;
  uint64_t foreign = s->owner != h;
  /* own, or shareable (0 or 1): compared, not branched on */
  if (HK_LIKELY(foreign <= s->shareable) && HK_LIKELY(hk_block_start_ok_in_ss(s, a))) {
    enum hk_tc_pushed r = hk_tc_push(h, s->cls, b);
    if (HK_LIKELY(r == HK_TC_PUSHED)) {
      /* The push wrote the block's first word: its line, maybe another
       * core's (a block that thread wrote), is fetched now rather than by
       * the allocation's caller that gets it again. */
      h->remote_frees += foreign;
      return true;
    }
    hk_free_not_pushed(h, s, b, r);
    return true;
  }
  hk_free_other(s, b); /* another thread's slab (its thread cache full or off), or misuse */
  return true;
}

/* dispatch.c */
HK_INTERNAL void hk_free_slow(void *p);
/* Always inlined: otherwise api.c, which inlines hak_free into its other
 * callers, gets an out-of-line copy and hak_free becomes a jump to it (one
 * instruction more per hak_malloc/hak_free pair, counted with callgrind). */
static HK_ALWAYS_INLINE void hk_free(void *p) {
  if (HK_LIKELY(hk_free_slab_block(p))) return;
  hk_free_slow(p);
}
HK_INTERNAL void hk_free_live(void *p);       /* p: a live block (slab or large) */
HK_INTERNAL int hk_free_error(int state);     /* what a free of a block in state (not LIVE) returns */
/* NULL or a large block: freed, true. Otherwise (foreign) false. */
HK_INTERNAL bool hk_free_large_or_null(void *p);
/* Validating free: HAK_OK, HAK_E_FOREIGN or HAK_E_DOUBLE_FREE; frees only on HAK_OK. */
HK_INTERNAL int hk_free_validated(void *p);
HK_INTERNAL size_t hk_usable_size(const void *p);
HK_INTERNAL int hk_block_state(const void *p);
/* realloc of p, a live block of old_usable bytes: a slab block, a large
 * block, or either (asks the registry) */
HK_INTERNAL void *hk_realloc_slab(void *p, size_t size, size_t old_usable);
/* A buffer that doubles (hk_grows_like_vector) leaves the slab tier from
 * this size on, with room for its next doubling, so that every other growth
 * is in place: realloc x2 to 1 MiB copied 2, 4, 8 and 16 KiB into slab
 * classes and then took the large tier's lock at every step (2,950 cycles a
 * chain, glibc's 1,000, which grows at the top of its heap). A buffer grown a
 * little at a time stays in the slab tier to 16 KiB (dispatch.c): from 4 KiB,
 * realloc +64 B to 16 KiB ran 7% slower (a lock for each page it grew by).
 * A large block resized to more than this stays in the large tier where it
 * can. */
#define HK_REALLOC_VECTOR_LARGE_FROM (4u * 1024)
HK_INTERNAL void *hk_realloc_large_resized(void *p, size_t size, size_t old_usable);
/* A buffer grown a little at a time stays within its pages for many calls:
 * that case returns here, inline in realloc. */
static inline void *hk_realloc_large(void *p, size_t size, size_t old_usable) {
  /* within the block's pages, less than their headroom and a page short of them */
  if (size > HK_REALLOC_VECTOR_LARGE_FROM && size <= old_usable &&
      old_usable - size < HK_PAGE_SIZE + (old_usable >> HK_LARGE_HEADROOM_SHIFT))
    return p;
  return hk_realloc_large_resized(p, size, old_usable);
}
HK_INTERNAL void *hk_realloc_owned(void *p, size_t size, size_t old_usable);
HK_INTERNAL void *hk_calloc(size_t count, size_t size);

/* fork handlers of each layer holding a lock (registered by api.c) */
HK_INTERNAL void hk_config_fork_prepare(void);
HK_INTERNAL void hk_config_fork_parent(void);
HK_INTERNAL void hk_heap_fork_prepare(void);
HK_INTERNAL void hk_heap_fork_parent(void);
HK_INTERNAL void hk_heap_fork_child(void);
HK_INTERNAL void hk_os_fork_prepare(void);
HK_INTERNAL void hk_os_fork_parent(void);
HK_INTERNAL void hk_lru_fork_prepare(void);
HK_INTERNAL void hk_lru_fork_parent(void);
HK_INTERNAL void hk_large_fork_prepare(void);
HK_INTERNAL void hk_large_fork_parent(void);
HK_INTERNAL void hk_large_fork_child(void);
HK_INTERNAL void hk_stats_fork_prepare(void);
HK_INTERNAL void hk_stats_fork_parent(void);

#endif /* HAKMEM_INTERNAL_H */
