/* The one list of hakmem's statistics, in the order of struct hak_stats (after
 * its leading size), of hak_stats_json()'s keys and of the text report. From it
 * come the struct (hakmem.h), the rare-event counters and the filling of the
 * struct (csrc/stats.c), the JSON and the TypeScript field list and type
 * (src/stats-fields.ts, written by `bun csrc/tools/gen-stats-fields.ts`; a test
 * checks it is current). Append new fields at the end: FFI readers rely on the
 * order.
 *
 * X(name, source, description): source COUNTER is an atomic counter of the
 * same name in hk_ctr, copied as it is; SUMMED is computed by hak_stats(). */
#ifndef HAKMEM_STATS_FIELDS_H
#define HAKMEM_STATS_FIELDS_H

#define HAK_STATS_FIELDS(X)                                                                                        \
  X(allocs, SUMMED, "allocations, every tier")                                                                     \
  X(frees, SUMMED, "frees, every tier")                                                                            \
  X(small_allocs, SUMMED, "allocations of slab blocks (up to 64 KiB)")                                             \
  X(small_frees, SUMMED, "frees of slab blocks")                                                                   \
  X(large_allocs, SUMMED, "allocations above the slab tier")                                                       \
  X(large_frees, SUMMED, "frees of large blocks")                                                                  \
  X(remote_frees, SUMMED, "frees of blocks owned by another thread")                                              \
  X(foreign_frees, COUNTER, "frees of pointers hakmem does not own")                                              \
  X(invalid_frees, COUNTER, "frees rejected by hak_free_checked or reported as misuse")                           \
  X(bytes_in_use, SUMMED, "bytes of live blocks (class sizes and large blocks)")                                  \
  X(superslabs_live, COUNTER, "SuperSlabs owned by a thread heap")                                                \
  X(superslabs_cached, SUMMED, "empty SuperSlabs in the LRU cache")                                               \
  X(superslab_bytes, SUMMED, "the SuperSlab size in force")                                                       \
  X(slabs_in_use, SUMMED, "slabs formatted for a size class")                                                     \
  X(slabs_emptied, SUMMED, "slabs that became empty and went back to their SuperSlab")                            \
  X(slabs_reused, SUMMED, "slabs formatted again after having been emptied")                                      \
  X(lru_push, COUNTER, "SuperSlabs put into the LRU cache")                                                       \
  X(lru_pop, COUNTER, "SuperSlabs taken from the LRU cache")                                                      \
  X(lru_hit, COUNTER, "SuperSlab requests the LRU cache served")                                                  \
  X(lru_miss, COUNTER, "SuperSlab requests that went to the OS")                                                  \
  X(lru_evict, COUNTER, "SuperSlabs the LRU cache released (count, size or age)")                                 \
  X(os_maps, COUNTER, "mmap calls")                                                                               \
  X(os_unmaps, COUNTER, "munmap calls")                                                                           \
  X(os_map_bytes, COUNTER, "bytes mapped")                                                                        \
  X(os_unmap_bytes, COUNTER, "bytes unmapped")                                                                    \
  X(os_decommits, COUNTER, "madvise(MADV_DONTNEED) releases")                                                     \
  X(os_decommit_bytes, COUNTER, "bytes released by madvise")                                                      \
  X(prefault_calls, COUNTER, "prefault requests made (populate or madvise)")                                      \
  X(prefault_bytes, COUNTER, "bytes asked to be prefaulted")                                                      \
  X(prefault_faults, COUNTER, "page faults the kernel took inside prefault requests")                            \
  X(hugepage_advised_bytes, COUNTER, "bytes advised MADV_HUGEPAGE")                                               \
  X(page_faults, SUMMED, "minor and major page faults of the process (getrusage)")                                \
  X(rss_current, SUMMED, "resident bytes now (/proc/self/statm)")                                                 \
  X(rss_peak, SUMMED, "peak resident bytes (getrusage ru_maxrss)")                                                \
  X(lock_acquisitions, COUNTER, "hakmem mutexes taken, every path")                                               \
  X(threads_started, COUNTER, "threads that made or adopted a heap")                                              \
  X(heaps_abandoned, COUNTER, "heaps of exited threads, left for adoption")                                       \
  X(heaps_adopted, COUNTER, "abandoned heaps taken over by a new thread")                                         \
  X(large_cached, SUMMED, "free large page runs still committed (reused without a fault)")                        \
  X(large_cached_bytes, SUMMED, "their committed bytes, released after HAKMEM_SS_LRU_TTL_SEC or by hak_trim")     \
  X(large_cache_hits, SUMMED, "large allocations that reused committed pages")                                            \
  X(huge_mappings, COUNTER, "huge blocks given their own mapping (above HAKMEM_LARGE_MAX_BLOCK, or no arena)")      \
  X(large_cache_misses, SUMMED, "large allocations from pages not committed (first use or released)")                 \
  X(huge_map_failures, COUNTER, "mappings for a huge block the OS refused")                                             \
  X(locks_os, SUMMED, "lock_acquisitions of the OS layer")                                                        \
  X(locks_meta, SUMMED, "lock_acquisitions for internal metadata")                                                \
  X(locks_lru, SUMMED, "lock_acquisitions of the LRU cache")                                                      \
  X(locks_heaps, SUMMED, "lock_acquisitions of the heap list")                                                    \
  X(locks_large, SUMMED, "lock_acquisitions of the large tier")                                                   \
  X(os_map_failures, COUNTER, "mappings the OS refused (or fault injection failed)")                              \
  X(os_release_failures, COUNTER, "munmap, madvise or mremap calls the OS refused: the memory is kept and retried") \
  X(thread_cache_bytes, SUMMED, "freed blocks held in threads' caches for their next allocations (HAKMEM_THREAD_CACHE)") \
  X(superslab_arena_bytes, COUNTER, "address space reserved for SuperSlabs in one range (0: none could be had)")      \
  X(classes_split, SUMMED, "size classes of 160 B to 1 KiB a heap split into finer ones (once it held 1 MiB of one)") \
  X(heaps_coarse, SUMMED, "heaps back on the coarse classes for good (other threads freed their fine-class blocks)")

#endif /* HAKMEM_STATS_FIELDS_H */
