/**
 * The types the bindings share: the pointer type, what each runtime's FFI layer implements ({@link NativeHakmem},
 * {@link Host}) and the shapes the API takes and returns. Types only: it imports no module that does anything.
 *
 * @module
 */
import type { DescribedFlag, HakmemConfigKey } from "./config.ts";

/**
 * An address returned by hakmem: a plain number (user-space addresses stay below 2^53), branded so that it is not
 * mixed up with sizes. Structurally the same type as `bun:ffi`'s `Pointer`, so the two are interchangeable.
 */
export type Pointer = number & { __pointer__: null };

/**
 * The C functions the core needs, with addresses as plain numbers (0 is NULL) and strings already decoded. Each
 * runtime's FFI layer implements it; nothing here validates anything.
 */
export interface NativeHakmem {
  /** `hak_malloc`: the address, 0 or null for NULL (so that a runtime can pass its FFI function itself). */
  malloc(size: number): number | null;
  /**
   * `hak_malloc_i32` for a size from 0 to 2^31 - 1 (alloc's fast path): the address, 0 or null for NULL. Read at each
   * call, so that a runtime may replace it with its FFI function itself once the library is loaded.
   */
  mallocI32(size: number): number | null;
  calloc(count: number, size: number): number;
  realloc(ptr: number, size: number): number;
  /** `hak_free_checked`: HAK_OK, HAK_E_FOREIGN or HAK_E_DOUBLE_FREE. Read at each call, like mallocI32. */
  freeChecked(ptr: number): number;
  usableSize(ptr: number): number;
  owns(ptr: number): boolean;
  blockState(ptr: number): number;
  /** `hak_malloc_batch(size, count, out)`: how many were allocated into `out`. */
  mallocBatch(size: number, count: number, out: BigUint64Array): number;
  /** `hak_malloc_batch_i32` for a size below 2^31 (allocBatch's fast path). Read at each call, like mallocI32. */
  mallocBatchI32(size: number, count: number, out: BigUint64Array): number;
  /** `hak_free_batch(ptrs, count)`: frees the first `count` entries (zeros skipped). */
  freeBatch(ptrs: BigUint64Array, count: number): void;
  /**
   * `hak_free_batch_checked(ptrs, count, bad)` (count at most `MAX_BATCH`, so a runtime may call
   * `hak_free_batch_checked_i32`): all or nothing; HAK_OK, or HAK_E_FOREIGN / HAK_E_DOUBLE_FREE / HAK_E_NOMEM with
   * the index of the first bad entry in `bad[0]`. Read at each call, like mallocI32.
   */
  freeBatchChecked(ptrs: BigUint64Array, count: number, bad: BigUint64Array): number;
  trim(): number;
  /** `hak_stats` into a buffer of {@link STATS_BUFFER_WORDS} words. */
  stats(out: BigUint64Array): number;
  statsJson(): string;
  configSet(name: string, value: string): number;
  configGet(name: string): string | null;
  configDescribe(): string;
  configLocked(): boolean;
  strerror(code: number): string;
  version(): string;
  /** `hak_buffer_alloc(size, zeroed)`: the address of `size` lent bytes (csrc/buffer.c), 0 or null when out of memory. */
  bufferAlloc(size: number, zeroed: boolean): number | null;
  /**
   * `hak_buffer_alloc_i32(size, zeroed)` for a size from 1 to 2^31 - 1 and zeroed 1 or 0 (buffer's fast path). Read at
   * each call, like mallocI32.
   */
  bufferAllocI32(size: number, zeroed: number): number | null;
  /** `hak_buffer_size`: the size of the lent bytes at `address`, 0 when they are not (or no longer) lent. */
  bufferSize(address: number): number;
  /** `hak_buffer_free`: gives lent bytes back now. */
  bufferFree(address: number): void;
  /**
   * A Uint8Array over `size` lent bytes at `address` (from bufferAlloc of that same size: the Bun bindings hand the
   * size to the deallocator) whose ArrayBuffer gives them back when it is collected. May throw (the runtime's own
   * limits); the caller then frees them.
   */
  lendBuffer(address: number, size: number): Uint8Array<ArrayBuffer>;
  /** Detaches the ArrayBuffer of a lent buffer and gives its bytes (at `address`) back now. */
  unlendBuffer(buffer: ArrayBuffer, address: number): void;
  /** A Uint8Array over `length` bytes at `address` that owns nothing. */
  borrowView(address: number, length: number): Uint8Array<ArrayBuffer>;
  /** The address of an ArrayBuffer's first byte. */
  dataAddress(buffer: ArrayBuffer): number;
}

/** What the core needs from the runtime besides FFI. */
export interface Host {
  /** Reads a UTF-8 text file (errors propagate). */
  readTextFile(path: string): string;
  /** The process environment. */
  env(): Readonly<Record<string, string | undefined>>;
  /**
   * A BigUint64Array of `count` words whose contents need not be zero (allocBatch overwrites them all), where the
   * runtime has a cheaper way than `new BigUint64Array` (which zeroes); absent: `new BigUint64Array`.
   */
  unzeroedWords?(count: number): BigUint64Array;
}

/** A flag as `hak_config_describe()` reports it, with its TypeScript key (absent when TypeScript has none). */
export type FlagDescription = DescribedFlag & { key?: HakmemConfigKey };

/** Pointers as `freeBatch` accepts them. */
export type PointerList = BigUint64Array | readonly (Pointer | number | bigint)[];
