/**
 * Batch calls: allocBatch + freeBatch of N objects against N single calls, for N = 1, 16, 256, 4096 (64 B each).
 *
 * One iteration allocates N blocks and frees them all. The rows: the batch API (allocBatch/freeBatch from
 * src/index.ts: one FFI crossing each way, every pointer validated on the C side before any is freed), the raw
 * batch functions it wraps (hak_malloc_batch/hak_free_batch, no validation), the validated single calls
 * (alloc/free), and the raw single calls (hak_malloc/hak_free through bun:ffi, no validation). After the mitata tables, a table gives the cost per
 * object (time per iteration / N).
 *
 *   bun bench/batch.bench.ts [--quick] [--json FILE] [--filter REGEX]
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { alloc, allocBatch, free, freeBatch } from "../src/index.ts";
import { HAKMEM_FFI } from "./lib/allocators.ts";
import { MicroSuite, parseMicroArgs } from "./lib/micro.ts";

const COUNTS = [1, 16, 256, 4096];
const SIZE = 64;

const raw = dlopen(HAKMEM_FFI, {
  hak_malloc: { args: [FFIType.u64], returns: FFIType.ptr },
  hak_free: { args: [FFIType.ptr], returns: FFIType.void },
  hak_malloc_batch: { args: [FFIType.u64, FFIType.u64, FFIType.ptr], returns: FFIType.u64_fast },
  hak_free_batch: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.void },
}).symbols;

const suite = new MicroSuite("batch", `Batch calls: N objects of ${SIZE} B allocated, then freed`, parseMicroArgs());
suite.note("one iteration = N allocations then N frees; the per-object table divides by N");

for (const n of COUNTS) {
  suite.group(
    `${n} object${n === 1 ? "" : "s"}`,
    () => {
      suite.bench("hakmem allocBatch+freeBatch", () => freeBatch(allocBatch(SIZE, n)), true);
      suite.bench("raw hak_malloc_batch+hak_free_batch", function* () {
        const out = new BigUint64Array(n);
        yield () => {
          if (raw.hak_malloc_batch(SIZE, n, out) !== n) throw new Error("hak_malloc_batch: out of memory");
          raw.hak_free_batch(out, n);
        };
      });
      suite.bench("hakmem alloc+free (single calls)", function* () {
        const ptrs = new Array<Pointer>(n);
        yield () => {
          for (let i = 0; i < n; i++) ptrs[i] = alloc(SIZE);
          for (let i = 0; i < n; i++) free(ptrs[i]!);
        };
      });
      suite.bench("raw hak_malloc+hak_free (single calls)", function* () {
        const ptrs = new Array<Pointer | null>(n);
        yield () => {
          for (let i = 0; i < n; i++) ptrs[i] = raw.hak_malloc(SIZE) as Pointer | null;
          for (let i = 0; i < n; i++) raw.hak_free(ptrs[i]!);
        };
      });
    },
    { objects: n },
  );
}

await suite.run();
