/**
 * hakmem for Bun: typed `bun:ffi` bindings to `build/libhakmem.so` (or the library `HAKMEM_LIB` names).
 *
 * Importing this module never throws and loads nothing: {@link FLAGS}, {@link parseSize}, {@link toEnv},
 * {@link fromEnv}, {@link loadConfig} and {@link ConfigSchema} work with no library. The first call that needs the
 * library opens it (src/library.ts says where it is looked for); a missing one throws a {@link HakmemError} with code
 * `LIBRARY_NOT_FOUND` that says what to run, a broken one `LIBRARY_LOAD_FAILED`. Every function validates its input
 * and throws a {@link HakmemError} with a stable `code` instead of touching the heap with something bad.
 *
 * @example
 * ```ts
 * import { alloc, free, usableSize, buffer, release, stats } from "hakmem";
 * const p = alloc(100);              // a bun:ffi Pointer
 * console.log(usableSize(p));        // 112
 * free(p);
 * const bytes = buffer(4096);        // zeroed, freed by the garbage collector...
 * release(bytes);                    // ...or now (`using bytes = buffer(4096)` at the end of the scope)
 * console.log(stats().bytes_in_use);
 * ```
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { FFIType, ptr, toArrayBuffer, toBuffer } from "bun:ffi";
import { openLibrary } from "./bun-library.ts";
import { createHakmem, type FlagDescription, type Hakmem, type NativeHakmem, type Pointer, type PointerList } from "./core.ts";
import type { HakmemConfig, HakmemOptions } from "./config.ts";
import { lazySymbols } from "./library.ts";
import type { HakmemStats } from "./stats.ts";
import type { Arena, ArenaOptions, HakmemBuffer } from "./buffers.ts";

// The same structural type as bun:ffi's Pointer (so either passes for the other); declared in src/core.ts so that
// the published declarations need no Bun types.
export type { Pointer } from "./core.ts";
export { HakmemError, HAKMEM_ERROR_CODES, MAX_BATCH, MAX_SIZE, type HakmemErrorCode } from "./errors.ts";
export {
  ConfigSchema,
  FLAGS,
  formatSize,
  parseSize,
  TABLE_SCHEMA,
  type BoolFlag,
  type DescribedFlag,
  type EnumFlag,
  type FlagDef,
  type FlagKind,
  type FlagSpec,
  type IntFlag,
  type PathFlag,
  type SizeFlag,
  type HakmemConfig,
  type HakmemConfigKey,
  type HakmemOptions,
  type SizeString,
  type SizeUnit,
} from "./config.ts";
export { STATS_FIELDS, type HakmemStats, type StatsField } from "./stats.ts";
export type { FlagDescription, PointerList } from "./core.ts";
export { pointerAt, pointers } from "./batch.ts";
export type { Arena, ArenaOptions, HakmemBuffer } from "./buffers.ts";

const SYMBOLS = {
  hak_malloc: { args: [FFIType.u64], returns: FFIType.ptr },
  hak_malloc_i32: { args: [FFIType.i32], returns: FFIType.ptr },
  hak_calloc: { args: [FFIType.u64, FFIType.u64], returns: FFIType.ptr },
  hak_realloc: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.ptr },
  hak_free_checked: { args: [FFIType.ptr], returns: FFIType.i32 },
  hak_usable_size: { args: [FFIType.ptr], returns: FFIType.u64_fast },
  hak_owns: { args: [FFIType.ptr], returns: FFIType.i32 },
  hak_block_state: { args: [FFIType.ptr], returns: FFIType.i32 },
  hak_malloc_batch: { args: [FFIType.u64, FFIType.u64, FFIType.ptr], returns: FFIType.u64_fast },
  hak_free_batch: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.void },
  hak_malloc_batch_i32: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  hak_free_batch_checked_i32: { args: [FFIType.ptr, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  hak_buffer_alloc: { args: [FFIType.u64, FFIType.i32], returns: FFIType.ptr },
  hak_buffer_alloc_i32: { args: [FFIType.i32, FFIType.i32], returns: FFIType.ptr },
  hak_buffer_size: { args: [FFIType.ptr], returns: FFIType.u64_fast },
  hak_buffer_free: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.void },
  hak_buffer_free_fn: { args: [], returns: FFIType.ptr },
  hak_trim: { args: [], returns: FFIType.u64_fast },
  hak_stats: { args: [FFIType.ptr], returns: FFIType.i32 },
  hak_stats_json: { args: [], returns: FFIType.cstring },
  hak_config_set: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  hak_config_get: { args: [FFIType.ptr], returns: FFIType.cstring },
  hak_config_describe: { args: [], returns: FFIType.cstring },
  hak_config_locked: { args: [], returns: FFIType.i32 },
  hak_strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  hak_version: { args: [], returns: FFIType.cstring },
} as const;

/** The C deallocator of a buffer()'s memory, run when it is collected or detached: `hak_buffer_free(bytes, ctx)`. */
let bufferFreeFn: Pointer;
let loadedPath: string | undefined;

