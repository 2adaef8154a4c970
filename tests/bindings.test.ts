/**
 * The Bun bindings (src/index.ts): round trips with content checks from 16 B to 4 MiB, every error code from bad
 * input with the heap still usable afterwards, batches, statistics against the C side, and buffer() memory handed
 * back by the garbage collector.
 */
import { describe, expect, test } from "bun:test";
import { dlopen, FFIType, ptr, toArrayBuffer } from "bun:ffi";
import {
  alloc,
  allocBatch,
  buffer,
  calloc,
  configLocked,
  configure,
  free,
  freeBatch,
  HakmemError,
  type HakmemErrorCode,
  libraryPath,
  MAX_BATCH,
  MAX_SIZE,
  owns,
  type Pointer,
  realloc,
  STATS_FIELDS,
  stats,
  trim,
  usableSize,
  version,
} from "../src/index.ts";
import { FFI_LIB, report, ROOT, run } from "./support.ts";

/** The C side seen directly, to check the bindings against it. */
const raw = dlopen(FFI_LIB, {
  hak_stats_json: { args: [], returns: FFIType.cstring },
  hak_stats: { args: [FFIType.ptr], returns: FFIType.i32 },
  hak_block_state: { args: [FFIType.ptr], returns: FFIType.i32 },
  hak_fault_set_mmap_fail_every: { args: [FFIType.u64], returns: FFIType.void },
}).symbols;

const SIZES = [
  16, 17, 24, 31, 48, 64, 100, 128, 255, 256, 500, 1000, 1024, 1025, 2048, 4095, 4096, 8191, 8192, 8193, 12345, 16384,
  32768, 65535, 65536, 65537, 100_000, 262_144, 1 << 20, (1 << 20) + 7, 3 * (1 << 20), 4 * (1 << 20),
];

/** A byte view of `size` bytes at p that does not own them. */
function view(p: Pointer, size: number): Uint8Array {
  return new Uint8Array(toArrayBuffer(p, 0, size));
}

