/**
 * Run by tests/bindings.test.ts in a fresh process (no garbage-collected buffers, no other test's blocks), so that
 * statistics deltas are exact: `bun tests/bindings.child.ts batch-deltas` prints a JSON array with, for several
 * sizes, the statistics deltas of `count` single alloc/free calls and of one allocBatch/freeBatch pair.
 */
import { alloc, allocBatch, free, freeBatch, type HakmemStats, type Pointer, stats } from "../src/index.ts";

const FIELDS = ["allocs", "frees", "small_allocs", "small_frees", "large_allocs", "large_frees", "bytes_in_use"] as const;

function delta(a: HakmemStats, b: HakmemStats): Record<string, number> {
  return Object.fromEntries(FIELDS.map((f) => [f, b[f] - a[f]]));
}

function batchDeltas() {
  const count = 64;
  const rows = [];
  for (const size of [16, 100, 1024, 30_000, 65_536, 100_000, 1 << 20]) {
    const s0 = stats();
    const ptrs: Pointer[] = [];
    for (let i = 0; i < count; i++) ptrs.push(alloc(size));
    const s1 = stats();
    for (const p of ptrs) free(p);
    const s2 = stats();
    const batch = allocBatch(size, count);
    const s3 = stats();
    freeBatch(batch);
    const s4 = stats();
    rows.push({
      size,
      count,
      single: { alloc: delta(s0, s1), free: delta(s1, s2) },
      batch: { alloc: delta(s2, s3), free: delta(s3, s4) },
    });
  }
  return rows;
}

const mode = process.argv[2];
if (mode === "batch-deltas") {
  console.log(JSON.stringify(batchDeltas()));
} else {
  console.error(`usage: bun tests/bindings.child.ts batch-deltas (got ${mode})`);
  process.exit(2);
}
