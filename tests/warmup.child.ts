/**
 * Run by tests/bench_run.test.ts: bench/ffi.bench.ts's first group (malloc+free of 16 B, every allocator through
 * bun:ffi) measured twice in one process, the first time as the first group the process measures, where a missing
 * warm-up shows. `bun tests/warmup.child.ts --quick --json F` writes the suite's summary; the test compares the two
 * groups' hakmem rows.
 */
import { alloc, free } from "../src/index.ts";
import { ensureStaticTls } from "../bench/lib/allocators.ts";
import { loadFfiAllocators } from "../bench/lib/ffi.ts";
import { MicroSuite, parseMicroArgs } from "../bench/lib/micro.ts";

ensureStaticTls();
const suite = new MicroSuite("warmup", "the first group twice", parseMicroArgs());
const { allocators } = loadFfiAllocators();
for (const title of ["first: malloc+free 16 B", "again: malloc+free 16 B"]) {
  suite.group(title, () => {
    for (const a of allocators) {
      const { malloc, free: release } = a;
      suite.bench(a.name, () => release(malloc(16)), a.name === "hakmem");
      if (a.name === "hakmem") suite.bench("hakmem TS API alloc/free", () => free(alloc(16)));
    }
  });
}
await suite.run();
