/** pointerAt and pointers: batch entries as Pointers, usable with the API as they are. */
import { expect, test } from "bun:test";
import { allocBatch, free, freeBatch, HakmemError, owns, pointerAt, pointers, usableSize } from "../src/index.ts";

test("pointerAt gives each entry as a Pointer that free and usableSize take", () => {
  const batch = allocBatch(48, 3);
  expect(usableSize(pointerAt(batch, 2))).toBeGreaterThanOrEqual(48);
  const first = pointerAt(batch, 0);
  expect(Number(first)).toBe(Number(batch[0]));
  free(first);
  expect(owns(first)).toBe(false);
  batch[0] = 0n;
  freeBatch(batch);
});

test("pointerAt outside the batch throws BAD_SIZE", () => {
  const batch = new BigUint64Array(2);
  for (const index of [-1, 2, 1.5, Number.NaN]) {
    let error: unknown;
    try {
      pointerAt(batch, index);
    } catch (e) {
      error = e;
    }
    expect(error instanceof HakmemError && error.code).toBe("BAD_SIZE");
  }
});

test("pointers iterates every entry in order", () => {
  const batch = allocBatch(16, 5);
  const list = [...pointers(batch)];
  expect(list.map(Number)).toEqual([...batch].map(Number));
  for (const p of list) expect(owns(p)).toBe(true);
  freeBatch(batch);
});
