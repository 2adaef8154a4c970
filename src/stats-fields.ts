// Written by `bun csrc/tools/gen-stats-fields.ts` from csrc/include/hakmem_stats_fields.h: edit that list, then
// run it (tests/stats_fields.test.ts fails while this file is out of date).

/**
 * The fields of `struct hak_stats` after its leading `size`, in struct order (every one a `uint64_t`). Also the keys
 * of `hak_stats_json()`, in the same order.
 */
export const STATS_FIELDS = [
  "allocs",
  "frees",
  "small_allocs",
  "small_frees",
  "large_allocs",
  "large_frees",
  "remote_frees",
  "foreign_frees",
  "invalid_frees",
  "bytes_in_use",
  "superslabs_live",
  "superslabs_cached",
  "superslab_bytes",
  "slabs_in_use",
  "slabs_emptied",
  "slabs_reused",
  "lru_push",
  "lru_pop",
  "lru_hit",
  "lru_miss",
  "lru_evict",
  "os_maps",
  "os_unmaps",
  "os_map_bytes",
  "os_unmap_bytes",
  "os_decommits",
  "os_decommit_bytes",
  "prefault_calls",
  "prefault_bytes",
  "prefault_faults",
  "hugepage_advised_bytes",
  "page_faults",
  "rss_current",
  "rss_peak",
  "lock_acquisitions",
  "threads_started",
  "heaps_abandoned",
  "heaps_adopted",
  "large_cached",
  "large_cached_bytes",
  "large_cache_hits",
  "huge_mappings",
  "large_cache_misses",
  "huge_map_failures",
  "locks_os",
  "locks_meta",
  "locks_lru",
  "locks_heaps",
  "locks_large",
  "os_map_failures",
  "os_release_failures",
  "thread_cache_bytes",
  "superslab_arena_bytes",
  "classes_split",
  "heaps_coarse",
] as const;

/** A field name of `struct hak_stats` (snake_case, as in C and in `hak_stats_json()`). */
export type StatsField = (typeof STATS_FIELDS)[number];

/** What each field counts, as the C list says. */
export const STATS_FIELD_DESCRIPTIONS: { readonly [K in StatsField]: string } = {
  allocs: "allocations, every tier",
  frees: "frees, every tier",
  small_allocs: "allocations of slab blocks (up to 64 KiB)",
  small_frees: "frees of slab blocks",
  large_allocs: "allocations above the slab tier",
  large_frees: "frees of large blocks",
  remote_frees: "frees of blocks owned by another thread",
  foreign_frees: "frees of pointers hakmem does not own",
  invalid_frees: "frees rejected by hak_free_checked or reported as misuse",
  bytes_in_use: "bytes of live blocks (class sizes and large blocks)",
  superslabs_live: "SuperSlabs owned by a thread heap",
  superslabs_cached: "empty SuperSlabs in the LRU cache",
  superslab_bytes: "the SuperSlab size in force",
  slabs_in_use: "slabs formatted for a size class",
  slabs_emptied: "slabs that became empty and went back to their SuperSlab",
  slabs_reused: "slabs formatted again after having been emptied",
  lru_push: "SuperSlabs put into the LRU cache",
  lru_pop: "SuperSlabs taken from the LRU cache",
  lru_hit: "SuperSlab requests the LRU cache served",
  lru_miss: "SuperSlab requests that went to the OS",
  lru_evict: "SuperSlabs the LRU cache released (count, size or age)",
  os_maps: "mmap calls",
  os_unmaps: "munmap calls",
  os_map_bytes: "bytes mapped",
  os_unmap_bytes: "bytes unmapped",
  os_decommits: "madvise(MADV_DONTNEED) releases",
  os_decommit_bytes: "bytes released by madvise",
  prefault_calls: "prefault requests made (populate or madvise)",
  prefault_bytes: "bytes asked to be prefaulted",
  prefault_faults: "page faults the kernel took inside prefault requests",
  hugepage_advised_bytes: "bytes advised MADV_HUGEPAGE",
  page_faults: "minor and major page faults of the process (getrusage)",
  rss_current: "resident bytes now (/proc/self/statm)",
  rss_peak: "peak resident bytes (getrusage ru_maxrss)",
  lock_acquisitions: "hakmem mutexes taken, every path",
  threads_started: "threads that made or adopted a heap",
  heaps_abandoned: "heaps of exited threads, left for adoption",
  heaps_adopted: "abandoned heaps taken over by a new thread",
  large_cached: "free large page runs still committed (reused without a fault)",
  large_cached_bytes: "their committed bytes, released after HAKMEM_SS_LRU_TTL_SEC or by hak_trim",
  large_cache_hits: "large allocations that reused committed pages",
  huge_mappings: "huge blocks given their own mapping (above HAKMEM_LARGE_MAX_BLOCK, or no arena)",
  large_cache_misses: "large allocations from pages not committed (first use or released)",
  huge_map_failures: "mappings for a huge block the OS refused",
  locks_os: "lock_acquisitions of the OS layer",
  locks_meta: "lock_acquisitions for internal metadata",
  locks_lru: "lock_acquisitions of the LRU cache",
  locks_heaps: "lock_acquisitions of the heap list",
  locks_large: "lock_acquisitions of the large tier",
  os_map_failures: "mappings the OS refused (or fault injection failed)",
  os_release_failures: "munmap, madvise or mremap calls the OS refused: the memory is kept and retried",
  thread_cache_bytes: "freed blocks held in threads' caches for their next allocations (HAKMEM_THREAD_CACHE)",
  superslab_arena_bytes: "address space reserved for SuperSlabs in one range (0: none could be had)",
  classes_split: "size classes of 160 B to 1 KiB a heap split into finer ones (once it held 1 MiB of one)",
  heaps_coarse: "heaps back on the coarse classes for good (other threads freed their fine-class blocks)",
};

