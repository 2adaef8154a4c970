/**
 * Workloads driven from TypeScript through bun:ffi, every allocator called the same way (bench/lib/ffi.ts):
 *
 * - random mixed: bench/native/bench_random_mixed.c's loop, one operation per iteration: xorshift32 draws r,
 *   slot r % WS is freed when it holds a block, else gets malloc(16 + (r & 0x3FF)) (16..1039 bytes). The
 *   working set persists across iterations and is freed after the benchmark. WS = 256 and 8192.
 * - realloc growth: a block grown by realloc as a growing array would be, then freed; one iteration is one
 *   whole growth: doubling from 16 B to 1 MiB (17 reallocs, crossing every tier), and +64 B steps from 64 B
 *   to 16 KiB (255 reallocs, where growing in place pays).
 *
 * hakmem's raw functions are the baseline; the validated TypeScript API (alloc/realloc/free) has a row too.
 *
 *   bun bench/workload.bench.ts [--quick] [--json FILE] [--filter REGEX]
 */
import type { Pointer } from "bun:ffi";
import { alloc, free, realloc } from "../src/index.ts";
import { ensureStaticTls } from "./lib/allocators.ts";
import { type FfiAllocator, loadFfiAllocators } from "./lib/ffi.ts";
import { MicroSuite, parseMicroArgs } from "./lib/micro.ts";

ensureStaticTls();

const suite = new MicroSuite("workload", "Workloads driven from TypeScript", parseMicroArgs());
const { allocators, skipped } = loadFfiAllocators();
for (const s of skipped) suite.note(`${s.name} skipped: ${s.reason}`);

/** The TypeScript API as an FfiAllocator (null pointers never reach it here). */
const tsApi: Pick<FfiAllocator, "malloc" | "free" | "realloc"> = {
  malloc: (size) => alloc(size),
  free: (ptr) => free(ptr as Pointer),
  realloc: (ptr, size) => realloc(ptr, size),
};

/** Every allocator, with the TypeScript API after hakmem's raw row. */
function contenders(): { name: string; a: Pick<FfiAllocator, "malloc" | "free" | "realloc">; baseline: boolean }[] {
  const list = [];
  for (const a of allocators) {
    list.push({ name: a.name, a, baseline: a.name === "hakmem" });
    if (a.name === "hakmem") list.push({ name: "hakmem TS API", a: tsApi, baseline: false });
  }
  return list;
}

for (const ws of [256, 8192]) {
  suite.group(`random mixed, WS ${ws}, one malloc or free per iteration`, () => {
    for (const { name, a, baseline } of contenders()) {
      const { malloc, free: release } = a;
      suite.bench(
        name,
        function* () {
          const slots = new Float64Array(ws); // addresses; 0 = empty
          let state = 42;
          yield () => {
            let x = state;
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            x >>>= 0;
            state = x;
            const i = x % ws;
            const p = slots[i]!;
            if (p !== 0) {
              release(p as Pointer);
              slots[i] = 0;
            } else {
              const q = malloc(16 + (x & 0x3ff));
              if (q === null) throw new Error(`${name}: malloc returned NULL`);
              slots[i] = q;
            }
          };
          for (const p of slots) if (p !== 0) release(p as Pointer);
        },
        baseline,
      );
    }
  });
}

function growth(title: string, first: number, next: (size: number) => number, last: number): void {
  suite.group(title, () => {
    for (const { name, a, baseline } of contenders()) {
      const { malloc, free: release, realloc: resize } = a;
      suite.bench(
        name,
        () => {
          let p = malloc(first);
          for (let size = next(first); size <= last; size = next(size)) {
            const q = resize(p, size);
            if (q === null) throw new Error(`${name}: realloc(${size}) returned NULL`);
            p = q;
          }
          release(p);
        },
        baseline,
      );
    }
  });
}

growth("realloc growth ×2, 16 B to 1 MiB (17 reallocs)", 16, (s) => s * 2, 1024 * 1024);
growth("realloc growth +64 B, 64 B to 16 KiB (255 reallocs)", 64, (s) => s + 64, 16 * 1024);

await suite.run();
