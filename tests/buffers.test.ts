/**
 * Buffers whose life the application controls: release() and `using`, bufferUnsafe(), view(), arenas, and free()
 * refusing a buffer's memory. Each test reads stats() before and after, so the counts say what hakmem did.
 */
import { describe, expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import {
  alloc,
  arena,
  buffer,
  bufferUnsafe,
  free,
  freeBatch,
  owns,
  type Pointer,
  realloc,
  release,
  stats,
  usableSize,
  view,
} from "../src/index.ts";
import { expectCode } from "./support.ts";

/** allocs, frees and bytes in use since `before`. */
function delta(before: ReturnType<typeof stats>) {
  const now = stats();
  return { allocs: now.allocs - before.allocs, frees: now.frees - before.frees, bytes: now.bytes_in_use - before.bytes_in_use };
}

/** Collects until at least `atLeast` frees happened since `before` (50 rounds at most); the frees seen. */
async function collectUntilFreed(before: ReturnType<typeof stats>, atLeast: number): Promise<number> {
  let freed = delta(before).frees;
  for (let round = 0; round < 50 && freed < atLeast; round++) {
    Bun.gc(true);
    await Bun.sleep(10);
    freed = delta(before).frees;
  }
  return freed;
}

describe("free() of a buffer's memory", () => {
  test("is refused with FOREIGN_POINTER and changes nothing", () => {
    const b = buffer(4096);
    b.fill(7);
    const before = stats();
    const e = expectCode(() => free(ptr(b) as Pointer), "FOREIGN_POINTER");
    expect(e.message).toContain("buffer");
    expect(delta(before)).toEqual({ allocs: 0, frees: 0, bytes: 0 });
    expect(b.length).toBe(4096);
    expect(b.every((x) => x === 7)).toBe(true);
    // The report that found it: after such a free, two allocations returned the same address.
    const p = alloc(4096);
    const q = alloc(4096);
    expect(p).not.toBe(q);
    free(p);
    free(q);
    release(b);
    expect(delta(before).frees).toBe(3);
  });

  test("also for 64 KiB buffers (a 64 KiB block with no guard, recorded), and realloc/usableSize/freeBatch refuse it", () => {
    for (const size of [65521, 65536]) {
      const b = buffer(size);
      b.fill(9);
      const a = ptr(b) as Pointer;
      const before = stats();
      expect(expectCode(() => free(a), "FOREIGN_POINTER").message).toContain("buffer");
      expectCode(() => realloc(a, 10), "FOREIGN_POINTER");
      expectCode(() => usableSize(a), "FOREIGN_POINTER");
      expectCode(() => freeBatch([a]), "FOREIGN_POINTER");
      expect(owns(a)).toBe(false);
      expect(delta(before)).toEqual({ allocs: 0, frees: 0, bytes: 0 });
      expect(b.every((x) => x === 9)).toBe(true);
      release(b);
      expect(delta(before).frees).toBe(1);
      const p = alloc(size); // the same block, perhaps, now the caller's
      free(p);
    }
  });

  test("a subarray's address is refused too", () => {
    const b = buffer(256);
    expectCode(() => free(ptr(b.subarray(16)) as Pointer), "FOREIGN_POINTER");
    release(b);
  });
});

describe("release()", () => {
  test("gives the block back at once and detaches the buffer", () => {
    for (const size of [1, 64, 4096, 65536, 1 << 20]) {
      const b = buffer(size);
      const alias = new Float64Array(b.buffer, 0, Math.floor(size / 8));
      const before = stats();
      release(b);
      const d = delta(before);
      expect(d.frees).toBe(1);
      expect(d.bytes).toBeLessThan(-size + 1);
      expect(b.length).toBe(0);
      expect(b.byteLength).toBe(0);
      expect(alias.length).toBe(0);
      expect(b.buffer.detached).toBe(true);
      expect(b[0]).toBeUndefined();
    }
  });

  test("a second release throws DOUBLE_FREE and frees nothing", () => {
    const b = buffer(100);
    release(b);
    const before = stats();
    const e = expectCode(() => release(b), "DOUBLE_FREE");
    expect(e.message).toContain("already released");
    expectCode(() => release(b.buffer), "DOUBLE_FREE");
    expect(delta(before)).toEqual({ allocs: 0, frees: 0, bytes: 0 });
  });

  test("a view of part of a buffer is refused; the whole ArrayBuffer or any full view is accepted", () => {
    const b = buffer(64);
    b.fill(3);
    const before = stats();
    const e = expectCode(() => release(b.subarray(8, 16)), "FOREIGN_POINTER");
    expect(e.message).toContain("part of a buffer");
    expect(delta(before).frees).toBe(0);
    expect(b.every((x) => x === 3)).toBe(true);
    release(new Uint32Array(b.buffer));
    expect(delta(before).frees).toBe(1);
    expect(b.length).toBe(0);

    const c = buffer(64);
    release(c.buffer);
    expect(c.length).toBe(0);
  });

  test("memory that is not from buffer() is refused", () => {
    expectCode(() => release(new ArrayBuffer(32)), "FOREIGN_POINTER");
    expectCode(() => release(new Uint8Array(32)), "FOREIGN_POINTER");
    expectCode(() => release(Buffer.alloc(16)), "FOREIGN_POINTER");
    const p = alloc(64);
    expectCode(() => release(view(p, 64)), "FOREIGN_POINTER");
    free(p);
    for (const bad of [null, undefined, 5, "x", {}]) expectCode(() => release(bad as never), "FOREIGN_POINTER");
  });

  test("buffer(0) holds nothing and releases like any other", () => {
    const before = stats();
    const b = buffer(0);
    expect(b.length).toBe(0);
    release(b);
    expectCode(() => release(b), "DOUBLE_FREE");
    expect(delta(before)).toEqual({ allocs: 0, frees: 0, bytes: 0 });
  });

  test("a 1 MiB buffer made again after one was released takes no page faults and is zeroed", () => {
    const first = buffer(1 << 20);
    first.fill(0xff); // its pages are present now
    release(first);
    const before = stats();
    const again = buffer(1 << 20);
    const faults = stats().page_faults - before.page_faults;
    expect(faults).toBeLessThan(32); // the reused mapping has 256 pages; none faults again
    expect(again.every((x) => x === 0)).toBe(true);
    release(again);
  });
});

describe("using", () => {
  test("frees the buffer at the end of the scope and detaches it", () => {
    let escaped: Uint8Array = new Uint8Array(1);
    const before = stats();
    {
      using b = buffer(5000);
      b[0] = 1;
      escaped = b;
      expect(delta(before).allocs).toBe(1);
      expect(delta(before).frees).toBe(0);
    }
    expect(delta(before).frees).toBe(1);
    expect(escaped.length).toBe(0);
  });

  test("disposing a buffer released already does nothing", () => {
    const before = stats();
    {
      using b = bufferUnsafe(300);
      release(b);
    }
    expect(delta(before)).toEqual({ allocs: 1, frees: 1, bytes: 0 });
  });
});

describe("bufferUnsafe()", () => {
  test("a buffer of the size asked for, released like buffer()", () => {
    for (const size of [1, 100, 4096, 100_000]) {
      const before = stats();
      const b = bufferUnsafe(size);
      expect(b.length).toBe(size);
      b.fill(9);
      expect(b[size - 1]).toBe(9);
      release(b);
      expect(delta(before)).toMatchObject({ allocs: 1, frees: 1 });
    }
    for (const bad of [-1, 1.5, Number.NaN, "8"]) expectCode(() => bufferUnsafe(bad as number), "BAD_SIZE");
  });
});

describe("collection", () => {
  test("dropped buffers come back through the native deallocator", async () => {
    const COUNT = 64;
    Bun.gc(true);
    await Bun.sleep(10);
    const before = stats();
    (() => {
      for (let i = 0; i < COUNT; i++) buffer(16 * 1024).fill(i);
    })();
    expect(delta(before).allocs).toBe(COUNT);
    const freed = await collectUntilFreed(before, COUNT - 8);
    // The collector scans the stack conservatively, so a stray buffer may survive; the rest must not.
    expect(freed).toBeGreaterThanOrEqual(COUNT - 8);
  });
});

describe("a buffer transferred to a Worker", () => {
  test("is detached here (release refuses it) and the Worker can release it", async () => {
    const worker = new Worker(new URL("./buffers.worker.ts", import.meta.url).href);
    try {
      const b = buffer(1000);
      b.fill(42);
      const before = stats();
      const reply = new Promise<{ sum: number; length: number; code: string | null }>((resolve, reject) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.onerror = (event) => reject(new Error(event.message));
      });
      worker.postMessage(b, [b.buffer]);
      expect(b.length).toBe(0);
      const e = expectCode(() => release(b), "FOREIGN_POINTER");
      expect(e.message).toContain("detached");
      const answer = await reply;
      expect(answer).toEqual({ sum: 42 * 1000, length: 0, code: null });
      expect(delta(before).frees).toBe(1); // the Worker's release freed it, in this process's hakmem
    } finally {
      worker.terminate();
    }
  });
});

