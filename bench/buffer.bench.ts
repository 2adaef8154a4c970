/**
 * Buffers the garbage collector owns: hakmem's buffer(n) against new Uint8Array(n), new ArrayBuffer(n) and
 * Buffer.allocUnsafe(n), for 64 B, 4 KiB, 64 KiB and 1 MiB.
 *
 * One iteration makes buffers and drops them: one of 64 KiB or more, 64 KiB worth of smaller ones (1024 of
 * 64 B, 16 of 4 KiB); a table after mitata's gives the time per buffer. The cost of collecting it is included by running long enough
 * for the collector to run many times inside the measurement (mitata measures each benchmark for about 0.7 s;
 * there is no explicit Bun.gc in the loop, whose fixed cost of a full collection would swamp the small sizes).
 * JavaScriptCore counts the memory behind every one of these buffers, hakmem's included, so the collector is
 * triggered by them as it would be in an application. For hakmem the report says how many of the buffers made
 * during the measurement the collector had already given back to hakmem (through hak_free_deallocator) when it
 * ended: the evidence that collection happened inside the measured loop. Part of the sweeping may run on a
 * collector thread, as it does in an application.
 *
 * buffer(n) and new Uint8Array/ArrayBuffer(n) return zeroed memory; Buffer.allocUnsafe(n) does not (and takes
 * small buffers from a shared pool).
 *
 *   bun bench/buffer.bench.ts [--quick] [--json FILE] [--filter REGEX]
 */
import { buffer, stats } from "../src/index.ts";
import { do_not_optimize, MicroSuite, parseMicroArgs } from "./lib/micro.ts";
import { formatCount, formatSize } from "./lib/report.ts";

const SIZES = [64, 4096, 64 * 1024, 1024 * 1024];
const PER_ITERATION_BYTES = 64 * 1024;

const suite = new MicroSuite("buffer", "GC-owned buffers: make one, drop it, let the collector free it", parseMicroArgs());
suite.note(
  suite.options.quick
    ? "collection cost included only in part with --quick: the measurements are too short for the collector to run often"
    : "collection cost included: no explicit Bun.gc; each benchmark runs long enough for the collector to run many times inside the measured loop",
);

for (const size of SIZES) {
  // Small buffers are made PER_ITERATION_BYTES at a time, so that an iteration is long enough to time on its
  // own and the measurement makes enough garbage for the collector to run many times.
  const count = Math.max(1, PER_ITERATION_BYTES / size);
  const title = count === 1 ? `${formatSize(size)} buffer` : `${formatSize(size)} buffers, ${count} per iteration`;
  suite.group(
    title,
    () => {
      suite.bench(
        "hakmem buffer(n)",
        function* () {
          const before = stats();
          yield () => {
            for (let i = 0; i < count; i++) do_not_optimize(buffer(size));
          };
          const after = stats();
          const made = after.allocs - before.allocs;
          const freed = after.frees - before.frees;
          suite.footnote(
            `${formatSize(size)}: ${formatCount(made)} hakmem buffers made during the benchmark (warm-up included), ${formatCount(freed)} ` +
              `(${((100 * freed) / Math.max(made, 1)).toFixed(1)}%) collected and freed before it ended`,
          );
        },
        true,
      );
      suite.bench("new Uint8Array(n)", () => {
        for (let i = 0; i < count; i++) do_not_optimize(new Uint8Array(size));
      });
      suite.bench("new ArrayBuffer(n)", () => {
        for (let i = 0; i < count; i++) do_not_optimize(new ArrayBuffer(size));
      });
      suite.bench("Buffer.allocUnsafe(n)", () => {
        for (let i = 0; i < count; i++) do_not_optimize(Buffer.allocUnsafe(size));
      });
    },
    // Fewer iterations per sample for 1 MiB (an iteration can cost a millisecond): see MicroSuite.group.
    { objects: count, batchSamples: size >= 1024 * 1024 ? 64 : undefined },
  );
}

await suite.run();
