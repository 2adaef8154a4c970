/**
 * `struct hak_stats` as TypeScript: its fields in struct order and the typed object `stats()` returns.
 *
 * @module
 */
import { HakmemError } from "./errors.ts";

/**
 * The fields of `struct hak_stats` after its leading `size`, in struct order (every one a `uint64_t`). Also the keys
 * of `hak_stats_json()`, in the same order; a test checks both. Adding a field to the C struct means adding its
 * name here, at the same place.
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
  "ace_hits",
  "ace_threshold",
  "ace_exhaustion",
  "ace_mapfail",
  "locks_os",
  "locks_meta",
  "locks_lru",
  "locks_heaps",
  "locks_large",
  "os_map_failures",
  "os_release_failures",
] as const;

/** A field name of `struct hak_stats` (snake_case, as in C and in `hak_stats_json()`). */
export type StatsField = (typeof STATS_FIELDS)[number];

/**
 * A snapshot of hakmem's counters, from `hak_stats()`. Keys are the C field names (see `struct hak_stats` in
 * `csrc/include/hakmem.h` for each one's meaning); every value is a number (counters and bytes stay far below
 * 2^53). Counters are summed over all threads when read. A library newer than these bindings may add fields
 * (present at run time, not in this type).
 */
export type HakmemStats = { readonly [K in StatsField]: number };

/**
 * Words of the buffer `hak_stats()` writes into: generously more than the struct, so that a library whose struct
 * grew cannot write past it before the size check reports the mismatch.
 */
export const STATS_BUFFER_WORDS = 1024;

/**
 * The field names of the loaded library's struct, in order: the keys of its `hak_stats_json()`, which C renders
 * from the same field list as the struct. Reading the layout from the library (rather than from
 * {@link STATS_FIELDS} alone) keeps `stats()` right when the C side appends a field these bindings do not know yet;
 * the tests check that the two lists are equal.
 */
export function statsLayout(statsJson: string): string[] {
  const parsed: unknown = JSON.parse(statsJson);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HakmemError("ABI_MISMATCH", "hak_stats_json() did not return a JSON object");
  }
  return Object.keys(parsed);
}

/**
 * Reads a `struct hak_stats` that `hak_stats()` wrote into `words` (a {@link STATS_BUFFER_WORDS} buffer), with the
 * field names of `layout` ({@link statsLayout}). Throws `ABI_MISMATCH` when the struct's `size` does not match the
 * layout: then no number can be trusted.
 */
export function decodeStats(words: BigUint64Array, layout: readonly string[]): HakmemStats {
  const size = Number(words[0]);
  const expected = 8 * (1 + layout.length);
  if (size !== expected) {
    throw new HakmemError(
      "ABI_MISMATCH",
      `the loaded library's struct hak_stats has ${size} bytes, but hak_stats_json() names ${layout.length} fields ` +
        `(${expected} bytes); rebuild the library`,
    );
  }
  const out: Record<string, number> = {};
  layout.forEach((field, i) => {
    out[field] = Number(words[i + 1]);
  });
  return out as HakmemStats;
}