/**
 * A snapshot of hakmem's counters, from `hak_stats()`: every value a number (counters and bytes stay far below
 * 2^53), summed over all threads when read. A library newer than these bindings may add fields (present at run
 * time, not in this type).
 */
export interface HakmemStats {
  /** allocations, every tier */
  readonly allocs: number;
  /** frees, every tier */
  readonly frees: number;
  /** allocations of slab blocks (up to 64 KiB) */
  readonly small_allocs: number;
  /** frees of slab blocks */
  readonly small_frees: number;
  /** allocations above the slab tier */
  readonly large_allocs: number;
  /** frees of large blocks */
  readonly large_frees: number;
  /** frees of blocks owned by another thread */
  readonly remote_frees: number;
  /** frees of pointers hakmem does not own */
  readonly foreign_frees: number;
  /** frees rejected by hak_free_checked or reported as misuse */
  readonly invalid_frees: number;
  /** bytes of live blocks (class sizes and large blocks) */
  readonly bytes_in_use: number;
  /** SuperSlabs owned by a thread heap */
  readonly superslabs_live: number;
  /** empty SuperSlabs in the LRU cache */
  readonly superslabs_cached: number;
  /** the SuperSlab size in force */
  readonly superslab_bytes: number;
  /** slabs formatted for a size class */
  readonly slabs_in_use: number;
  /** slabs that became empty and went back to their SuperSlab */
  readonly slabs_emptied: number;
  /** slabs formatted again after having been emptied */
  readonly slabs_reused: number;
  /** SuperSlabs put into the LRU cache */
  readonly lru_push: number;
  /** SuperSlabs taken from the LRU cache */
  readonly lru_pop: number;
  /** SuperSlab requests the LRU cache served */
  readonly lru_hit: number;
  /** SuperSlab requests that went to the OS */
  readonly lru_miss: number;
  /** SuperSlabs the LRU cache released (count, size or age) */
  readonly lru_evict: number;
  /** mmap calls */
  readonly os_maps: number;
  /** munmap calls */
  readonly os_unmaps: number;
  /** bytes mapped */
  readonly os_map_bytes: number;
  /** bytes unmapped */
  readonly os_unmap_bytes: number;
  /** madvise(MADV_DONTNEED) releases */
  readonly os_decommits: number;
  /** bytes released by madvise */
  readonly os_decommit_bytes: number;
  /** prefault requests made (populate or madvise) */
  readonly prefault_calls: number;
  /** bytes asked to be prefaulted */
  readonly prefault_bytes: number;
  /** page faults the kernel took inside prefault requests */
  readonly prefault_faults: number;
  /** bytes advised MADV_HUGEPAGE */
  readonly hugepage_advised_bytes: number;
  /** minor and major page faults of the process (getrusage) */
  readonly page_faults: number;
  /** resident bytes now (/proc/self/statm) */
  readonly rss_current: number;
  /** peak resident bytes (getrusage ru_maxrss) */
  readonly rss_peak: number;
  /** hakmem mutexes taken, every path */
  readonly lock_acquisitions: number;
  /** threads that made or adopted a heap */
  readonly threads_started: number;
  /** heaps of exited threads, left for adoption */
  readonly heaps_abandoned: number;
  /** abandoned heaps taken over by a new thread */
  readonly heaps_adopted: number;
  /** free large page runs still committed (reused without a fault) */
  readonly large_cached: number;
  /** their committed bytes, released after HAKMEM_SS_LRU_TTL_SEC or by hak_trim */
  readonly large_cached_bytes: number;
  /** large allocations that reused committed pages */
  readonly large_cache_hits: number;
  /** huge blocks given their own mapping (above HAKMEM_LARGE_MAX_BLOCK, or no arena) */
  readonly huge_mappings: number;
  /** large allocations from pages not committed (first use or released) */
  readonly large_cache_misses: number;
  /** mappings for a huge block the OS refused */
  readonly huge_map_failures: number;
  /** lock_acquisitions of the OS layer */
  readonly locks_os: number;
  /** lock_acquisitions for internal metadata */
  readonly locks_meta: number;
  /** lock_acquisitions of the LRU cache */
  readonly locks_lru: number;
  /** lock_acquisitions of the heap list */
  readonly locks_heaps: number;
  /** lock_acquisitions of the large tier */
  readonly locks_large: number;
  /** mappings the OS refused (or fault injection failed) */
  readonly os_map_failures: number;
  /** munmap, madvise or mremap calls the OS refused: the memory is kept and retried */
  readonly os_release_failures: number;
  /** freed blocks held in threads' caches for their next allocations (HAKMEM_THREAD_CACHE) */
  readonly thread_cache_bytes: number;
  /** address space reserved for SuperSlabs in one range (0: none could be had) */
  readonly superslab_arena_bytes: number;
  /** size classes of 160 B to 1 KiB a heap split into finer ones (once it held 1 MiB of one) */
  readonly classes_split: number;
  /** heaps back on the coarse classes for good (other threads freed their fine-class blocks) */
  readonly heaps_coarse: number;
}
