/**
 * The TypeScript layer at the allocator's cost: each of issue 11's targets as a mitata group whose summary ends in
 * the ratio, then one line per target with the figures, the limit and whether it is met.
 *
 * - alloc+free of 64 B through the validated API against the raw FFI pair hak_malloc+hak_free (at most 1.25x);
 *   the raw hak_malloc+hak_free_checked pair shows what the C side's checks cost on their own.
 * - allocBatch+freeBatch of 256 and 4096 blocks against the raw batch calls, per object (at most 1.5x), with a
 *   new array per call and with `out` reused as the raw calls reuse theirs; a batch of one against alloc+free.
 * - buffer(n), zeroed, against `new ArrayBuffer(n)` (no slower), and bufferUnsafe(n) against `Buffer.allocUnsafe(n)`
 *   (at most 1.25x from 4 KiB), both dropped to the collector unwritten; from 64 KiB also written before they are
 *   dropped (as applications use them: a reused hakmem block's pages are present, a new mapping's are not);
 *   buffer(n) released at once; and a 1 MiB buffer written and released, then made again (no page faults: the
 *   figure is printed).
 * - an arena: 1024 buffers of 64 B and one dispose(), against 1024 buffer(64) + release.
 * - floors, printed with the targets but not judged: the raw batch calls with a new array each time (the array's
 *   own cost, which allocBatch without `out` must pay), the raw calls a batch of one makes
 *   (hak_malloc_batch_i32 + hak_free_batch_checked_i32 on a reused array) against alloc+free, and bun:ffi's toBuffer
 *   over constant bytes (no allocation) against Buffer.allocUnsafe.
 *
 *   bun bench/api.bench.ts [--quick] [--json FILE] [--filter REGEX]
 */
import { dlopen, FFIType, type Pointer, toBuffer } from "bun:ffi";
import { alloc, allocBatch, arena, buffer, bufferUnsafe, free, freeBatch, release, stats } from "../src/index.ts";
import { HAKMEM_FFI } from "./lib/allocators.ts";
import { do_not_optimize, type MicroSuiteResult, MicroSuite, parseMicroArgs } from "./lib/micro.ts";
import { formatNs, formatSize } from "./lib/report.ts";

