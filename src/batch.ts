/**
 * Entries of a batch (the BigUint64Array that `allocBatch` returns) as {@link Pointer}s, with no casts in the
 * caller's code: `free(pointerAt(batch, 0))`, `for (const p of pointers(batch)) use(p)`.
 *
 * @module
 */
import type { Pointer } from "./types.ts";
import { HakmemError } from "./errors.ts";

/**
 * Entry `index` of a batch as a {@link Pointer}.
 *
 * @param batch - a batch from `allocBatch` (any BigUint64Array of addresses)
 * @param index - an integer from 0 to `batch.length - 1`
 * @returns the address (0 for a zero entry)
 * @throws {@link HakmemError} `BAD_SIZE` for an index outside the batch
 */
export function pointerAt(batch: BigUint64Array, index: number): Pointer {
  const word = batch[index];
  if (word === undefined) {
    throw new HakmemError("BAD_SIZE", `pointerAt: index ${index} is outside the batch (length ${batch.length})`);
  }
  return Number(word) as Pointer;
}

/**
 * The entries of a batch as {@link Pointer}s, in order.
 *
 * @param batch - a batch from `allocBatch` (any BigUint64Array of addresses)
 */
export function* pointers(batch: BigUint64Array): Generator<Pointer, void, undefined> {
  for (const word of batch) yield Number(word) as Pointer;
}
