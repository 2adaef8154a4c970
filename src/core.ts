/**
 * The runtime-agnostic core of the hakmem bindings: validation, error mapping, batches, statistics and
 * configuration, on top of a small {@link NativeHakmem} interface that each runtime implements with its own FFI
 * (`src/index.ts` with `bun:ffi`, `src/deno.ts` with `Deno.dlopen`).
 *
 * @module
 */
import {
  ConfigSchema,
  type HakmemConfig,
  type HakmemOptions,
  matchDescribe,
  parseDescribe,
  TABLE_SCHEMA,
} from "./config.ts";
import { type Arena, type ArenaOptions, createBuffers, type HakmemBuffer } from "./buffers.ts";
import {
  addressOf,
  checkSize,
  describeValue,
  fail,
  HAK_BLOCK_FREE,
  HAK_BLOCK_LIVE,
  HAK_E_DOUBLE_FREE,
  HAK_E_FOREIGN,
  HAK_E_LOCKED,
  HAK_E_NOMEM,
  HAK_OK,
  hex,
  isSize,
  notLive,
  requireAddress,
} from "./checks.ts";
import { HakmemError, MAX_BATCH, MAX_SIZE } from "./errors.ts";
import { decodeStats, type HakmemStats, STATS_BUFFER_WORDS, statsLayout } from "./stats.ts";
import type { FlagDescription, Host, NativeHakmem, Pointer, PointerList } from "./types.ts";


export {
  HAK_BLOCK_FOREIGN,
  HAK_BLOCK_FREE,
  HAK_BLOCK_INTERIOR,
  HAK_BLOCK_LIVE,
  HAK_E_BAD_VALUE,
  HAK_E_DOUBLE_FREE,
  HAK_E_FOREIGN,
  HAK_E_LOCKED,
  HAK_E_NOMEM,
  HAK_E_UNKNOWN_FLAG,
  HAK_OK,
} from "./checks.ts";

/** The bindings one runtime exposes: src/api.ts exports them, and documents each there (once). */
export interface Hakmem {
  alloc(size: number): Pointer;
  free(ptr: Pointer): void;
  calloc(count: number, size: number): Pointer;
  realloc(ptr: Pointer | null, size: number): Pointer;
  usableSize(ptr: Pointer): number;
  owns(ptr: unknown): boolean;
  allocBatch(size: number, count: number, out?: BigUint64Array): BigUint64Array;
  freeBatch(ptrs: PointerList): void;
  buffer(size: number): HakmemBuffer;
  bufferUnsafe(size: number): HakmemBuffer;
  release(buffer: ArrayBuffer | ArrayBufferView): void;
  view(ptr: Pointer, length: number): Uint8Array<ArrayBuffer>;
  arena(options?: ArenaOptions): Arena;
  stats(): HakmemStats;
  configure(options: HakmemOptions): void;
  config(): HakmemConfig;
  configLocked(): boolean;
  describeFlags(): FlagDescription[];
  toEnv(options: HakmemOptions): Record<string, string>;
  fromEnv(env?: Readonly<Record<string, string | undefined>>): Partial<HakmemConfig>;
  loadConfig(path: string): Partial<HakmemConfig>;
  trim(): number;
  version(): string;
}

/** From this many words up, allocBatch's array comes from Host.unzeroedWords (measured: 4096 words 4.1 -> 0.7 us, 256 slower). */
const UNZEROED_WORDS = 1024;

/** Sizes up to this cross the FFI as 32-bit integers (bun:ffi's cheapest argument conversion). */
const INT32_MAX = 2 ** 31 - 1;

/** The largest address a number holds exactly, as a bigint. */
const MAX_ADDRESS = BigInt(MAX_SIZE);

/**
 * Builds the bindings on top of one runtime's FFI layer. Calls nothing in `native` until a function that needs the
 * library runs, so that the library loads lazily: `toEnv`, `fromEnv` and `loadConfig` validate against the
 * TypeScript flag table ({@link TABLE_SCHEMA}; tests/config.test.ts checks that it matches the C table) and never
 * touch it.
 */
