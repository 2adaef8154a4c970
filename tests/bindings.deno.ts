/**
 * The Deno bindings (src/deno.ts), run by tests/bindings_deno.test.ts as
 *   deno test --config tests/deno/deno.json --allow-ffi --allow-read --allow-env --v8-flags=--expose-gc tests/bindings.deno.ts
 * Deno type-checks this file and src/deno.ts first (the root tsconfig leaves them out: they need Deno's types).
 * Tests run in file order in one process, so the configure() test comes before the first allocation.
 */
import assert from "node:assert/strict";
import {
  alloc,
  allocBatch,
  arena,
  buffer,
  bufferUnsafe,
  calloc,
  config,
  configLocked,
  configure,
  describeFlags,
  FLAGS,
  free,
  freeBatch,
  fromEnv,
  HakmemError,
  type HakmemErrorCode,
  type HakmemConfigKey,
  libraryPath,
  loadConfig,
  owns,
  type Pointer,
  realloc,
  release,
  STATS_FIELDS,
  stats,
  toEnv,
  trim,
  usableSize,
  version,
  view as hakView,
} from "../src/deno.ts";

function view(p: Pointer, size: number): Uint8Array {
  const pointer = Deno.UnsafePointer.create(BigInt(p));
  assert.ok(pointer !== null);
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, size));
}

function fill(p: Pointer, size: number, seed: number): void {
  const bytes = view(p, size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
}

function intact(p: Pointer, size: number, seed: number): boolean {
  const bytes = view(p, size);
  for (let i = 0; i < size; i++) if (bytes[i] !== ((i * 31 + seed) & 0xff)) return false;
  return true;
}

function throwsCode(fn: () => unknown, code: HakmemErrorCode): HakmemError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HakmemError, `expected a HakmemError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected HakmemError ${code}, nothing was thrown`);
}

function heapUsable(): void {
  for (const size of [16, 4096, 65536, 200_000]) {
    const p = alloc(size);
    fill(p, size, 9);
    assert.ok(intact(p, size, 9));
    free(p);
  }
}

function collect(): Promise<void> {
  (globalThis as unknown as { gc: () => void }).gc();
  return new Promise((resolve) => setTimeout(resolve, 10));
}

Deno.test("configure before the first allocation applies, then CONFIG_LOCKED", () => {
  assert.equal(libraryPath().endsWith("build/libhakmem.so"), true);
  assert.equal(configLocked(), false);
  configure({ lruMaxCached: 9, superslabSize: "2M", prefault: "madvise" });
  const c = config();
  assert.equal(c.lruMaxCached, 9);
  assert.equal(c.superslabSize, 2 * 1024 * 1024);
  assert.equal(c.prefault, "madvise");
  const p = alloc(16);
  assert.equal(configLocked(), true);
  assert.equal(stats().superslab_bytes, 2 * 1024 * 1024);
  throwsCode(() => configure({ lruMaxCached: 10 }), "CONFIG_LOCKED");
  free(p);
});

Deno.test("round trips with content checks from 16 B to 4 MiB", () => {
  for (const size of [16, 17, 100, 1024, 4096, 8193, 65536, 65537, 1 << 20, 4 << 20]) {
    let p = alloc(size);
    assert.ok(owns(p));
    assert.ok(usableSize(p) >= size);
    fill(p, size, size & 0xff);
    assert.ok(intact(p, size, size & 0xff), `alloc ${size}`);
    p = realloc(p, size * 2);
    assert.ok(intact(p, size, size & 0xff), `realloc ${size}`);
    free(p);
    assert.equal(owns(p), false);
    const z = calloc(size, 1);
    assert.ok(view(z, size).every((b) => b === 0), `calloc ${size}`);
    free(z);
  }
  assert.match(version(), /^\d+\.\d+\.\d+$/);
});

Deno.test("every error code from bad input, and the heap lives on", () => {
  const keep = alloc(300);
  fill(keep, 300, 4);
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
    throwsCode(() => alloc(bad), "BAD_SIZE");
    throwsCode(() => buffer(bad), "BAD_SIZE");
    throwsCode(() => allocBatch(16, bad), "BAD_SIZE");
  }
  throwsCode(() => alloc(2 ** 50), "OUT_OF_MEMORY");
  throwsCode(() => realloc(keep, 2 ** 50), "OUT_OF_MEMORY");
  throwsCode(() => free(null as unknown as Pointer), "FOREIGN_POINTER");
  throwsCode(() => free(4096 as Pointer), "FOREIGN_POINTER");
  throwsCode(() => free((keep + 16) as Pointer), "FOREIGN_POINTER");
  throwsCode(() => usableSize(0 as Pointer), "FOREIGN_POINTER");
  const p = alloc(48);
  free(p);
  throwsCode(() => free(p), "DOUBLE_FREE");
  throwsCode(() => freeBatch([p]), "DOUBLE_FREE");
  const e = throwsCode(() => configure({ lruMaxCached: 70000 }), "BAD_CONFIG");
  assert.match(e.message, /lruMaxCached.*0 to 65536/);
  throwsCode(() => configure({ nope: 1 } as never), "BAD_CONFIG");
  assert.ok(owns(keep));
  assert.ok(intact(keep, 300, 4));
  free(keep);
  heapUsable();
});

