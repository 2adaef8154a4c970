/**
 * A Bun Worker for tests/bindings_worker.test.ts: it loads the bindings in its own thread and answers messages.
 * Pointers travel between threads as plain numbers.
 *
 * - `{ op: "alloc", sizes, seed }` → `{ ptrs }`: allocates one block per size and fills it with a pattern.
 * - `{ op: "check-free", ptrs, sizes, seed }` → `{ intact, owned }`: checks the pattern, frees every block here,
 *   then reports whether each still looks owned from this thread.
 * - `{ op: "try-free", ptr }` → `{ code }`: frees an address and reports the HakmemError code (null: freed).
 */
import { toArrayBuffer } from "bun:ffi";
import { alloc, free, HakmemError, owns, type Pointer } from "../src/index.ts";

declare const self: Worker;

type Request =
  | { op: "alloc"; sizes: number[]; seed: number }
  | { op: "check-free"; ptrs: number[]; sizes: number[]; seed: number }
  | { op: "try-free"; ptr: number };

function pattern(i: number, seed: number): number {
  return (i * 13 + seed) & 0xff;
}

self.onmessage = (event: MessageEvent<Request>) => {
  const msg = event.data;
  try {
    if (msg.op === "alloc") {
      const ptrs = msg.sizes.map((size, k) => {
        const p = alloc(size);
        const bytes = new Uint8Array(toArrayBuffer(p, 0, size));
        for (let i = 0; i < size; i++) bytes[i] = pattern(i, msg.seed + k);
        return p as number;
      });
      postMessage({ ptrs });
    } else if (msg.op === "check-free") {
      const intact = msg.ptrs.map((p, k) => {
        const size = msg.sizes[k] ?? 0;
        const bytes = new Uint8Array(toArrayBuffer(p as Pointer, 0, size));
        for (let i = 0; i < size; i++) if (bytes[i] !== pattern(i, msg.seed + k)) return false;
        return true;
      });
      for (const p of msg.ptrs) free(p as Pointer);
      postMessage({ intact, owned: msg.ptrs.map((p) => owns(p)) });
    } else {
      try {
        free(msg.ptr as Pointer);
        postMessage({ code: null });
      } catch (e) {
        postMessage({ code: e instanceof HakmemError ? e.code : String(e) });
      }
    }
  } catch (e) {
    postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
};
