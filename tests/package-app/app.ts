// A Bun app that depends on hakmem, as a user writes it (copied into a temporary app by tests/package.test.ts).
import { alloc, allocBatch, buffer, free, freeBatch, libraryPath, type Pointer, pointerAt, pointers, usableSize } from "hakmem";
import type { SweepOptions } from "hakmem/tune";

const p: Pointer = alloc(100);
const usable = usableSize(p);
free(p);

const batch = allocBatch(32, 4);
free(pointerAt(batch, 0)); // entries are Pointers: no cast
batch[0] = 0n; // freed above; freeBatch skips zero entries
let live = 0;
for (const q of pointers(batch)) if (q !== 0 && usableSize(q) >= 32) live++;
freeBatch(batch);

const bytes = buffer(4096);
bytes.fill(7);

const sweep: Pick<SweepOptions, "runs"> = { runs: 1 };
console.log(JSON.stringify({ usable, live, buffer: bytes.length, sum: bytes[4095], runs: sweep.runs, library: libraryPath() }));
