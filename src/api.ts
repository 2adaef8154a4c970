/**
 * The public API of hakmem, written once for both entry points: src/index.ts (Bun, `bun:ffi`) and src/deno.ts (Deno,
 * `Deno.dlopen`) each build a {@link Hakmem} over their own FFI with `createHakmem` (src/core.ts), hand it to
 * {@link install} and re-export this module (`export *`). Each function is documented here; src/deno.ts lists what
 * differs under Deno.
 *
 * @module
 */
import type { Arena, ArenaOptions, HakmemBuffer } from "./buffers.ts";
import type { HakmemConfig, HakmemOptions } from "./config.ts";
import type { Hakmem } from "./core.ts";
import type { HakmemStats } from "./stats.ts";
import type { FlagDescription, Pointer, PointerList } from "./types.ts";

// Pointer is the same structural type as bun:ffi's (so either passes for the other), declared in src/types.ts so
// that the published declarations need no Bun types.
export type { FlagDescription, Pointer, PointerList } from "./types.ts";
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
export { pointerAt, pointers } from "./batch.ts";
export type { Arena, ArenaOptions, HakmemBuffer } from "./buffers.ts";

/**
 * Binds the exports below to one runtime's functions; the entry point calls it once, before anything imports the
 * entry. It is the default export so that the entry's `export * from "./api.ts"` (which leaves default exports
 * out) does not publish it. The exports are `let` only so that this can assign them: they are set once, here.
 */
export default function install(api: Hakmem): void {
  alloc = api.alloc;
  free = api.free;
  calloc = api.calloc;
  realloc = api.realloc;
  usableSize = api.usableSize;
  owns = api.owns;
  allocBatch = api.allocBatch;
  freeBatch = api.freeBatch;
  buffer = api.buffer;
  bufferUnsafe = api.bufferUnsafe;
  release = api.release;
  view = api.view;
  arena = api.arena;
  stats = api.stats;
  configure = api.configure;
  config = api.config;
  configLocked = api.configLocked;
  describeFlags = api.describeFlags;
  toEnv = api.toEnv;
  fromEnv = api.fromEnv;
  loadConfig = api.loadConfig;
  trim = api.trim;
  version = api.version;
}

/**
 * Allocates `size` bytes from hakmem. The memory is not initialised; the pointer is 16-byte aligned.
 *
 * @param size - bytes, an integer from 0 to {@link MAX_SIZE} (0 gives a minimum-size block)
 * @returns the block's address, for `bun:ffi` functions (`toArrayBuffer`, `read`, other libraries' `ptr` args)
 * @throws {@link HakmemError} `BAD_SIZE` for a negative, fractional, NaN, infinite or too large size;
 *   `OUT_OF_MEMORY` when the OS refuses the memory
 */
export let alloc: (size: number) => Pointer;

/**
 * Frees a block from {@link alloc}, {@link calloc}, {@link realloc} or {@link allocBatch}, through
 * `hak_free_checked`: the block is validated first and nothing changes when the pointer is bad. Any thread (Worker)
 * may free any block.
 *
 * @param ptr - the start of a live hakmem block
 * @throws {@link HakmemError} `FOREIGN_POINTER` for null, a value that is not an address, an address hakmem does
 *   not own, or a pointer into the middle of a block; `DOUBLE_FREE` for a block hakmem can tell is already free
 */
export let free: (ptr: Pointer) => void;

/**
 * Allocates `count * size` bytes set to zero.
 *
 * @param count - number of elements, an integer from 0 to {@link MAX_SIZE}
 * @param size - bytes per element, an integer from 0 to {@link MAX_SIZE}
 * @returns the block's address
 * @throws {@link HakmemError} `BAD_SIZE` for a bad count or size or a product over {@link MAX_SIZE};
 *   `OUT_OF_MEMORY` when the OS refuses the memory
 */
export let calloc: (count: number, size: number) => Pointer;

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
export let realloc: (ptr: Pointer | null, size: number) => Pointer;

/**
 * Bytes usable at a live block: at least the size asked for (its size class, or the large mapping's usable span).
 *
 * @param ptr - the start of a live hakmem block
 * @returns the usable size in bytes
 * @throws {@link HakmemError} `FOREIGN_POINTER` for null, a value that is not an address, a foreign or interior
 *   address, or a block that is free
 */
export let usableSize: (ptr: Pointer) => number;