export function createHakmem(native: NativeHakmem, host: Host): Hakmem {
  // The loaded library's flag table and stats layout, read once, on first need.
  let librarySchema: ConfigSchema | undefined;
  const schemaOf = () => (librarySchema ??= new ConfigSchema(matchDescribe(parseDescribe(native.configDescribe())).specs));
  let statsLayoutOf: ReturnType<typeof statsLayout> | undefined;
  const statsWords = new BigUint64Array(STATS_BUFFER_WORDS);
  const badIndex = new BigUint64Array(1);

  // The fast paths test their argument inline and make one call into C; a test that fails goes to the exact
  // checks, which say why. hak_free_checked validates on the C side and changes nothing when it refuses.
  // `native.mallocI32` and `native.freeChecked` are read at each call (see NativeHakmem).

  function alloc(size: number): Pointer {
    // A non-negative int32 (a fraction or NaN fails `(size | 0) === size`; -0 passes as 0): bun:ffi's cheapest
    // argument conversion. Larger sizes and errors take allocSlow. The typeof test keeps `|` away from a bigint
    // (it would throw a TypeError) and from objects (it would call their valueOf).
    if (typeof size === "number" && (size | 0) === size && size >= 0) {
      const p = native.mallocI32(size);
      if (p) return p as Pointer;
    }
    return allocSlow(size);
  }

  function allocSlow(size: number): Pointer {
    const s = checkSize(size, "alloc: size");
    const p = native.malloc(s);
    if (!p) fail("OUT_OF_MEMORY", `alloc(${s}): hakmem could not get ${s} bytes from the OS`);
    return p as Pointer;
  }

  function free(ptr: Pointer): void {
    // An integer below 2^53: a fraction must never reach C, where it would be truncated to another address.
    if (typeof ptr === "number" && ptr > 0 && ptr <= MAX_SIZE && Math.floor(ptr) === ptr) {
      const rc = native.freeChecked(ptr);
      if (rc === HAK_OK) return;
      throw freeError("free", ptr, rc);
    }
    freeOther(ptr);
  }

  /** free() of anything but a plain address: null, a bigint, a bad value (kept out of free() so that it inlines). */
  function freeOther(ptr: unknown): void {
    const a = requireAddress(ptr, "free");
    const rc = native.freeChecked(a);
    if (rc !== HAK_OK) throw freeError("free", a, rc);
  }

  /** The error for a refused hak_free_checked(a). */
  function freeError(fn: string, a: number, rc: number): HakmemError {
    if (rc === HAK_E_DOUBLE_FREE) return notLive(fn, a, HAK_BLOCK_FREE, true);
    if (rc === HAK_E_FOREIGN) {
      if (native.bufferSize(a) !== 0) {
        return new HakmemError(
          "FOREIGN_POINTER",
          `${fn}(${hex(a)}): the address is a buffer's memory (from buffer()): release(buffer) gives it back, or the garbage collector does`,
        );
      }
      return notLive(fn, a, native.blockState(a), true);
    }
    return new HakmemError("FOREIGN_POINTER", `${fn}(${hex(a)}): ${native.strerror(rc)} (hak_free_checked returned ${rc})`);
  }

  function calloc(count: number, size: number): Pointer {
    const n = checkSize(count, "calloc: count");
    const s = checkSize(size, "calloc: size");
    if (s !== 0 && n > Math.floor(MAX_SIZE / s)) fail("BAD_SIZE", `calloc(${n}, ${s}): the total is over the maximum ${MAX_SIZE}`);
    const p = native.calloc(n, s);
    if (p === 0) fail("OUT_OF_MEMORY", `calloc(${n}, ${s}): hakmem could not get ${n * s} bytes from the OS`);
    return p as Pointer;
  }

  function realloc(ptr: Pointer | null, size: number): Pointer {
    const s = checkSize(size, "realloc: size");
    const a = addressOf(ptr);
    if (a < 0) fail("FOREIGN_POINTER", `realloc(${describeValue(ptr)}): not an address`);
    if (a === 0) return alloc(s);
    const state = native.blockState(a);
    if (state !== HAK_BLOCK_LIVE) throw notLive("realloc", a, state, true);
    // hak_realloc(p, 0) frees p and returns NULL; here size 0 keeps a minimum-size block instead.
    const q = native.realloc(a, Math.max(s, 1));
    if (q === 0) fail("OUT_OF_MEMORY", `realloc(${hex(a)}, ${s}): no memory; the block is unchanged`);
    return q as Pointer;
  }

  function usableSize(ptr: Pointer): number {
    const a = requireAddress(ptr, "usableSize");
    const n = native.usableSize(a);
    if (n === 0) throw notLive("usableSize", a, native.blockState(a), false);
    return n;
  }

  function owns(ptr: unknown): boolean {
    const a = addressOf(ptr);
    return a > 0 && native.owns(a);
  }

  function allocBatch(size: number, count: number, out?: BigUint64Array): BigUint64Array {
    const s = isSize(size, MAX_SIZE) ? size : checkSize(size, "allocBatch: size");
    const n = isSize(count, MAX_BATCH) ? count : checkSize(count, "allocBatch: count", MAX_BATCH);
    let words: BigUint64Array;
    if (out === undefined) words = n >= UNZEROED_WORDS && host.unzeroedWords ? host.unzeroedWords(n) : new BigUint64Array(n);
    else if (out instanceof BigUint64Array && out.length === n) words = out;
    else return fail("BAD_SIZE", `allocBatch(${s}, ${n}, out): out must be a BigUint64Array of ${n} entries`);
    if (n === 0) return words;
    const got = s <= INT32_MAX ? native.mallocBatchI32(s, n, words) : native.mallocBatch(s, n, words);
    if (got < n) {
      if (got > 0) native.freeBatch(words, got);
      words.fill(0n);
      fail("OUT_OF_MEMORY", `allocBatch(${s}, ${n}): only ${got} blocks could be allocated (all were given back)`);
    }
    return words;
  }

  function freeBatch(ptrs: PointerList): void {
    let words: BigUint64Array;
    if (ptrs instanceof BigUint64Array) {
      words = ptrs;
    } else if (Array.isArray(ptrs)) {
      words = new BigUint64Array(ptrs.length);
      ptrs.forEach((p, i) => {
        const a = addressOf(p);
        if (a < 0) fail("FOREIGN_POINTER", `freeBatch: entry ${i} (${describeValue(p)}) is not an address`);
        words[i] = BigInt(a);
      });
    } else {
      return fail("FOREIGN_POINTER", `freeBatch(${describeValue(ptrs)}): expected a BigUint64Array or an array of pointers`);
    }
    if (words.length === 0) return;
    // One crossing: the C side validates every entry (live, no repeats) and frees all of them or none.
    const rc = native.freeBatchChecked(words, words.length, badIndex);
    if (rc === HAK_OK) return;
    if (rc === HAK_E_NOMEM) fail("OUT_OF_MEMORY", `freeBatch: no memory to check ${words.length} entries; nothing was freed`);
    throw batchError(words, Number(badIndex[0]));
  }

  /** Why entry i of a batch that freeBatch refused is bad (nothing was freed). */
  function batchError(words: BigUint64Array, i: number): HakmemError {
    const w = words[i] as bigint;
    const suffix = ` (entry ${i}; nothing was freed)`;
    if (w > MAX_ADDRESS) return new HakmemError("FOREIGN_POINTER", `freeBatch: 0x${w.toString(16)} was not allocated by hakmem${suffix}`);
    const a = Number(w);
    const state = native.blockState(a);
    if (state === HAK_BLOCK_LIVE) return new HakmemError("DOUBLE_FREE", `freeBatch: entry ${i} (${hex(a)}) appears twice in the batch; nothing was freed`);
    return notLive("freeBatch", a, state, true, suffix);
  }

  const buffers = createBuffers(native);

  function stats(): HakmemStats {
    statsWords.fill(0n);
    native.stats(statsWords);
    statsLayoutOf ??= statsLayout(native.statsJson());
    return decodeStats(statsWords, statsLayoutOf);
  }

  function configure(options: HakmemOptions): void {
    const schema = schemaOf();
    const normalized = schema.normalize(options, "configure()");
    const entries = Object.entries(normalized);
    if (entries.length === 0) return;
    if (native.configLocked()) {
      fail("CONFIG_LOCKED", "configure(): the configuration is frozen after the first allocation; configure before allocating, or start a child process with toEnv()");
    }
    for (const [key, value] of entries) {
      const spec = schema.spec(key);
      if (!spec) continue; // normalize() let only known keys through
      const text = schema.formatValue(spec, value as boolean | number | string);
      const rc = native.configSet(spec.env, text);
      if (rc === HAK_OK) continue;
      if (rc === HAK_E_LOCKED) fail("CONFIG_LOCKED", `configure(): ${spec.key} could not be set: the configuration was frozen by an allocation in the meantime`);
      fail("BAD_CONFIG", `configure(): ${spec.key} (${spec.env}) = ${JSON.stringify(text)}: ${native.strerror(rc)}`);
    }
  }

  function config(): HakmemConfig {
    const schema = schemaOf();
    const out: Record<string, unknown> = {};
    for (const spec of schema.specs) {
      const text = native.configGet(spec.env);
      if (text !== null) out[spec.key] = schema.parseText(spec, text, "hak_config_get");
    }
    return out as HakmemConfig;
  }

  function describeFlags(): FlagDescription[] {
    const keys = new Map(schemaOf().specs.map((s) => [s.env, s.key]));
    return parseDescribe(native.configDescribe()).map((f) => {
      const key = keys.get(f.name);
      return key === undefined ? f : { ...f, key };
    });
  }

  return {
    alloc,
    free,
    calloc,
    realloc,
    usableSize,
    owns,
    allocBatch,
    freeBatch,
    buffer: buffers.buffer,
    bufferUnsafe: buffers.bufferUnsafe,
    release: buffers.release,
    view: buffers.view,
    arena: buffers.arena,
    stats,
    configure,
    config,
    configLocked: () => native.configLocked(),
    describeFlags,
    toEnv: (options) => TABLE_SCHEMA.toEnv(options),
    fromEnv: (env = host.env()) => TABLE_SCHEMA.fromEnv(env),
    loadConfig: (path) => TABLE_SCHEMA.parseJson(host.readTextFile(path), path),
    trim: () => native.trim(),
    version: () => native.version(),
  };
}
