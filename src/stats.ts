/**
 * `struct hak_stats` as TypeScript: its fields in struct order and the typed object `stats()` returns (both generated
 * from csrc/include/hakmem_stats_fields.h into stats-fields.ts), and the reading of the struct.
 *
 * @module
 */
import { HakmemError } from "./errors.ts";

export { STATS_FIELDS, STATS_FIELD_DESCRIPTIONS, type HakmemStats, type StatsField } from "./stats-fields.ts";
import type { HakmemStats } from "./stats-fields.ts";

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
  return out as unknown as HakmemStats;
}