/**
 * Whether `ptr` is the start of a live hakmem block. Safe on any value (null, foreign, interior or freed
 * addresses, non-numbers): it never throws. Exact for blocks of the calling thread; for another thread's blocks a
 * concurrent free may race.
 *
 * @param ptr - any value
 * @returns true for the start of a live hakmem block
 */
export let owns: (ptr: unknown) => boolean;

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
export let allocBatch: (size: number, count: number, out?: BigUint64Array) => BigUint64Array;

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
export let freeBatch: (ptrs: PointerList) => void;

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
export let buffer: (size: number) => HakmemBuffer;

/**
 * {@link buffer} without the zeroing: the bytes are whatever the memory held before (as `Buffer.allocUnsafe`).
 *
 * @param size - bytes, an integer from 0 to {@link MAX_SIZE}
 * @returns the view over the whole buffer, disposable
 * @throws {@link HakmemError} `BAD_SIZE`; `OUT_OF_MEMORY`
 */
export let bufferUnsafe: (size: number) => HakmemBuffer;

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
export let release: (buffer: ArrayBuffer | ArrayBufferView) => void;

/**
 * A Uint8Array over the first `length` bytes of a live block from {@link alloc} (or calloc, realloc, allocBatch),
 * owning nothing: the block stays the caller's to free, and the view must not be used after that.
 *
 * @param ptr - the start of a live hakmem block
 * @param length - bytes, at most the block's usable size
 * @throws {@link HakmemError} `FOREIGN_POINTER` for an address that is not a live block's start; `BAD_SIZE` for a
 *   length past the block's end
 */
export let view: (ptr: Pointer, length: number) => Uint8Array<ArrayBuffer>;

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
export let arena: (options?: ArenaOptions) => Arena;

/**
 * A snapshot of the allocator's counters, read from `struct hak_stats` through `hak_stats()` in one call (no
 * JSON). Keys are the C field names.
 *
 * @returns the counters, summed over all threads (a library newer than these bindings may add fields at run time)
 * @throws {@link HakmemError} `ABI_MISMATCH` when the struct's size does not match the fields `hak_stats_json()`
 *   names
 */
export let stats: () => HakmemStats;

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
export let configure: (options: HakmemOptions) => void;

/**
 * The effective configuration (`hak_config_get` for every flag): the environment's values, then `configure()`'s.
 * Sizes are numbers of bytes. Flags the loaded library does not have are left out.
 *
 * @returns every flag's value
 */
export let config: () => HakmemConfig;

/**
 * Whether the configuration is frozen (`hak_config_locked()`): true once the first allocation happened.
 *
 * @returns true when {@link configure} would throw `CONFIG_LOCKED`
 */
export let configLocked: () => boolean;

/**
 * The loaded library's flag table (`hak_config_describe()`): name, type, default, range, allowed values,
 * description and effective value of each flag, with its camelCase key.
 *
 * @returns one entry per flag, in the C table's order
 */
export let describeFlags: () => FlagDescription[];

/**
 * The environment variables that give a child process this configuration, e.g.
 * `Bun.spawn(cmd, { env: { ...process.env, ...toEnv({ superslabSize: "2M" }) } })`. Keys left out of `options` are
 * left out (the child uses its defaults or its own environment).
 *
 * @param options - camelCase keys, validated as {@link configure} does
 * @returns `HAKMEM_*` name → value as the C side parses it (`"1"`/`"0"`, `"2M"`, `"populate"`)
 * @throws {@link HakmemError} `BAD_CONFIG`
 */
export let toEnv: (options: HakmemOptions) => Record<string, string>;

/**
 * Reads the `HAKMEM_*` flags of an environment, validated as the C side would parse them (booleans 1/0,
 * true/false, on/off, yes/no; sizes with K/M/G). Other variables, and `HAKMEM_LIB`, are ignored.
 *
 * @param env - defaults to `process.env`
 * @returns the flags it sets, normalized (sizes in bytes)
 * @throws {@link HakmemError} `BAD_CONFIG` for a bad value or an unknown `HAKMEM_*` variable
 */
export let fromEnv: (env?: Readonly<Record<string, string | undefined>>) => Partial<HakmemConfig>;

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
export let loadConfig: (path: string) => Partial<HakmemConfig>;

/**
 * Returns cached memory to the OS: the calling thread's empty slabs, the LRU cache of empty SuperSlabs and unused
 * large mappings.
 *
 * @returns bytes released
 */
export let trim: () => number;

/**
 * The loaded library's version.
 *
 * @returns `"MAJOR.MINOR.PATCH"`
 */
export let version: () => string;
