/**
 * Blocks allocated in one Bun Worker and freed in another: the pointer crosses as a number, the contents arrive
 * intact, the free in the second thread is counted as a remote free, and the block is no longer owned.
 */
import { afterAll, expect, test } from "bun:test";
import { owns, stats } from "../src/index.ts";

const workers: Worker[] = [];

afterAll(() => {
  for (const w of workers) w.terminate();
});

function start(): Worker {
  const w = new Worker(new URL("./bindings.worker.ts", import.meta.url).href);
  workers.push(w);
  return w;
}

/** Sends one request and waits for the answer (fails on a worker error). */
function ask<T>(worker: Worker, request: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { error?: string };
      if (data.error !== undefined) reject(new Error(`worker: ${data.error}`));
      else resolve(event.data as T);
    };
    worker.onerror = (event: ErrorEvent) => reject(new Error(`worker failed: ${event.message}`));
    worker.postMessage(request);
  });
}

const SIZES = [16, 24, 100, 1000, 4096, 8192, 30_000, 65_536, 100_000, 1 << 20, 4 << 20];

test("alloc in one Worker, free in another", async () => {
  const producer = start();
  const consumer = start();
  const before = stats();
  const { ptrs } = await ask<{ ptrs: number[] }>(producer, { op: "alloc", sizes: SIZES, seed: 42 });
  expect(ptrs.length).toBe(SIZES.length);
  for (const p of ptrs) {
    expect(typeof p).toBe("number");
    expect(p % 16).toBe(0);
  }
  expect(new Set(ptrs).size).toBe(ptrs.length);
  const allocated = stats();
  expect(allocated.allocs - before.allocs).toBe(SIZES.length);

  const { intact, owned } = await ask<{ intact: boolean[]; owned: boolean[] }>(consumer, {
    op: "check-free",
    ptrs,
    sizes: SIZES,
    seed: 42,
  });
  expect(intact).toEqual(SIZES.map(() => true));
  expect(owned).toEqual(SIZES.map(() => false));

  const after = stats();
  expect(after.frees - allocated.frees).toBeGreaterThanOrEqual(SIZES.length);
  // The small and mid blocks belong to the producer's heap, which is still alive: their frees were remote.
  const slabBlocks = SIZES.filter((s) => s <= 65_536).length;
  expect(after.remote_frees - allocated.remote_frees).toBeGreaterThanOrEqual(slabBlocks);
  for (const p of ptrs) expect(owns(p)).toBe(false);
});

test("a Worker's bad free throws there and the other threads go on", async () => {
  const a = start();
  const b = start();
  const { ptrs } = await ask<{ ptrs: number[] }>(a, { op: "alloc", sizes: [64], seed: 1 });
  const p = ptrs[0] as number;
  // An interior pointer is refused whichever thread asks.
  const interior = await ask<{ code: string | null }>(b, { op: "try-free", ptr: p + 16 });
  expect(interior.code).toBe("FOREIGN_POINTER");
  const foreign = await ask<{ code: string | null }>(b, { op: "try-free", ptr: 4096 });
  expect(foreign.code).toBe("FOREIGN_POINTER");
  const { intact } = await ask<{ intact: boolean[] }>(b, { op: "check-free", ptrs: [p], sizes: [64], seed: 1 });
  expect(intact).toEqual([true]);
  const again = await ask<{ ptrs: number[] }>(a, { op: "alloc", sizes: [64, 128], seed: 2 });
  expect(again.ptrs.length).toBe(2);
  await ask(b, { op: "check-free", ptrs: again.ptrs, sizes: [64, 128], seed: 2 });
});
