/**
 * malloc+free pairs through bun:ffi: hakmem against glibc and every installed peer, 16 B to 1 MiB.
 *
 * Every allocator is called the same way (bench/lib/ffi.ts: bun:ffi functions with identical signatures, hakmem
 * through its raw hak_malloc/hak_free), so the FFI cost is the same in every row and the differences are the
 * allocators'. One more row per size is the validated TypeScript API (`alloc`/`free` from src/index.ts), to show
 * what the checks cost a user.
 *
 *   bun bench/ffi.bench.ts [--quick] [--json FILE] [--filter REGEX]
 */
import { alloc, free } from "../src/index.ts";
import { ensureStaticTls } from "./lib/allocators.ts";
import { loadFfiAllocators } from "./lib/ffi.ts";
import { MicroSuite, parseMicroArgs } from "./lib/micro.ts";
import { formatSize } from "./lib/report.ts";

ensureStaticTls();

const SIZES = [16, 256, 4096, 64 * 1024, 1024 * 1024];

const suite = new MicroSuite("ffi", "malloc+free pair through bun:ffi", parseMicroArgs());
const { allocators, skipped } = loadFfiAllocators();
suite.note(
  `one iteration = malloc(size) then free through bun:ffi; ${allocators.map((a) => `${a.name}: ${a.functions.split("/").slice(0, 2).join("/")}`).join(", ")}; ` +
    "hakmem TS API: alloc/free from src/index.ts (validated)",
);
for (const s of skipped) suite.note(`${s.name} skipped: ${s.reason}`);

for (const size of SIZES) {
  suite.group(`malloc+free ${formatSize(size)}`, () => {
    for (const a of allocators) {
      const { malloc, free: release } = a;
      suite.bench(a.name, () => release(malloc(size)), a.name === "hakmem");
      if (a.name === "hakmem") suite.bench("hakmem TS API alloc/free", () => free(alloc(size)));
    }
  });
}

await suite.run();
