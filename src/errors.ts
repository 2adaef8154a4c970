/**
 * The one error type the hakmem bindings throw, with a stable machine-readable code.
 *
 * @module
 */

/**
 * Stable codes of {@link HakmemError}. Match on `error.code`, never on the message (messages may improve).
 *
 * - `BAD_SIZE`: a size or count that is negative, fractional, NaN, infinite, not a number, or over the maximum
 *   ({@link MAX_SIZE} bytes; {@link MAX_BATCH} pointers for a batch).
 * - `OUT_OF_MEMORY`: hakmem returned NULL (the OS refused memory). Nothing was allocated.
 * - `FOREIGN_POINTER`: an address that is not the start of a live hakmem block where one is required: NULL (for
 *   `free` and `usableSize`), a value that is not an address, an address hakmem does not own, a pointer into
 *   the middle of a block, or a buffer's memory given to `free` (buffers are given back by `release` or the
 *   collector); `release` of something that is not a whole buffer from `buffer()` still held by this thread.
 * - `DOUBLE_FREE`: `free`, `realloc` or `freeBatch` of a block hakmem can tell is already free, the same
 *   pointer twice in one `freeBatch`, or `release` of a buffer already released.
 * - `CONFIG_LOCKED`: `configure` after the first allocation froze the configuration.
 * - `BAD_CONFIG`: an unknown configuration key, a value of the wrong type or out of its range (the message names
 *   the key and what is allowed), an unknown `HAKMEM_*` variable in `fromEnv`, or a malformed JSON file.
 * - `LIBRARY_NOT_FOUND`: `build/libhakmem.so` (or `HAKMEM_LIB`) does not exist; the message says how to build it.
 * - `LIBRARY_LOAD_FAILED`: the library exists but could not be loaded (wrong architecture, missing symbols).
 * - `DISPOSED`: an arena used after `dispose()`.
 * - `ABI_MISMATCH`: the loaded library's `struct hak_stats` does not have the size its `hak_stats_json()` fields
 *   imply (a library built from mismatched sources); no statistic can be trusted then.
 */
export type HakmemErrorCode =
  | "BAD_SIZE"
  | "OUT_OF_MEMORY"
  | "FOREIGN_POINTER"
  | "DOUBLE_FREE"
  | "CONFIG_LOCKED"
  | "BAD_CONFIG"
  | "LIBRARY_NOT_FOUND"
  | "LIBRARY_LOAD_FAILED"
  | "ABI_MISMATCH"
  | "DISPOSED";

/** Every {@link HakmemErrorCode}, for exhaustive checks. */
export const HAKMEM_ERROR_CODES: readonly HakmemErrorCode[] = [
  "BAD_SIZE",
  "OUT_OF_MEMORY",
  "FOREIGN_POINTER",
  "DOUBLE_FREE",
  "CONFIG_LOCKED",
  "BAD_CONFIG",
  "LIBRARY_NOT_FOUND",
  "LIBRARY_LOAD_FAILED",
  "ABI_MISMATCH",
  "DISPOSED",
];

/**
 * Thrown by every hakmem binding for bad input or a refused request. When it is thrown nothing was changed: no
 * block was freed, allocated or resized, and the heap is intact.
 *
 * @example
 * ```ts
 * try {
 *   free(p);
 * } catch (e) {
 *   if (e instanceof HakmemError && e.code === "DOUBLE_FREE") console.warn(e.message);
 *   else throw e;
 * }
 * ```
 */
export class HakmemError extends Error {
  /** The stable code; see {@link HakmemErrorCode}. */
  readonly code: HakmemErrorCode;

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (it starts with the code)
   * @param options - `cause`: the underlying error, if any
   */
  constructor(code: HakmemErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = "HakmemError";
    this.code = code;
  }
}

/**
 * Largest size in bytes the bindings pass to hakmem: `Number.MAX_SAFE_INTEGER`, the largest integer a JavaScript
 * number holds exactly. Larger sizes throw `BAD_SIZE`; smaller ones the OS cannot give throw `OUT_OF_MEMORY`.
 */
export const MAX_SIZE: number = Number.MAX_SAFE_INTEGER;

/** Most pointers one `allocBatch` call returns (2^24, a 128 MiB BigUint64Array); more throws `BAD_SIZE`. */
export const MAX_BATCH: number = 2 ** 24;