// Opened by the first call that needs it; from then on `sym.hak_x` is the library's own function (see lazySymbols).
const sym = lazySymbols(Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[], () => {
  const { library, path } = openLibrary(SYMBOLS);
  bufferFreeFn = library.symbols.hak_buffer_free_fn() as Pointer;
  loadedPath = path;
  bindHot(library.symbols as unknown as Hot);
  return library.symbols;
});

/**
 * The path of the native library these bindings loaded: `HAKMEM_LIB`, else the package's prebuilt library for this
 * platform, else `build/libhakmem.so`. Loads it when no call has yet.
 *
 * @throws {@link HakmemError} `LIBRARY_NOT_FOUND` when there is none, `LIBRARY_LOAD_FAILED` when it cannot be opened
 */
export function libraryPath(): string {
  if (loadedPath === undefined) sym.hak_version();
  return loadedPath as string;
}

/** A NUL-terminated C string for a `char *` argument. */
function cstr(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

/** `toBuffer` / `toArrayBuffer` with the deallocator arguments bun:ffi accepts but its type declarations leave out. */
const toOwnedBuffer = toBuffer as unknown as (
  ptr: Pointer,
  byteOffset: number,
  byteLength: number,
  deallocatorContext: null,
  deallocator: Pointer,
) => Uint8Array<ArrayBuffer>;
const toView = toArrayBuffer as unknown as (ptr: Pointer, byteOffset: number, byteLength: number) => ArrayBuffer;

const asPtr = (address: number) => address as Pointer;
const asNumber = (value: number | bigint) => Number(value);
/** A returned pointer as an address number, 0 for NULL (bun:ffi types `ptr` results as possibly bigint). */
const addressOf = (value: Pointer | bigint | null) => (value === null ? 0 : Number(value));

// `ptr` arguments take plain numbers and a `ptr` result is a number or null (bun:ffi's fastest conversions; see
// bench/api.bench.ts for the signatures measured). The hot functions read `sym.hak_x` at each call: until the first
// call it is lazySymbols' loading stub, then the bound FFI function itself.
type Symbols = typeof sym;
type Hot = Omit<Symbols, "hak_malloc" | "hak_malloc_i32" | "hak_free_checked" | "hak_buffer_alloc" | "hak_buffer_alloc_i32"> & {
  hak_malloc: (size: number) => number | null;
  hak_malloc_i32: (size: number) => number | null;
  hak_free_checked: (ptr: number) => number;
  hak_buffer_alloc: (size: number, zeroed: number) => number | null;
  hak_buffer_alloc_i32: (size: number, zeroed: number) => number | null;
};
const hot = sym as unknown as Hot;

/**
 * The hot calls go straight to the bound FFI functions once the library is loaded: the core reads these `native`
 * properties at each call, and a wrapper around them measured about 2 ns per alloc+free pair.
 */
function bindHot(symbols: Hot): void {
  native.mallocI32 = symbols.hak_malloc_i32;
  native.freeChecked = symbols.hak_free_checked;
  native.bufferAllocI32 = symbols.hak_buffer_alloc_i32;
  native.mallocBatchI32 = symbols.hak_malloc_batch_i32;
  native.freeBatchChecked = symbols.hak_free_batch_checked_i32;
}

const native: NativeHakmem = {
  malloc: (size) => hot.hak_malloc(size),
  mallocI32: (size) => hot.hak_malloc_i32(size),
  calloc: (count, size) => addressOf(sym.hak_calloc(count, size)),
  realloc: (ptr, size) => addressOf(sym.hak_realloc(asPtr(ptr), size)),
  freeChecked: (ptr) => hot.hak_free_checked(ptr),
  usableSize: (ptr) => asNumber(sym.hak_usable_size(asPtr(ptr))),
  owns: (ptr) => sym.hak_owns(asPtr(ptr)) === 1,
  blockState: (ptr) => sym.hak_block_state(asPtr(ptr)),
  mallocBatch: (size, count, out) => asNumber(sym.hak_malloc_batch(size, count, out)),
  mallocBatchI32: (size, count, out) => sym.hak_malloc_batch_i32(size, count, out),
  freeBatch: (ptrs, count) => sym.hak_free_batch(ptrs, count),
  freeBatchChecked: (ptrs, count, bad) => sym.hak_free_batch_checked_i32(ptrs, count, bad),
  trim: () => asNumber(sym.hak_trim()),
  stats: (out) => sym.hak_stats(out),
  statsJson: () => String(sym.hak_stats_json()),
  configSet: (name, value) => sym.hak_config_set(cstr(name), cstr(value)),
  configGet: (name) => {
    const text = sym.hak_config_get(cstr(name));
    return text === null ? null : String(text);
  },
  configDescribe: () => String(sym.hak_config_describe()),
  configLocked: () => sym.hak_config_locked() !== 0,
  strerror: (code) => String(sym.hak_strerror(code)),
  version: () => String(sym.hak_version()),
  bufferAlloc: (size, zeroed) => hot.hak_buffer_alloc(size, zeroed ? 1 : 0),
  bufferAllocI32: (size, zeroed) => hot.hak_buffer_alloc_i32(size, zeroed),
  bufferSize: (address) => asNumber(sym.hak_buffer_size(asPtr(address))),
  bufferFree: (address) => sym.hak_buffer_free(asPtr(address), null),
  // toBuffer makes the Uint8Array directly (no separate ArrayBuffer object until .buffer is read): the cheapest
  // way bun:ffi has to lend memory with a native deallocator.
  lendBuffer: (address, size) => toOwnedBuffer(address as Pointer, 0, size, null, bufferFreeFn),
  // Bun 1.4: transfer(0) of an ArrayBuffer with a native deallocator detaches it and runs the deallocator now.
  unlendBuffer: (buffer) => void buffer.transfer(0),
  borrowView: (address, length) => new Uint8Array(toView(asPtr(address), 0, length)),
  dataAddress: (data) => ptr(data),
};

const api: Hakmem = createHakmem(native, {
  readTextFile: (path) => readFileSync(path, "utf8"),
  env: () => process.env,
  // Bun's Buffer.allocUnsafe does not zero; from 1024 words it is its own allocation at offset 0.
  unzeroedWords: (count) => {
    const bytes = Buffer.allocUnsafe(count * 8);
    return bytes.byteOffset % 8 === 0 ? new BigUint64Array(bytes.buffer, bytes.byteOffset, count) : new BigUint64Array(count);
  },
});

/**
 * Allocates `size` bytes from hakmem. The memory is not initialised; the pointer is 16-byte aligned.
 *
 * @param size - bytes, an integer from 0 to {@link MAX_SIZE} (0 gives a minimum-size block)
 * @returns the block's address, for `bun:ffi` functions (`toArrayBuffer`, `read`, other libraries' `ptr` args)
 * @throws {@link HakmemError} `BAD_SIZE` for a negative, fractional, NaN, infinite or too large size;
 *   `OUT_OF_MEMORY` when the OS refuses the memory
 */
export const alloc: (size: number) => Pointer = api.alloc;

/**
 * Frees a block from {@link alloc}, {@link calloc}, {@link realloc} or {@link allocBatch}, through
 * `hak_free_checked`: the block is validated first and nothing changes when the pointer is bad. Any thread (Worker)
 * may free any block.
 *
 * @param ptr - the start of a live hakmem block
 * @throws {@link HakmemError} `FOREIGN_POINTER` for null, a value that is not an address, an address hakmem does
 *   not own, or a pointer into the middle of a block; `DOUBLE_FREE` for a block hakmem can tell is already free
 */
export const free: (ptr: Pointer) => void = api.free;

/**
 * Allocates `count * size` bytes set to zero.
 *
 * @param count - number of elements, an integer from 0 to {@link MAX_SIZE}
 * @param size - bytes per element, an integer from 0 to {@link MAX_SIZE}
 * @returns the block's address
 * @throws {@link HakmemError} `BAD_SIZE` for a bad count or size or a product over {@link MAX_SIZE};
 *   `OUT_OF_MEMORY` when the OS refuses the memory
 */
export const calloc: (count: number, size: number) => Pointer = api.calloc;

/**
 * Resizes a block, moving it when needed; the contents up to the smaller of the old and new sizes are kept. When
 * it throws, the old block is unchanged and still owned by the caller.
 *
 * @param ptr - a live hakmem block, or `null` to allocate a new one
 * @param size - the new size in bytes, an integer from 0 to {@link MAX_SIZE}; 0 keeps a minimum-size block (unlike
 *   C's `realloc(p, 0)`, it never frees: use {@link free})
 * @returns the block's new address (possibly the same)
 * @throws {@link HakmemError} `BAD_SIZE`; `FOREIGN_POINTER` for an address that is not the start of a live block;
 *   `DOUBLE_FREE` for a block that is already free; `OUT_OF_MEMORY`
 */
export const realloc: (ptr: Pointer | null, size: number) => Pointer = api.realloc;

/**
 * Bytes usable at a live block: at least the size asked for (its size class, or the large mapping's usable span).
 *
 * @param ptr - the start of a live hakmem block
 * @returns the usable size in bytes
 * @throws {@link HakmemError} `FOREIGN_POINTER` for null, a value that is not an address, a foreign or interior
 *   address, or a block that is free
 */
export const usableSize: (ptr: Pointer) => number = api.usableSize;

/**
 * Whether `ptr` is the start of a live hakmem block. Safe on any value (null, foreign, interior or freed
 * addresses, non-numbers): it never throws. Exact for blocks of the calling thread; for another thread's blocks a
 * concurrent free may race.
 *
 * @param ptr - any value
 * @returns true for the start of a live hakmem block
 */
export const owns: (ptr: unknown) => boolean = api.owns;

/**
 * Allocates `count` blocks of `size` bytes in one FFI call (`hak_malloc_batch`).
 *
 * Batches are BigUint64Arrays: one 64-bit word per pointer, exactly the `void *[]` the C side reads and writes, so
 * a whole batch crosses the FFI boundary as one pointer with no conversion. Read an entry as a pointer with
 * `Number(batch[i])`.
 *
 * @param size - bytes per block, an integer from 0 to {@link MAX_SIZE}
 * @param count - number of blocks, an integer from 0 to {@link MAX_BATCH}
 * @param out - a BigUint64Array of exactly `count` entries to fill and return, so that a loop reuses one array
 *   instead of making a new one per call (default: a new array)
 * @returns the `count` addresses
 * @throws {@link HakmemError} `BAD_SIZE` (also for an `out` of another length); `OUT_OF_MEMORY` when not all could
 *   be allocated (those that were are given back first, so nothing leaks)
 */
export const allocBatch: (size: number, count: number, out?: BigUint64Array) => BigUint64Array = api.allocBatch;

/**
 * Frees many blocks in one FFI crossing (`hak_free_batch_checked`). Zero entries are skipped, as in C.
 *
 * All or nothing: the C side checks that every entry is the start of a live block and that none appears twice
 * before it frees anything, so a bad entry frees nothing.
 *
 * @param ptrs - a BigUint64Array (as {@link allocBatch} returns; not modified) or an array of pointers
 * @throws {@link HakmemError} `FOREIGN_POINTER` for an entry that is not the start of a live hakmem block;
 *   `DOUBLE_FREE` for a block that is already free or an address that appears twice
 */
export const freeBatch: (ptrs: PointerList) => void = api.freeBatch;

/**
 * A zeroed Uint8Array of `size` bytes over hakmem memory (in Bun a `Buffer`, the Uint8Array subclass bun:ffi makes).
 * The garbage collector owns it: when its ArrayBuffer is collected, JavaScriptCore calls the C function
 * `hak_buffer_free` (a native deallocator; no JavaScript runs), which frees the block. {@link release} (or `using`,
 * through its `[Symbol.dispose]`) gives it back at once and detaches it (length 0), so that nothing can read the freed
 * memory. `free(ptr(buffer))` is refused (`FOREIGN_POINTER`): the block starts 16 bytes before the buffer.
 *
 * A 1 MiB buffer (a large block) made again after one was released reuses the cached mapping with its pages still
 * present: it is zeroed with no page faults. A fresh mapping is not written at all (the OS gave it zeroed).
 *
 * @param size - bytes, an integer from 0 to {@link MAX_SIZE}; 0 gives an empty Uint8Array that holds no hakmem memory
 * @returns the view over the whole buffer (`byteOffset` 0, `length` = `size`), disposable
 * @throws {@link HakmemError} `BAD_SIZE` (also when the runtime cannot make an ArrayBuffer that large);
 *   `OUT_OF_MEMORY`
 * @example
 * ```ts
 * {
 *   using scratch = buffer(1 << 20);
 *   fill(scratch);
 * } // the block is back in hakmem here, and scratch.length is 0
 * ```
 */
export const buffer: (size: number) => HakmemBuffer = api.buffer;

/**
 * {@link buffer} without the zeroing: the bytes are whatever the memory held before (as `Buffer.allocUnsafe`).
 *
 * @param size - bytes, an integer from 0 to {@link MAX_SIZE}
 * @returns the view over the whole buffer, disposable
 * @throws {@link HakmemError} `BAD_SIZE`; `OUT_OF_MEMORY`
 */
export const bufferUnsafe: (size: number) => HakmemBuffer = api.bufferUnsafe;

/**
 * Gives a buffer from {@link buffer} or {@link bufferUnsafe} back to hakmem now and detaches its ArrayBuffer: every
 * view of it reads length 0 afterwards. `buffer[Symbol.dispose]` (what `using` calls) does the same, and does
 * nothing for a buffer already released or transferred.
 *
 * @param buffer - the buffer (any view covering all of it) or its ArrayBuffer
 * @throws {@link HakmemError} `DOUBLE_FREE` for a buffer already released; `FOREIGN_POINTER` for a view of part
 *   of a buffer (a subarray), an arena's buffer, a buffer transferred away (`postMessage`: the receiver owns it
 *   and may release it there), or memory not from `buffer()`. Nothing is freed or detached when it throws.
 */
export const release: (buffer: ArrayBuffer | ArrayBufferView) => void = api.release;

/**
 * A Uint8Array over the first `length` bytes of a live block from {@link alloc} (or calloc, realloc, allocBatch),
 * owning nothing: the block stays the caller's to free, and the view must not be used after that.
 *
 * @param ptr - the start of a live hakmem block
 * @param length - bytes, at most the block's usable size
 * @throws {@link HakmemError} `FOREIGN_POINTER` for an address that is not a live block's start; `BAD_SIZE` for a
 *   length past the block's end
 */
export const view: (ptr: Pointer, length: number) => Uint8Array<ArrayBuffer> = api.view;

/**
 * An arena: blocks ({@link Arena.alloc}) and buffers ({@link Arena.buffer}) carved from hakmem chunks in
 * JavaScript, with no call into C per block, all freed by one `dispose()` or at the end of a `using` scope. Its
 * buffers are detached then. A dropped arena's chunks are freed by the collector.
 *
 * @param options - `chunkSize`: bytes per chunk (default 65520, a 64 KiB block)
 * @throws {@link HakmemError} `BAD_SIZE` for a bad chunk size
 * @example
 * ```ts
 * using scratch = arena();
 * for (const line of lines) parse(line, scratch.buffer(line.length));
 * // every buffer is freed here
 * ```
 */
export const arena: (options?: ArenaOptions) => Arena = api.arena;

/**
 * A snapshot of the allocator's counters, read from `struct hak_stats` through `hak_stats()` in one call (no
 * JSON). Keys are the C field names.
 *
 * @returns the counters, summed over all threads (a library newer than these bindings may add fields at run time)
 * @throws {@link HakmemError} `ABI_MISMATCH` when the struct's size does not match the fields `hak_stats_json()`
 *   names
 */
export const stats: () => HakmemStats = api.stats;

/**
 * Applies configuration through `hak_config_set`. Configuration is process-wide and is frozen by the first
 * allocation (by anyone in the process, this module included once you allocate), so call this first; a child
 * process can be configured with {@link toEnv} instead. All values are validated before any is applied; an empty
 * object is a no-op, locked or not.
 *
 * @param options - camelCase keys (see {@link FLAGS}); sizes as bytes or strings like `"1M"`
 * @throws {@link HakmemError} `BAD_CONFIG` for an unknown key, a wrong type or a value out of range (the message
 *   names the key and what it allows); `CONFIG_LOCKED` after the first allocation
 */
export const configure: (options: HakmemOptions) => void = api.configure;

/**
 * The effective configuration (`hak_config_get` for every flag): the environment's values, then `configure()`'s.
 * Sizes are numbers of bytes. Flags the loaded library does not have are left out.
 *
 * @returns every flag's value
 */
export const config: () => HakmemConfig = api.config;

/**
 * Whether the configuration is frozen (`hak_config_locked()`): true once the first allocation happened.
 *
 * @returns true when {@link configure} would throw `CONFIG_LOCKED`
 */
export const configLocked: () => boolean = api.configLocked;

/**
 * The loaded library's flag table (`hak_config_describe()`): name, type, default, range, allowed values,
 * description and effective value of each flag, with its camelCase key.
 *
 * @returns one entry per flag, in the C table's order
 */
export const describeFlags: () => FlagDescription[] = api.describeFlags;

/**
 * The environment variables that give a child process this configuration, e.g.
 * `Bun.spawn(cmd, { env: { ...process.env, ...toEnv({ superslabSize: "2M" }) } })`. Keys left out of `options` are
 * left out (the child uses its defaults or its own environment).
 *
 * @param options - camelCase keys, validated as {@link configure} does
 * @returns `HAKMEM_*` name → value as the C side parses it (`"1"`/`"0"`, `"2M"`, `"populate"`)
 * @throws {@link HakmemError} `BAD_CONFIG`
 */
export const toEnv: (options: HakmemOptions) => Record<string, string> = api.toEnv;

/**
 * Reads the `HAKMEM_*` flags of an environment, validated as the C side would parse them (booleans 1/0,
 * true/false, on/off, yes/no; sizes with K/M/G). Other variables, and `HAKMEM_LIB`, are ignored.
 *
 * @param env - defaults to `process.env`
 * @returns the flags it sets, normalized (sizes in bytes)
 * @throws {@link HakmemError} `BAD_CONFIG` for a bad value or an unknown `HAKMEM_*` variable
 */
export const fromEnv: (env?: Readonly<Record<string, string | undefined>>) => Partial<HakmemConfig> = api.fromEnv;

/**
 * Loads a JSON configuration file: one object whose keys are either all camelCase, e.g.
 * `{"superslabSize": "2M", "lruTtlSec": 5}`, or all `HAKMEM_*` flag names, e.g. `{"HAKMEM_SS_SIZE": "2M"}` (the
 * `HAKMEM_CONFIG` format that `bun run tune` writes and the preload library reads). It is validated, not applied:
 * pass the result to {@link configure} or {@link toEnv}.
 *
 * @param path - the file
 * @returns the configuration it holds, normalized
 * @throws {@link HakmemError} `BAD_CONFIG` for malformed JSON, unknown keys or bad values; file system errors as
 *   `node:fs` throws them
 */
export const loadConfig: (path: string) => Partial<HakmemConfig> = api.loadConfig;

/**
 * Returns cached memory to the OS: the calling thread's empty slabs, the LRU cache of empty SuperSlabs and unused
 * large mappings.
 *
 * @returns bytes released
 */
export const trim: () => number = api.trim;

/**
 * The loaded library's version.
 *
 * @returns `"MAJOR.MINOR.PATCH"`
 */
export const version: () => string = api.version;