describe("view()", () => {
  test("a non-owning Uint8Array over a live block, checked against its usable size", () => {
    const p = alloc(100);
    const n = usableSize(p);
    const v = view(p, n);
    v.fill(5);
    expect(view(p, 10).every((x) => x === 5)).toBe(true);
    expect(view(p, 0).length).toBe(0);
    const e = expectCode(() => view(p, n + 1), "BAD_SIZE");
    expect(e.message).toContain("past the block's end");
    const before = stats();
    expect(delta(before).allocs).toBe(0); // a view allocates nothing
    free(p);
    expectCode(() => view(p, 1), "FOREIGN_POINTER");
    expectCode(() => view((p + 16) as Pointer, 1), "FOREIGN_POINTER");
    expectCode(() => view(0 as Pointer, 1), "FOREIGN_POINTER");
    const b = buffer(64);
    expectCode(() => view(ptr(b) as Pointer, 1), "FOREIGN_POINTER");
    release(b);
  });
});

describe("arena()", () => {
  test("hands out blocks and buffers and frees all of them in one dispose()", () => {
    const before = stats();
    const a = arena();
    const buffers: Uint8Array[] = [];
    const blocks = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const b = a.buffer(1 + (i % 100));
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill(i & 0xff);
      buffers.push(b);
      const p = a.alloc(24);
      expect(p % 16).toBe(0);
      blocks.add(p);
    }
    expect(blocks.size).toBe(2000);
    for (let i = 0; i < 2000; i++) expect(buffers[i]![0]).toBe(i & 0xff); // no two overlap
    const big = a.buffer(100_000); // its own chunk
    expect(big.length).toBe(100_000);
    const chunks = a.chunks;
    expect(delta(before).allocs).toBe(chunks);
    expect(a.bytes).toBeGreaterThan(2000 * 24 + 100_000);

    a.dispose();
    expect(a.disposed).toBe(true);
    const d = delta(before);
    expect(d.frees).toBe(chunks);
    expect(d.bytes).toBe(0);
    expect(buffers.every((b) => b.length === 0)).toBe(true);
    expect(big.length).toBe(0);
    a.dispose(); // again: nothing
    expect(delta(before).frees).toBe(chunks);
    expectCode(() => a.alloc(8), "DISPOSED");
    expectCode(() => a.buffer(8), "DISPOSED");
  });

  test("is disposable with using", () => {
    const before = stats();
    let kept: Uint8Array = new Uint8Array(1);
    {
      using a = arena({ chunkSize: 4096 });
      for (let i = 0; i < 100; i++) kept = a.buffer(100);
    }
    const d = delta(before);
    expect(d.allocs).toBeGreaterThan(1);
    expect(d.frees).toBe(d.allocs);
    expect(kept.length).toBe(0);
  });

  test("its blocks and buffers are not free()'s or release()'s to give back", () => {
    using a = arena();
    const p = a.alloc(64);
    const b = a.buffer(64);
    const before = stats();
    expectCode(() => free(p), "FOREIGN_POINTER");
    expectCode(() => free(ptr(b) as Pointer), "FOREIGN_POINTER");
    expect(expectCode(() => release(b), "FOREIGN_POINTER").message).toContain("arena");
    expect(expectCode(() => release(b.buffer), "FOREIGN_POINTER").message).toContain("arena");
    expect(delta(before)).toEqual({ allocs: 0, frees: 0, bytes: 0 });
  });

  test("bad options and sizes", () => {
    expectCode(() => arena({ chunkSize: 10 }), "BAD_SIZE");
    expectCode(() => arena({ chunkSize: -1 }), "BAD_SIZE");
    expectCode(() => arena(null as never), "BAD_CONFIG");
    using a = arena();
    expectCode(() => a.alloc(-1), "BAD_SIZE");
    expectCode(() => a.buffer(Number.NaN), "BAD_SIZE");
    expect(a.buffer(0).length).toBe(0);
  });

  test("a dropped arena's chunks are freed by the collector", async () => {
    Bun.gc(true);
    await Bun.sleep(10);
    const before = stats();
    (() => {
      const a = arena({ chunkSize: 8192 });
      for (let i = 0; i < 200; i++) a.buffer(500).fill(1);
    })();
    const made = delta(before).allocs;
    expect(made).toBeGreaterThan(5);
    const freed = await collectUntilFreed(before, made - 4);
    expect(freed).toBeGreaterThanOrEqual(made - 4);
  });
});
