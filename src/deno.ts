/**
 * hakmem for Deno: the same API as the Bun entry point (one export list, src/api.ts, which documents every function),
 * through `Deno.dlopen`. Importing never throws and loads nothing; the first call that needs the library opens it
 * (src/library.ts says where it is looked for). Permissions: `--allow-ffi` (to open the library) and
 * `--allow-env=HAKMEM_LIB` (to read the override, on that first call); `fromEnv()` with no argument also reads
 * every `HAKMEM_*` variable (`--allow-env`), and `loadConfig(path)` reads the file (`--allow-read`). Published as
 * compiled JavaScript (dist/deno.js), since Deno does not load TypeScript from `node_modules`.
 *
 * Differences from Bun:
 * - Pointers are plain address numbers (the same branded {@link Pointer} type as in Bun), not `Deno.PointerObject`s.
 *   Turn one into a Deno pointer with `Deno.UnsafePointer.create(BigInt(p))` when another FFI library needs it.
 * - {@link buffer}: Deno's FFI cannot attach a native deallocator to an ArrayBuffer. The buffer is made with
 *   `Deno.UnsafePointerView.getArrayBuffer` and a `FinalizationRegistry` on the ArrayBuffer calls `hak_buffer_free`
 *   once it is collected. That callback is JavaScript and runs on this thread some time after collection (never, if
 *   the process exits first), so memory comes back later than in Bun; {@link release} (or `using`) detaches the
 *   buffer and frees it at once. A buffer handed to another thread with `postMessage` transfer is not supported.
 *
 * @module
 */
import install from "./api.ts";
import { createHakmem, type Hakmem } from "./core.ts";
import {
  lazySymbols,
  type LibraryCandidate,
  libraryCandidates,
  libraryLoadFailed,
  libraryNotFound,
  platformKey,
  prebuiltFile,
  PREBUILT_PLATFORMS,
} from "./library.ts";
import type { NativeHakmem } from "./types.ts";