Deno.test("batches equal single calls in effect", () => {
  const single = stats();
  const ptrs: Pointer[] = [];
  for (let i = 0; i < 32; i++) ptrs.push(alloc(200));
  const mid1 = stats();
  for (const q of ptrs) free(q);
  const batchStart = stats();
  const batch = allocBatch(200, 32);
  const mid2 = stats();
  freeBatch(batch);
  const end = stats();
  assert.equal(mid1.allocs - single.allocs, 32);
  assert.equal(mid2.allocs - batchStart.allocs, 32);
  assert.equal(mid2.bytes_in_use - batchStart.bytes_in_use, mid1.bytes_in_use - single.bytes_in_use);
  assert.equal(end.frees - mid2.frees, batchStart.frees - mid1.frees);
  for (const w of batch) assert.equal(owns(Number(w)), false);
  trim();
});

Deno.test("stats() fields are the struct's, in order", () => {
  assert.deepEqual(Object.keys(stats()), [...STATS_FIELDS]);
});

Deno.test("buffer(): zeroed hakmem memory handed back after collection (FinalizationRegistry)", async () => {
  const b = buffer(1000);
  assert.equal(b.length, 1000);
  assert.ok(b.every((x) => x === 0));
  const address = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  // The block starts 16 bytes before the buffer (csrc/buffer.c): the buffer's address is no block of its own.
  assert.ok(!owns(address));
  assert.ok(owns(address - 16));
  assert.equal(buffer(0).length, 0);

  const COUNT = 32;
  const addresses = (() => {
    const out: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      const x = buffer(16 * 1024);
      x.fill(i);
      out.push(Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(x))));
    }
    return out;
  })();
  const made = stats();
  let live = COUNT;
  for (let round = 0; round < 50 && live > 0; round++) {
    await collect();
    live = addresses.filter((a) => owns(a - 16)).length;
  }
  assert.ok(COUNT - live >= COUNT - 4, `${live} of ${COUNT} buffers still live after 50 collections`);
  assert.ok(stats().frees - made.frees >= COUNT - live);
});

Deno.test("release(), using, view() and arenas: the same behaviour and errors as in Bun", () => {
  const addressOf = (b: Uint8Array) => Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  const b = buffer(4096);
  b.fill(7);
  let before = stats();
  throwsCode(() => free(addressOf(b) as Pointer), "FOREIGN_POINTER");
  throwsCode(() => release(b.subarray(1)), "FOREIGN_POINTER");
  throwsCode(() => release(new ArrayBuffer(8)), "FOREIGN_POINTER");
  assert.equal(stats().frees, before.frees);
  assert.ok(b.every((x) => x === 7));
  release(b);
  assert.equal(stats().frees - before.frees, 1);
  assert.equal(b.length, 0);
  throwsCode(() => release(b), "DOUBLE_FREE");
  assert.equal(stats().frees - before.frees, 1);

  before = stats();
  let escaped: Uint8Array = new Uint8Array(1);
  {
    using u = bufferUnsafe(300);
    escaped = u;
  }
  assert.equal(stats().frees - before.frees, 1);
  assert.equal(escaped.length, 0);

  const p = alloc(100);
  hakView(p, usableSize(p)).fill(1);
  throwsCode(() => hakView(p, usableSize(p) + 1), "BAD_SIZE");
  free(p);
  throwsCode(() => hakView(p, 1), "FOREIGN_POINTER");

  before = stats();
  const a = arena();
  const kept = a.buffer(100);
  const q = a.alloc(64);
  throwsCode(() => free(q), "FOREIGN_POINTER");
  throwsCode(() => release(kept), "FOREIGN_POINTER");
  a.dispose();
  assert.equal(stats().frees - before.frees, stats().allocs - before.allocs);
  assert.equal(kept.length, 0);
  throwsCode(() => a.alloc(1), "DISPOSED");
});

Deno.test("config table, toEnv, fromEnv, loadConfig", () => {
  const cNames = describeFlags().map((f) => f.name);
  const keys = Object.keys(FLAGS) as HakmemConfigKey[];
  assert.deepEqual(keys.map((k) => FLAGS[k].env).filter((n) => !cNames.includes(n)), []);
  assert.deepEqual(toEnv({ superslabSize: "4M", hugePages: true }), { HAKMEM_SS_SIZE: "4M", HAKMEM_USE_HUGEPAGES: "1" });
  assert.deepEqual(fromEnv({ HAKMEM_SS_SIZE: "512k", HAKMEM_SS_PREFAULT: "populate", PATH: "/bin" }), {
    superslabSize: 524288,
    prefault: "populate",
  });
  throwsCode(() => fromEnv({ HAKMEM_BOGUS: "1" }), "BAD_CONFIG");
  const path = Deno.makeTempFileSync({ suffix: ".json" });
  try {
    Deno.writeTextFileSync(path, '{"lruTtlSec": 5, "largeMaxBlock": "64K"}');
    assert.deepEqual(loadConfig(path), { lruTtlSec: 5, largeMaxBlock: 65536 });
    Deno.writeTextFileSync(path, '{"lruTtl": 5}');
    throwsCode(() => loadConfig(path), "BAD_CONFIG");
  } finally {
    Deno.removeSync(path);
  }
});
