/**
 * Run by tests/bench_run.test.ts: a benchmark with a cold start, measured as the first group of the process and
 * then again as a second group. Like a real first benchmark (the JIT's tiers, an allocator's first slabs, lazily
 * bound FFI stubs: JavaScriptCore tiers a function up after a number of calls), the work is slow at first: each of
 * the first COLD_CALLS calls of the process spins for SLOW_US. A measurement that starts cold shows it in its
 * median; one that warms up first does not.
 * `bun tests/warmup.child.ts --quick --json F` writes the suite's summary.
 */
import { MicroSuite, parseMicroArgs } from "../bench/lib/micro.ts";

/**
 * 600 × 20 µs = 12 ms: longer than a --quick measurement (10 ms), fewer calls than the warm-up makes (micro.ts
 * WARMUP_SAMPLES.quick × 32 = 2,048 at least).
 */
const COLD_CALLS = 600;
const SLOW_US = 20;

let calls = 0;
let sink = 0;
function work(): number {
  if (calls++ < COLD_CALLS) {
    const start = performance.now();
    while (performance.now() - start < SLOW_US / 1000) sink++;
  }
  for (let i = 0; i < 16; i++) sink = (sink * 31 + i) | 0;
  return sink;
}

const suite = new MicroSuite("warmup", "a cold start, measured twice", parseMicroArgs());
suite.group("first: cold start", () => suite.bench("work", () => work(), true));
// measured again once the process is warm: the first call finishes the cold calls the first group left (if any)
suite.group("again: cold start", () =>
  suite.bench(
    "work",
    () => {
      while (calls < COLD_CALLS) work();
      return work();
    },
    true,
  ),
);
await suite.run();
