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
import install from "./api.ts";
import { createHakmem, type Hakmem } from "./core.ts";
import { lazySymbols } from "./library.ts";
import type { NativeHakmem, Pointer } from "./types.ts";

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
  deallocatorContext: number | null,
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
  // The context is the size, which hak_buffer_free reads to skip a lookup for guarded buffers (hakmem.h).
  lendBuffer: (address, size) => toOwnedBuffer(address as Pointer, 0, size, size, bufferFreeFn),
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

install(api);

export * from "./api.ts";
