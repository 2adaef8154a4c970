/**
 * A Bun Worker for tests/buffers.test.ts: receives a buffer transferred with postMessage, sums its bytes,
 * releases it here (its block goes back to hakmem from this thread) and answers `{ sum, length, code }`: the
 * length after release and the HakmemError code release threw (null when it did not).
 */
import { HakmemError, release } from "../src/index.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<Uint8Array>) => {
  const bytes = event.data;
  let sum = 0;
  for (const x of bytes) sum += x;
  let code: string | null = null;
  try {
    release(bytes);
  } catch (e) {
    code = e instanceof HakmemError ? e.code : String(e);
  }
  postMessage({ sum, length: bytes.length, code });
};