const raw = dlopen(HAKMEM_FFI, {
  hak_malloc: { args: [FFIType.u64], returns: FFIType.ptr },
  hak_free: { args: [FFIType.ptr], returns: FFIType.void },
  hak_free_checked: { args: [FFIType.ptr], returns: FFIType.i32 },
  hak_malloc_batch: { args: [FFIType.u64, FFIType.u64, FFIType.ptr], returns: FFIType.u64_fast },
  hak_free_batch: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.void },
  hak_malloc_batch_i32: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  hak_free_batch_checked_i32: { args: [FFIType.ptr, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
}).symbols;
const rawMalloc = raw.hak_malloc as unknown as (size: number) => Pointer;
const rawFree = raw.hak_free as unknown as (p: Pointer) => void;
const rawFreeChecked = raw.hak_free_checked as unknown as (p: Pointer) => number;
/** 1 MiB that bun:ffi's toBuffer wraps again and again (no deallocator): its cost per buffer, with no memory. */
const constantBytes = rawMalloc(1024 * 1024);

const suite = new MicroSuite("api", "The TypeScript layer at the allocator's cost (issue 11's targets)", parseMicroArgs());
suite.note("mean time per iteration; per object where an iteration makes several (see the per-object table)");

/**
 * A target: the mean of `subject` over the mean of `reference` in `group`, per object, at most `limit`; with limit
 * null, a floor: what the runtime's own primitives cost, which bounds a target (printed, not judged).
 */
interface Target {
  group: string;
  subject: string;
  reference: string;
  limit: number | null;
  what: string;
}
const targets: Target[] = [];

const PAIR = "alloc+free 64 B";
suite.group(PAIR, () => {
  suite.bench("TS free(alloc(64))", () => free(alloc(64)), true);
  suite.bench("raw hak_free(hak_malloc(64))", () => rawFree(rawMalloc(64)));
  suite.bench("raw hak_free_checked(hak_malloc(64))", () => rawFreeChecked(rawMalloc(64)));
});
targets.push({ group: PAIR, subject: "TS free(alloc(64))", reference: "raw hak_free(hak_malloc(64))", limit: 1.25, what: "validated alloc+free vs the raw FFI pair" });

for (const n of [1, 256, 4096]) {
  const title = `batch of ${n} x 64 B`;
  suite.group(
    title,
    () => {
      suite.bench("freeBatch(allocBatch(64, n))", () => freeBatch(allocBatch(64, n)), true);
      suite.bench("allocBatch(64, n, out) + freeBatch(out)", function* () {
        const out = new BigUint64Array(n);
        yield () => freeBatch(allocBatch(64, n, out));
      });
      suite.bench("raw hak_malloc_batch + hak_free_batch", function* () {
        const out = new BigUint64Array(n);
        yield () => {
          if (raw.hak_malloc_batch(64, n, out) !== n) throw new Error("hak_malloc_batch: out of memory");
          raw.hak_free_batch(out, n);
        };
      });
      // The raw calls with a new array each time, as allocBatch without `out` must make one.
      suite.bench("raw calls, new BigUint64Array(n)", () => {
        const out = new BigUint64Array(n);
        if (raw.hak_malloc_batch(64, n, out) !== n) throw new Error("hak_malloc_batch: out of memory");
        raw.hak_free_batch(out, n);
      });
      if (n === 1) {
        suite.bench("TS free(alloc(64))", () => free(alloc(64)));
        // What allocBatch(64, 1, out) + freeBatch(out) call, with nothing around them.
        suite.bench("raw i32 batch calls (checked)", function* () {
          const out = new BigUint64Array(1);
          const bad = new BigUint64Array(1);
          yield () => {
            if (raw.hak_malloc_batch_i32(64, 1, out) !== 1) throw new Error("hak_malloc_batch_i32: out of memory");
            if (raw.hak_free_batch_checked_i32(out, 1, bad) !== 0) throw new Error("hak_free_batch_checked_i32 refused");
          };
        });
      }
    },
    { objects: n },
  );
  if (n === 1) {
    targets.push({ group: title, subject: "freeBatch(allocBatch(64, n))", reference: "TS free(alloc(64))", limit: 1, what: "a batch of one vs alloc+free" });
    targets.push({ group: title, subject: "raw i32 batch calls (checked)", reference: "TS free(alloc(64))", limit: null, what: "the raw calls under a batch of one (reused array) vs alloc+free" });
  } else {
    for (const subject of ["freeBatch(allocBatch(64, n))", "allocBatch(64, n, out) + freeBatch(out)"]) {
      targets.push({ group: title, subject, reference: "raw hak_malloc_batch + hak_free_batch", limit: 1.5, what: `${subject} per object vs the raw batch calls` });
    }
    targets.push({ group: title, subject: "raw calls, new BigUint64Array(n)", reference: "raw hak_malloc_batch + hak_free_batch", limit: null, what: "the raw batch calls with a new array vs reused" });
  }
}

let refaults = Number.NaN;
for (const size of [64, 4096, 64 * 1024, 1024 * 1024]) {
  // Small buffers are made 64 KiB worth at a time, so that an iteration is long enough to time on its own.
  const count = Math.max(1, (64 * 1024) / size);
  const title = `buffer ${formatSize(size)}${count > 1 ? ` x ${count}` : ""}`;
  suite.group(
    title,
    () => {
      suite.bench(
        "buffer(n)",
        () => {
          for (let i = 0; i < count; i++) do_not_optimize(buffer(size));
        },
        true,
      );
      suite.bench("new ArrayBuffer(n)", () => {
        for (let i = 0; i < count; i++) do_not_optimize(new ArrayBuffer(size));
      });
      suite.bench("bufferUnsafe(n)", () => {
        for (let i = 0; i < count; i++) do_not_optimize(bufferUnsafe(size));
      });
      suite.bench("Buffer.allocUnsafe(n)", () => {
        for (let i = 0; i < count; i++) do_not_optimize(Buffer.allocUnsafe(size));
      });
      // bun:ffi's part of bufferUnsafe alone: the same bytes wrapped each time, no allocation, no deallocator.
      suite.bench("toBuffer(constant, 0, n)", () => {
        for (let i = 0; i < count; i++) do_not_optimize(toBuffer(constantBytes, 0, size));
      });
      suite.bench("release(buffer(n))", () => {
        for (let i = 0; i < count; i++) release(buffer(size));
      });
      if (size >= 64 * 1024) {
        // As an application uses them: written, then dropped. A reused hakmem block's pages are present already.
        suite.bench("buffer(n), written", () => do_not_optimize(buffer(size).fill(1)));
        suite.bench("new Uint8Array(n), written", () => do_not_optimize(new Uint8Array(size).fill(1)));
      }
      if (size === 1024 * 1024) {
        suite.bench("buffer(n), written, released", function* () {
          release(buffer(size).fill(1)); // the cached block's pages are present from here on
          const before = stats().page_faults;
          let made = 0;
          yield () => {
            release(buffer(size).fill(1));
            made++;
          };
          refaults = (stats().page_faults - before) / Math.max(made, 1);
        });
      }
    },
    { objects: count, batchSamples: size >= 1024 * 1024 ? 64 : undefined },
  );
  targets.push({ group: title, subject: "buffer(n)", reference: "new ArrayBuffer(n)", limit: 1, what: `buffer(${formatSize(size)}) vs new ArrayBuffer` });
  if (size >= 64 * 1024) {
    targets.push({ group: title, subject: "buffer(n), written", reference: "new Uint8Array(n), written", limit: 1, what: `buffer(${formatSize(size)}) written vs new Uint8Array written` });
  }
  if (size >= 4096) {
    targets.push({ group: title, subject: "bufferUnsafe(n)", reference: "Buffer.allocUnsafe(n)", limit: 1.25, what: `bufferUnsafe(${formatSize(size)}) vs Buffer.allocUnsafe` });
    targets.push({ group: title, subject: "toBuffer(constant, 0, n)", reference: "Buffer.allocUnsafe(n)", limit: null, what: `bun:ffi toBuffer(${formatSize(size)}) of constant bytes vs Buffer.allocUnsafe` });
  }
}

const ARENA = "1024 buffers of 64 B freed together";
suite.group(
  ARENA,
  () => {
    suite.bench(
      "arena: 1024 x a.buffer(64), a.dispose()",
      () => {
        const a = arena();
        for (let i = 0; i < 1024; i++) do_not_optimize(a.buffer(64));
        a.dispose();
      },
      true,
    );
    suite.bench("1024 x buffer(64), each released", () => {
      for (let i = 0; i < 1024; i++) release(buffer(64));
    });
    suite.bench("1024 x new Uint8Array(64)", () => {
      for (let i = 0; i < 1024; i++) do_not_optimize(new Uint8Array(64));
    });
  },
  { objects: 1024 },
);

const result = await suite.run();
const lines = targetLines(result);
if (!Number.isNaN(refaults)) lines.push(`1 MiB buffer written, released and made again: ${refaults.toFixed(2)} page faults per buffer (256 pages each)`);
console.log(`\n## targets\n\n${lines.map((l) => `- ${l}`).join("\n")}\n`);
if (suite.options.json !== null) {
  // The target lines go into the results with the suite's own notes.
  const saved = (await Bun.file(suite.options.json).json()) as MicroSuiteResult;
  saved.notes.push(...lines);
  await Bun.write(suite.options.json, JSON.stringify(saved));
}

/** One line per target whose group ran: subject / reference = ratio (limit), met or not. */
function targetLines(r: MicroSuiteResult): string[] {
  const out: string[] = [];
  for (const t of targets) {
    const g = r.groups.find((x) => x.title === t.group);
    const subject = g?.rows.find((x) => x.name === t.subject);
    const reference = g?.rows.find((x) => x.name === t.reference);
    if (g === undefined || subject === undefined || reference === undefined) continue;
    const ratio = subject.avg_ns / reference.avg_ns;
    const verdict = t.limit === null ? "a floor, no target" : `target at most ${t.limit}x: ${ratio <= t.limit ? "met" : "NOT met"}`;
    out.push(`${t.what}: ${formatNs(subject.per_object_ns)} / ${formatNs(reference.per_object_ns)} = ${ratio.toFixed(2)}x (${verdict})`);
  }
  return out;
}