function fill(p: Pointer, size: number, seed: number): void {
  const bytes = view(p, size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
}

/** Index of the first byte that differs from the fill() pattern, or -1. */
function firstMismatch(p: Pointer, size: number, seed: number): number {
  const bytes = view(p, size);
  for (let i = 0; i < size; i++) if (bytes[i] !== ((i * 31 + seed) & 0xff)) return i;
  return -1;
}

/** Asserts fn throws a HakmemError with this code; returns it. */
function expectCode(fn: () => unknown, code: HakmemErrorCode): HakmemError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected HakmemError ${code}, nothing was thrown`).toBeInstanceOf(HakmemError);
  const error = caught as HakmemError;
  expect(error.code, error.message).toBe(code);
  expect(error.message.startsWith(`${code}: `)).toBe(true);
  expect(error.name).toBe("HakmemError");
  return error;
}

/** A sentinel allocated before the misuse tests; its contents must survive every one of them. */
const SENTINEL_SIZE = 777;
const sentinel = alloc(SENTINEL_SIZE);
fill(sentinel, SENTINEL_SIZE, 99);

/** The heap still works: fresh allocations of several tiers round-trip, and the sentinel is untouched. */
function expectHeapUsable(): void {
  for (const size of [16, 4096, 65536, 200_000]) {
    const p = alloc(size);
    fill(p, size, size & 0xff);
    expect(firstMismatch(p, size, size & 0xff)).toBe(-1);
    free(p);
    expect(owns(p)).toBe(false);
  }
  const batch = allocBatch(32, 8);
  freeBatch(batch);
  expect(owns(sentinel)).toBe(true);
  expect(firstMismatch(sentinel, SENTINEL_SIZE, 99)).toBe(-1);
}

describe("loading", () => {
  test("the library loaded from build/ and reports its version", () => {
    expect(libraryPath()).toBe(FFI_LIB);
    expect(version()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("round trips", () => {
  test.each(SIZES)("alloc, fill, usableSize, free: %d bytes", (size) => {
    const p = alloc(size);
    expect(typeof p).toBe("number");
    expect(p % 16).toBe(0);
    expect(owns(p)).toBe(true);
    expect(usableSize(p)).toBeGreaterThanOrEqual(size);
    fill(p, size, 7);
    expect(firstMismatch(p, size, 7)).toBe(-1);
    free(p);
    expect(owns(p)).toBe(false);
  });

  test.each(SIZES)("realloc keeps the contents when growing and shrinking: %d bytes", (size) => {
    let p = alloc(size);
    fill(p, size, 3);
    p = realloc(p, size * 2 + 1);
    expect(owns(p)).toBe(true);
    expect(usableSize(p)).toBeGreaterThanOrEqual(size * 2 + 1);
    expect(firstMismatch(p, size, 3)).toBe(-1);
    const half = Math.max(1, size >> 1);
    p = realloc(p, half);
    expect(usableSize(p)).toBeGreaterThanOrEqual(half);
    expect(firstMismatch(p, half, 3)).toBe(-1);
    free(p);
  });

  test.each(SIZES)("calloc gives zeroed memory even when it reuses a dirty block: %d bytes", (size) => {
    const dirty = alloc(size);
    fill(dirty, size, 0xab);
    free(dirty);
    const p = calloc(1, size);
    expect(view(p, size).every((b) => b === 0)).toBe(true);
    free(p);
    const q = calloc(size, 1);
    expect(view(q, size).every((b) => b === 0)).toBe(true);
    free(q);
  });

  test("sizes of 2 GiB and more (past the 32-bit fast paths) allocate and free the same way", () => {
    const size = 2 ** 31 + 16; // mapped, never touched
    const p = alloc(size);
    expect(owns(p)).toBe(true);
    expect(usableSize(p)).toBeGreaterThanOrEqual(size);
    free(p);
    expect(owns(p)).toBe(false);
    const batch = allocBatch(2 ** 31, 2);
    for (const word of batch) expect(usableSize(Number(word) as Pointer)).toBeGreaterThanOrEqual(2 ** 31);
    freeBatch(batch);
    for (const word of batch) expect(owns(Number(word))).toBe(false);
  });

  test("many live blocks of mixed sizes keep their own contents", () => {
    const blocks = SIZES.flatMap((size, i) => [0, 1, 2].map((k) => ({ size, seed: i * 3 + k, p: alloc(size) })));
    for (const b of blocks) fill(b.p, b.size, b.seed);
    for (const b of blocks) expect(firstMismatch(b.p, b.size, b.seed)).toBe(-1);
    const addresses = new Set(blocks.map((b) => b.p));
    expect(addresses.size).toBe(blocks.length);
    for (const b of blocks) free(b.p);
    for (const b of blocks) expect(owns(b.p)).toBe(false);
  });

  test("alloc(0) and calloc(0, n) give real blocks; realloc(null, n) allocates; realloc(p, 0) keeps a block", () => {
    const z = alloc(0);
    expect(owns(z)).toBe(true);
    free(z);
    const c = calloc(0, 8);
    expect(owns(c)).toBe(true);
    free(c);
    const r = realloc(null, 40);
    expect(owns(r)).toBe(true);
    expect(usableSize(r)).toBeGreaterThanOrEqual(40);
    const r0 = realloc(r, 0);
    expect(owns(r0)).toBe(true);
    free(r0);
  });

  test("owns is false for anything that is not a live block, and never throws", () => {
    const p = alloc(64);
    expect(owns(p)).toBe(true);
    expect(owns(p + 16)).toBe(false);
    const foreign = ptr(new Uint8Array(64));
    for (const v of [null, undefined, 0, -1, 1.5, Number.NaN, "x", {}, foreign, 8, 2 ** 60, BigInt(p) + 1n]) {
      expect(owns(v)).toBe(false);
    }
    expect(owns(BigInt(p))).toBe(true);
    free(p);
    expect(owns(p)).toBe(false);
  });

  test("trim returns a byte count and the heap works after it", () => {
    const batch = allocBatch(1024, 2000);
    freeBatch(batch);
    const released = trim();
    expect(Number.isInteger(released)).toBe(true);
    expect(released).toBeGreaterThanOrEqual(0);
    expectHeapUsable();
  });
});

describe("batches", () => {
  test.each([16, 100, 1024, 8192, 65536, 100_000])("allocBatch gives distinct live blocks: %d bytes", (size) => {
    const batch = allocBatch(size, 50);
    expect(batch).toBeInstanceOf(BigUint64Array);
    expect(batch.length).toBe(50);
    const ptrs = [...batch].map((w) => Number(w) as Pointer);
    expect(new Set(ptrs).size).toBe(50);
    ptrs.forEach((p, i) => {
      expect(owns(p)).toBe(true);
      expect(usableSize(p)).toBeGreaterThanOrEqual(size);
      fill(p, Math.min(size, 4096), i);
    });
    ptrs.forEach((p, i) => expect(firstMismatch(p, Math.min(size, 4096), i)).toBe(-1));
    freeBatch(batch);
    expect(batch.length).toBe(50); // not modified
    for (const p of ptrs) expect(owns(p)).toBe(false);
  });

  test("freeBatch takes an array of pointers and skips zero entries", () => {
    const a = alloc(32);
    const b = alloc(5000);
    freeBatch([a, 0, b]);
    expect(owns(a)).toBe(false);
    expect(owns(b)).toBe(false);
    freeBatch([]);
    freeBatch(new BigUint64Array(0));
    expect(allocBatch(16, 0).length).toBe(0);
  });

  test("batch calls have the same effect on the statistics as single calls (fresh process)", async () => {
    const result = await run([process.execPath, "tests/bindings.child.ts", "batch-deltas"], { cwd: ROOT });
    expect(result.exitCode, report(result)).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{
      size: number;
      count: number;
      single: { alloc: Record<string, number>; free: Record<string, number> };
      batch: { alloc: Record<string, number>; free: Record<string, number> };
    }>;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const label = `size ${row.size}`;
      expect(row.batch.alloc, label).toEqual(row.single.alloc);
      expect(row.batch.free, label).toEqual(row.single.free);
      expect(row.single.alloc.allocs, label).toBe(row.count);
      expect(row.single.free.frees, label).toBe(row.count);
      expect(row.single.alloc.bytes_in_use, label).toBeGreaterThanOrEqual(row.count * row.size);
      expect(row.single.free.bytes_in_use, label).toBe(-row.single.alloc.bytes_in_use!);
    }
  });
});

describe("statistics", () => {
  test("stats() has exactly the fields of hak_stats_json, in the same order", () => {
    const json = JSON.parse(String(raw.hak_stats_json())) as Record<string, number>;
    expect(Object.keys(json)).toEqual([...STATS_FIELDS]);
    expect(Object.keys(stats())).toEqual([...STATS_FIELDS]);
  });

  test("struct hak_stats has the size the bindings expect", () => {
    const words = new BigUint64Array(1024);
    expect(raw.hak_stats(words)).toBe(0);
    expect(Number(words[0])).toBe(8 * (1 + STATS_FIELDS.length));
  });

  test("stats() reads the same numbers as hak_stats_json", () => {
    const before = stats();
    const json = JSON.parse(String(raw.hak_stats_json())) as Record<string, number>;
    const after = stats();
    for (const field of ["allocs", "frees", "small_allocs", "large_allocs", "os_maps", "superslab_bytes"] as const) {
      expect(json[field], field).toBeGreaterThanOrEqual(before[field]);
      expect(json[field], field).toBeLessThanOrEqual(after[field]);
    }
    for (const field of STATS_FIELDS) expect(Number.isInteger(after[field]), field).toBe(true);
  });

  test("counters follow allocations and frees", () => {
    const s0 = stats();
    const small = alloc(100);
    const large = alloc(1 << 20);
    const s1 = stats();
    expect(s1.allocs - s0.allocs).toBe(2);
    expect(s1.small_allocs - s0.small_allocs).toBe(1);
    expect(s1.large_allocs - s0.large_allocs).toBe(1);
    expect(s1.bytes_in_use - s0.bytes_in_use).toBeGreaterThanOrEqual(100 + (1 << 20));
    free(small);
    free(large);
    const s2 = stats();
    expect(s2.small_frees - s1.small_frees).toBeGreaterThanOrEqual(1);
    expect(s2.large_frees - s1.large_frees).toBeGreaterThanOrEqual(1);
  });
});

describe("errors: bad input throws a HakmemError and the heap lives on", () => {
  const badSizes: Array<[string, unknown]> = [
    ["negative", -1],
    ["fractional", 1.5],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["over the maximum", MAX_SIZE + 1],
    ["2^64", 2 ** 64],
    ["a string", "64"],
    ["a bigint", 64n],
    ["undefined", undefined],
  ];

  test.each(badSizes)("BAD_SIZE: %s", (_, size) => {
    const s = size as number;
    const p = alloc(64);
    fill(p, 64, 5);
    expectCode(() => alloc(s), "BAD_SIZE");
    expectCode(() => calloc(s, 8), "BAD_SIZE");
    expectCode(() => calloc(8, s), "BAD_SIZE");
    expectCode(() => realloc(p, s), "BAD_SIZE");
    expectCode(() => allocBatch(s, 4), "BAD_SIZE");
    expectCode(() => allocBatch(16, s), "BAD_SIZE");
    expectCode(() => buffer(s), "BAD_SIZE");
    expect(owns(p)).toBe(true);
    expect(firstMismatch(p, 64, 5)).toBe(-1);
    free(p);
    expectHeapUsable();
  });

  test("BAD_SIZE: calloc whose product is over the maximum, allocBatch over MAX_BATCH", () => {
    expectCode(() => calloc(2 ** 30, 2 ** 30), "BAD_SIZE");
    expectCode(() => allocBatch(16, MAX_BATCH + 1), "BAD_SIZE");
    const e = expectCode(() => alloc(-5), "BAD_SIZE");
    expect(e.message).toContain("negative");
    expectHeapUsable();
  });

  test("OUT_OF_MEMORY: sizes no address space holds; realloc leaves the block as it was", () => {
    const huge = 2 ** 50;
    const s0 = stats();
    expectCode(() => alloc(huge), "OUT_OF_MEMORY");
    expectCode(() => calloc(2 ** 25, 2 ** 25), "OUT_OF_MEMORY");
    expectCode(() => buffer(huge), "OUT_OF_MEMORY");
    expectCode(() => allocBatch(huge, 3), "OUT_OF_MEMORY");
    const p = alloc(300);
    fill(p, 300, 11);
    expectCode(() => realloc(p, huge), "OUT_OF_MEMORY");
    expect(owns(p)).toBe(true);
    expect(firstMismatch(p, 300, 11)).toBe(-1);
    free(p);
    const s1 = stats();
    expect(s1.allocs - s0.allocs).toBe(1); // only p: the refused requests allocated nothing
    expectHeapUsable();
  });

  test("OUT_OF_MEMORY from allocBatch gives back the blocks it did get (fault injection)", () => {
    // Blocks over HAKMEM_LARGE_MAX_BLOCK (256M) are huge blocks: each has its own mapping, unmapped when freed.
    const size = 300 * 1024 * 1024;
    const s0 = stats();
    raw.hak_fault_set_mmap_fail_every(3); // the third mapping from now on fails
    try {
      expectCode(() => allocBatch(size, 5), "OUT_OF_MEMORY");
    } finally {
      raw.hak_fault_set_mmap_fail_every(0);
    }
    const s1 = stats();
    expect(s1.os_map_failures - s0.os_map_failures).toBeGreaterThanOrEqual(1);
    expect(s1.large_allocs - s0.large_allocs).toBe(2);
    expect(s1.large_frees - s0.large_frees).toBe(2);
    expect(s1.bytes_in_use).toBe(s0.bytes_in_use);
    expectHeapUsable();
  });

  test("FOREIGN_POINTER: null, non-addresses, foreign and interior addresses", () => {
    const p = alloc(64);
    fill(p, 64, 1);
    const foreign = ptr(new Uint8Array(256));
    const s0 = stats();
    for (const bad of [null, undefined, 0]) {
      expectCode(() => free(bad as unknown as Pointer), "FOREIGN_POINTER");
      expectCode(() => usableSize(bad as unknown as Pointer), "FOREIGN_POINTER");
    }
    for (const bad of [-8, 1.5, Number.NaN, "0x1000", {}, 2 ** 60]) {
      expectCode(() => free(bad as unknown as Pointer), "FOREIGN_POINTER");
      expectCode(() => usableSize(bad as unknown as Pointer), "FOREIGN_POINTER");
      expectCode(() => realloc(bad as unknown as Pointer, 8), "FOREIGN_POINTER");
    }
    expectCode(() => free(foreign), "FOREIGN_POINTER");
    expectCode(() => usableSize(foreign), "FOREIGN_POINTER");
    expectCode(() => realloc(foreign, 8), "FOREIGN_POINTER");
    const interior = (p + 16) as Pointer;
    expect(raw.hak_block_state(interior)).toBe(3); // HAK_BLOCK_INTERIOR
    expect(expectCode(() => free(interior), "FOREIGN_POINTER").message).toContain("inside");
    expectCode(() => usableSize(interior), "FOREIGN_POINTER");
    expectCode(() => realloc(interior, 8), "FOREIGN_POINTER");
    expectCode(() => freeBatch([foreign]), "FOREIGN_POINTER");
    expectCode(() => freeBatch("nope" as unknown as BigUint64Array), "FOREIGN_POINTER");
    expectCode(() => freeBatch([1.5 as Pointer]), "FOREIGN_POINTER");
    const s1 = stats();
    expect(s1.frees).toBe(s0.frees); // nothing was freed
    expect(owns(p)).toBe(true);
    expect(firstMismatch(p, 64, 1)).toBe(-1);
    free(p);
    expectHeapUsable();
  });

  test("FOREIGN_POINTER: a large block's interior is not a block either", () => {
    const p = alloc(1 << 20);
    expectCode(() => free((p + 4096) as Pointer), "FOREIGN_POINTER");
    expect(owns(p)).toBe(true);
    free(p);
    expectHeapUsable();
  });

  test("DOUBLE_FREE: free, realloc and freeBatch of a freed block", () => {
    const p = alloc(48);
    free(p);
    const e = expectCode(() => free(p), "DOUBLE_FREE");
    expect(e.message).toContain("already free");
    expectCode(() => realloc(p, 100), "DOUBLE_FREE");
    expectCode(() => freeBatch([p]), "DOUBLE_FREE");
    expectCode(() => usableSize(p), "FOREIGN_POINTER"); // not live
    expectHeapUsable();
  });

  test("a freed large block is refused too (it is unmapped or cached, so it reads as foreign)", () => {
    const p = alloc(1 << 20);
    free(p);
    let caught: unknown;
    try {
      free(p);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(HakmemError);
    expect(["DOUBLE_FREE", "FOREIGN_POINTER"]).toContain((caught as HakmemError).code);
    expectHeapUsable();
  });

  test("freeBatch is all or nothing: one bad entry frees none of the others", () => {
    const good = allocBatch(64, 10);
    const freed = alloc(64);
    free(freed);
    const withFreed = new BigUint64Array([...good, BigInt(freed)]);
    expect(expectCode(() => freeBatch(withFreed), "DOUBLE_FREE").message).toContain("entry 10");
    const withDuplicate = new BigUint64Array([...good, good[3] as bigint]);
    expectCode(() => freeBatch(withDuplicate), "DOUBLE_FREE");
    const withForeign = [...[...good].map((w) => Number(w) as Pointer), ptr(new Uint8Array(8))];
    expectCode(() => freeBatch(withForeign), "FOREIGN_POINTER");
    for (const w of good) expect(owns(Number(w))).toBe(true);
    freeBatch(good);
    for (const w of good) expect(owns(Number(w))).toBe(false);
    expectHeapUsable();
  });

  test("CONFIG_LOCKED: configure after the first allocation", () => {
    expect(configLocked()).toBe(true);
    const e = expectCode(() => configure({ lruTtlSec: 5 }), "CONFIG_LOCKED");
    expect(e.message).toContain("first allocation");
    configure({}); // nothing to apply: not an error
    expectHeapUsable();
  });

  test("BAD_CONFIG: unknown keys, wrong types and values out of range name the key and the range", () => {
    const cases: Array<[unknown, string[]]> = [
      [{ superslabSizes: "1M" }, ["superslabSizes", "known keys"]],
      [{ superslabSize: "3M" }, ["superslabSize", "HAKMEM_SS_SIZE", "512K, 1M, 2M, 4M"]],
      [{ superslabSize: true }, ["superslabSize", "512K"]],
      [{ lruMaxCached: 70000 }, ["lruMaxCached", "0 to 65536"]],
      [{ lruMaxCached: 1.5 }, ["lruMaxCached", "0 to 65536"]],
      [{ lruTtlSec: -1 }, ["lruTtlSec", "0 to 86400"]],
      [{ lruMaxMB: "512" }, ["lruMaxMB", "0 to 1048576"]],
      [{ prefault: "always" }, ["prefault", '"off", "populate", "madvise"']],
      [{ hugePages: 1 }, ["hugePages", "true or false"]],
      [{ largeMaxBlock: "2G" }, ["largeMaxBlock", "64K to 1G"]],
      [{ largeMaxBlock: "32K" }, ["largeMaxBlock", "64K to 1G"]],
      [{ largeCacheMaxRuns: 5000 }, ["largeCacheMaxRuns", "0 to 4096"]],
      [{ statsFile: "a\0b" }, ["statsFile", "4095 bytes"]],
      [{ statsFile: "x".repeat(4096) }, ["statsFile", "4095 bytes"]],
      [null, ["object"]],
      [[1, 2], ["object"]],
    ];
    for (const [options, fragments] of cases) {
      const e = expectCode(() => configure(options as never), "BAD_CONFIG");
      for (const fragment of fragments) expect(e.message).toContain(fragment);
    }
    expectHeapUsable();
  });
});

describe("buffer()", () => {
  test("a zeroed, writable Uint8Array over a live hakmem block", () => {
    const b = buffer(1000);
    expect(b).toBeInstanceOf(Uint8Array);
    expect(b.length).toBe(1000);
    expect(b.byteOffset).toBe(0);
    expect(b.every((x) => x === 0)).toBe(true);
    b.fill(0x5a);
    // The block starts 16 bytes before the buffer (csrc/buffer.c): the buffer's address is no block of its own.
    const address = ptr(b);
    expect(owns(address)).toBe(false);
    expect(owns(address - 16)).toBe(true);
    expect(usableSize((address - 16) as Pointer)).toBeGreaterThanOrEqual(1016);
    expect(view(address, 1000).every((x) => x === 0x5a)).toBe(true);
    expect(buffer(0).length).toBe(0);
  });

  test("the garbage collector gives the memory back to hakmem (native deallocator)", async () => {
    const COUNT = 64;
    const SIZE = 32 * 1024;
    Bun.gc(true);
    await Bun.sleep(10);
    const before = stats();
    // Only the addresses survive this function: the buffers themselves become garbage.
    const addresses = (() => {
      const out: number[] = [];
      for (let i = 0; i < COUNT; i++) {
        const b = buffer(SIZE);
        b.fill(i);
        out.push(ptr(b));
      }
      return out;
    })();
    const made = stats();
    expect(made.allocs - before.allocs).toBe(COUNT);
    let live = COUNT;
    for (let round = 0; round < 50 && live > 0; round++) {
      Bun.gc(true);
      await Bun.sleep(10);
      live = addresses.filter((a) => owns(a - 16)).length;
    }
    const after = stats();
    const freed = COUNT - live;
    // The GC scans the stack conservatively, so a stray buffer may survive; the rest must not.
    expect(freed, `${live} of ${COUNT} buffers still live after 50 collections`).toBeGreaterThanOrEqual(COUNT - 8);
    expect(after.frees - made.frees).toBeGreaterThanOrEqual(freed);
    expect(made.bytes_in_use - after.bytes_in_use).toBeGreaterThanOrEqual(freed * SIZE - SIZE);
    expectHeapUsable();
  });
});

describe("the C side agrees", () => {
  test("hak_block_state sees blocks freed through the bindings as free", () => {
    const p = alloc(80);
    expect(raw.hak_block_state(p)).toBe(1); // HAK_BLOCK_LIVE
    free(p);
    expect(raw.hak_block_state(p)).toBe(2); // HAK_BLOCK_FREE
  });
});