// Addresses cross as usize (bigint both ways) so that no Deno.PointerObject is made per call.
const SYMBOLS = {
  hak_malloc: { parameters: ["usize"], result: "usize" },
  hak_malloc_i32: { parameters: ["i32"], result: "usize" },
  hak_calloc: { parameters: ["usize", "usize"], result: "usize" },
  hak_realloc: { parameters: ["usize", "usize"], result: "usize" },
  hak_free_checked: { parameters: ["usize"], result: "i32" },
  hak_usable_size: { parameters: ["usize"], result: "usize" },
  hak_owns: { parameters: ["usize"], result: "i32" },
  hak_block_state: { parameters: ["usize"], result: "i32" },
  hak_malloc_batch: { parameters: ["usize", "usize", "buffer"], result: "usize" },
  hak_free_batch: { parameters: ["buffer", "usize"], result: "void" },
  hak_malloc_batch_i32: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  hak_free_batch_checked_i32: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  hak_buffer_alloc: { parameters: ["usize", "i32"], result: "usize" },
  hak_buffer_alloc_i32: { parameters: ["i32", "i32"], result: "usize" },
  hak_buffer_size: { parameters: ["usize"], result: "usize" },
  hak_buffer_free: { parameters: ["usize", "usize"], result: "void" },
  hak_trim: { parameters: [], result: "usize" },
  hak_stats: { parameters: ["buffer"], result: "i32" },
  hak_stats_json: { parameters: [], result: "pointer" },
  hak_config_set: { parameters: ["buffer", "buffer"], result: "i32" },
  hak_config_get: { parameters: ["buffer"], result: "pointer" },
  hak_config_describe: { parameters: [], result: "pointer" },
  hak_config_locked: { parameters: [], result: "i32" },
  hak_strerror: { parameters: ["i32"], result: "pointer" },
  hak_version: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const PLATFORM = platformKey(Deno.build.os, Deno.build.arch);

function candidates(): LibraryCandidate[] {
  const prebuilt = PREBUILT_PLATFORMS.includes(PLATFORM) ? prebuiltFile(PLATFORM, "libhakmem.so") : undefined;
  return libraryCandidates(Deno.env.get("HAKMEM_LIB"), prebuilt);
}

/** dlopen's message for a file that is not there (glibc: "cannot open shared object file: No such file ..."). */
function isMissingFile(error: unknown): boolean {
  return error instanceof Error && /No such file or directory/.test(error.message);
}

let loadedPath: string | undefined;

/**
 * Opens the first candidate that exists. Existence is learned from `dlopen` itself, so that no `--allow-read` is
 * needed.
 */
function open(): Deno.DynamicLibrary<typeof SYMBOLS> {
  const list = candidates();
  for (const candidate of list) {
    try {
      const lib = Deno.dlopen(candidate.path, SYMBOLS);
      loadedPath = candidate.path;
      return lib;
    } catch (cause) {
      // A missing permission is Deno's own error ("run again with the --allow-ffi flag"), as for HAKMEM_LIB.
      if (cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied) throw cause;
      if (!isMissingFile(cause)) throw libraryLoadFailed(candidate, cause);
    }
  }
  throw libraryNotFound(list, PLATFORM);
}

/**
 * The path of the native library these bindings loaded: `HAKMEM_LIB`, else the package's prebuilt library for this
 * platform, else `build/libhakmem.so`. Loads it when no call has yet.
 *
 * @throws {@link HakmemError} `LIBRARY_NOT_FOUND` when there is none
 */
export function libraryPath(): string {
  if (loadedPath === undefined) sym.hak_version();
  return loadedPath as string;
}

// Opened by the first call that needs it; from then on `sym.hak_x` is the library's own function (see lazySymbols).
const sym = lazySymbols(Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[], () => open().symbols);
const encoder = new TextEncoder();

function cstr(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${text}\0`);
}

function string(ptr: Deno.PointerValue): string | null {
  return ptr === null ? null : Deno.UnsafePointerView.getCString(ptr);
}

/**
 * Gives buffer() blocks back once their ArrayBuffer is collected. release() unregisters first (the ArrayBuffer is
 * its own unregister token), so a block is never given back twice.
 */
const bufferRegistry = new FinalizationRegistry<number>((address) => {
  sym.hak_buffer_free(BigInt(address), 0n);
});

/** A Deno pointer for a non-zero address. */
function pointerTo(address: number): Deno.PointerObject {
  const pointer = Deno.UnsafePointer.create(BigInt(address));
  if (pointer === null) throw new Error("null pointer");
  return pointer;
}

const big = BigInt;

const native: NativeHakmem = {
  malloc: (size) => Number(sym.hak_malloc(big(size))),
  mallocI32: (size) => Number(sym.hak_malloc_i32(size)),
  calloc: (count, size) => Number(sym.hak_calloc(big(count), big(size))),
  realloc: (ptr, size) => Number(sym.hak_realloc(big(ptr), big(size))),
  freeChecked: (ptr) => sym.hak_free_checked(big(ptr)),
  usableSize: (ptr) => Number(sym.hak_usable_size(big(ptr))),
  owns: (ptr) => sym.hak_owns(big(ptr)) === 1,
  blockState: (ptr) => sym.hak_block_state(big(ptr)),
  mallocBatch: (size, count, out) => Number(sym.hak_malloc_batch(big(size), big(count), out)),
  freeBatch: (ptrs, count) => sym.hak_free_batch(ptrs, big(count)),
  mallocBatchI32: (size, count, out) => sym.hak_malloc_batch_i32(size, count, out),
  freeBatchChecked: (ptrs, count, bad) => sym.hak_free_batch_checked_i32(ptrs, count, bad),
  trim: () => Number(sym.hak_trim()),
  stats: (out) => sym.hak_stats(out),
  statsJson: () => string(sym.hak_stats_json()) ?? "{}",
  configSet: (name, value) => sym.hak_config_set(cstr(name), cstr(value)),
  configGet: (name) => string(sym.hak_config_get(cstr(name))),
  configDescribe: () => string(sym.hak_config_describe()) ?? "[]",
  configLocked: () => sym.hak_config_locked() !== 0,
  strerror: (code) => string(sym.hak_strerror(code)) ?? `error ${code}`,
  version: () => string(sym.hak_version()) ?? "",
  bufferAlloc: (size, zeroed) => Number(sym.hak_buffer_alloc(big(size), zeroed ? 1 : 0)),
  bufferAllocI32: (size, zeroed) => Number(sym.hak_buffer_alloc_i32(size, zeroed)),
  bufferSize: (address) => Number(sym.hak_buffer_size(big(address))),
  bufferFree: (address) => sym.hak_buffer_free(big(address), 0n),
  lendBuffer: (address, size) => {
    const ab = Deno.UnsafePointerView.getArrayBuffer(pointerTo(address), size);
    bufferRegistry.register(ab, address, ab);
    return new Uint8Array(ab);
  },
  // Detach first (every view reads length 0), then free: no JavaScript can reach the block once it is back.
  unlendBuffer: (buffer, address) => {
    bufferRegistry.unregister(buffer);
    buffer.transfer(0);
    sym.hak_buffer_free(big(address), 0n);
  },
  borrowView: (address, length) => new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointerTo(address), length)),
  dataAddress: (buffer) => Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer))),
};

const api: Hakmem = createHakmem(native, {
  readTextFile: (path) => Deno.readTextFileSync(path),
  env: () => Deno.env.toObject(),
});

install(api);

export * from "./api.ts";
