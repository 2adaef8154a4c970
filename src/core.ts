/**
 * The runtime-agnostic core of the hakmem bindings: validation, error mapping, batches, statistics and
 * configuration, on top of a small {@link NativeHakmem} interface that each runtime implements with its own FFI
 * (`src/index.ts` with `bun:ffi`, `src/deno.ts` with `Deno.dlopen`).
 *
 * @module
 */
import {
  ConfigSchema,
  type DescribedFlag,
  type HakmemConfig,
  type HakmemConfigKey,
  type HakmemOptions,
  matchDescribe,
  parseDescribe,
  TABLE_SCHEMA,
} from "./config.ts";
import { HakmemError, MAX_BATCH, MAX_SIZE } from "./errors.ts";
import { decodeStats, type HakmemStats, STATS_BUFFER_WORDS, statsLayout } from "./stats.ts";

/**
 * An address returned by hakmem: a plain number (user-space addresses stay below 2^53), branded so that it is not
 * mixed up with sizes. Structurally the same type as `bun:ffi`'s `Pointer`, so the two are interchangeable.
 */
export type Pointer = number & { __pointer__: null };

/** `enum hak_result` of csrc/include/hakmem.h. */
export const HAK_OK = 0;
export const HAK_E_UNKNOWN_FLAG = -1;
export const HAK_E_BAD_VALUE = -2;
export const HAK_E_LOCKED = -3;
export const HAK_E_FOREIGN = -4;
export const HAK_E_DOUBLE_FREE = -5;
export const HAK_E_NOMEM = -6;

/** `enum hak_block_kind` of csrc/include/hakmem.h: what `hak_block_state()` says about an address. */
export const HAK_BLOCK_FOREIGN = 0;
export const HAK_BLOCK_LIVE = 1;
export const HAK_BLOCK_FREE = 2;
export const HAK_BLOCK_INTERIOR = 3;

/**
 * The C functions the core needs, with addresses as plain numbers (0 is NULL) and strings already decoded. Each
 * runtime's FFI layer implements it; nothing here validates anything.
 */
export interface NativeHakmem {
  malloc(size: number): number;
  calloc(count: number, size: number): number;
  realloc(ptr: number, size: number): number;
  /** `hak_free_checked`: HAK_OK, HAK_E_FOREIGN or HAK_E_DOUBLE_FREE. */
  freeChecked(ptr: number): number;
  usableSize(ptr: number): number;
  owns(ptr: number): boolean;
  blockState(ptr: number): number;
  /** `hak_malloc_batch(size, count, out)`: how many were allocated into `out`. */
  mallocBatch(size: number, count: number, out: BigUint64Array): number;
  /** `hak_free_batch(ptrs, count)`: frees the first `count` entries (zeros skipped). */
  freeBatch(ptrs: BigUint64Array, count: number): void;
  /**
   * `hak_free_batch_checked(ptrs, count, bad)`: all or nothing; HAK_OK, or HAK_E_FOREIGN / HAK_E_DOUBLE_FREE /
   * HAK_E_NOMEM with the index of the first bad entry in `bad[0]`.
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
  /**
   * An ArrayBuffer over `size` bytes at `ptr` (a live hakmem block) that hands the block back to hakmem when the
   * garbage collector collects it. May throw (the runtime's own limits); the caller then frees the block.
   */
  adoptBuffer(ptr: number, size: number): ArrayBuffer;
}

/** What the core needs from the runtime besides FFI. */
export interface Host {
  /** Reads a UTF-8 text file (errors propagate). */
  readTextFile(path: string): string;
  /** The process environment. */
  env(): Readonly<Record<string, string | undefined>>;
}

/** A flag as `hak_config_describe()` reports it, with its TypeScript key (absent when TypeScript has none). */
export type FlagDescription = DescribedFlag & { key?: HakmemConfigKey };

/** Pointers as `freeBatch` accepts them. */
export type PointerList = BigUint64Array | readonly (Pointer | number | bigint)[];

/** The bindings one runtime exposes; `src/index.ts` documents each function in full. */
export interface Hakmem {
  /** Allocates `size` bytes (uninitialised); throws BAD_SIZE or OUT_OF_MEMORY. */
  alloc(size: number): Pointer;
  /** Frees a live block; throws FOREIGN_POINTER or DOUBLE_FREE (and then frees nothing). */
  free(ptr: Pointer): void;
  /** Allocates `count * size` zeroed bytes; throws BAD_SIZE or OUT_OF_MEMORY. */
  calloc(count: number, size: number): Pointer;
  /** Resizes a live block (null: allocates); the contents up to the smaller size are kept. */
  realloc(ptr: Pointer | null, size: number): Pointer;
  /** Bytes usable at a live block (at least the size asked for). */
  usableSize(ptr: Pointer): number;
  /** True when `ptr` is the start of a live hakmem block; never throws. */
  owns(ptr: unknown): boolean;
  /** `count` blocks of `size` bytes in one FFI call, or none (OUT_OF_MEMORY). */
  allocBatch(size: number, count: number): BigUint64Array;
  /** Frees every pointer in `ptrs` (zeros skipped), or none when any is bad. */
  freeBatch(ptrs: PointerList): void;
  /** A zeroed Uint8Array over hakmem memory that the garbage collector gives back to hakmem. */
  buffer(size: number): Uint8Array;
  /** The statistics counters. */
  stats(): HakmemStats;
  /** Applies configuration before the first allocation. */
  configure(options: HakmemOptions): void;
  /** The effective configuration. */
  config(): HakmemConfig;
  /** True once the first allocation froze the configuration. */
  configLocked(): boolean;
  /** The library's flag table, as `hak_config_describe()` returns it, with TypeScript keys. */
  describeFlags(): FlagDescription[];
  /** Environment variables that give a child process this configuration. */
  toEnv(options: HakmemOptions): Record<string, string>;
  /** The configuration an environment sets (validated). */
  fromEnv(env?: Readonly<Record<string, string | undefined>>): Partial<HakmemConfig>;
  /** Loads and validates a JSON configuration file. */
  loadConfig(path: string): Partial<HakmemConfig>;
  /** Returns cached memory to the OS; bytes released. */
  trim(): number;
  /** The library's version, "MAJOR.MINOR.PATCH". */
  version(): string;
}

function describeValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  return value === null ? "null" : typeof value;
}

/** Validates a size or count; returns it as an integer number. */
function checkSize(value: unknown, what: string, max = MAX_SIZE): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max) return value;
  let why: string;
  if (typeof value !== "number") why = `is not a number (${describeValue(value)})`;
  else if (Number.isNaN(value)) why = "is NaN";
  else if (!Number.isFinite(value)) why = `is ${value}`;
  else if (value < 0) why = `is negative (${value})`;
  else if (!Number.isInteger(value)) why = `is not an integer (${value})`;
  else why = `is over the maximum ${max} (${value})`;
  return fail("BAD_SIZE", `${what} ${why}`);
}

function fail(code: HakmemError["code"], message: string): never {
  throw new HakmemError(code, message);
}

/** Converts a pointer-like value to an address number; 0 for null/undefined; -1 when it is not an address. */
function addressOf(ptr: unknown): number {
  if (ptr === null || ptr === undefined) return 0;
  if (typeof ptr === "number") return Number.isSafeInteger(ptr) && ptr >= 0 ? ptr : -1;
  if (typeof ptr === "bigint") return ptr >= 0n && ptr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ptr) : -1;
  return -1;
}

function hex(address: number): string {
  return `0x${address.toString(16)}`;
}

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

  /** A valid non-null address, or FOREIGN_POINTER. */
  function requireAddress(ptr: unknown, fn: string): number {
    const a = addressOf(ptr);
    if (a === 0) fail("FOREIGN_POINTER", `${fn}(${ptr === undefined ? "undefined" : "null"}): a null pointer is not a hakmem block`);
    if (a < 0) fail("FOREIGN_POINTER", `${fn}(${describeValue(ptr)}): not an address`);
    return a;
  }

  /** The error for an address whose block state is not LIVE. */
  function notLive(fn: string, a: number, state: number, freeIsDouble: boolean, suffix = ""): HakmemError {
    if (state === HAK_BLOCK_FREE) {
      return freeIsDouble
        ? new HakmemError("DOUBLE_FREE", `${fn}(${hex(a)}): the block is already free${suffix}`)
        : new HakmemError("FOREIGN_POINTER", `${fn}(${hex(a)}): the block is free, not live${suffix}`);
    }
    if (state === HAK_BLOCK_INTERIOR)
      return new HakmemError("FOREIGN_POINTER", `${fn}(${hex(a)}): the address points inside a hakmem block, not at its start${suffix}`);
    return new HakmemError("FOREIGN_POINTER", `${fn}(${hex(a)}): the address was not allocated by hakmem${suffix}`);
  }

  function alloc(size: number): Pointer {
    const s = checkSize(size, "alloc: size");
    const p = native.malloc(s);
    if (p === 0) fail("OUT_OF_MEMORY", `alloc(${s}): hakmem could not get ${s} bytes from the OS`);
    return p as Pointer;
  }

  function free(ptr: Pointer): void {
    const a = requireAddress(ptr, "free");
    const rc = native.freeChecked(a);
    if (rc === HAK_OK) return;
    if (rc === HAK_E_DOUBLE_FREE) throw notLive("free", a, HAK_BLOCK_FREE, true);
    if (rc === HAK_E_FOREIGN) throw notLive("free", a, native.blockState(a), true);
    fail("FOREIGN_POINTER", `free(${hex(a)}): ${native.strerror(rc)} (hak_free_checked returned ${rc})`);
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

  function allocBatch(size: number, count: number): BigUint64Array {
    const s = checkSize(size, "allocBatch: size");
    const n = checkSize(count, "allocBatch: count", MAX_BATCH);
    const out = new BigUint64Array(n);
    if (n === 0) return out;
    const got = native.mallocBatch(s, n, out);
    if (got < n) {
      if (got > 0) native.freeBatch(out, got);
      fail("OUT_OF_MEMORY", `allocBatch(${s}, ${n}): only ${got} blocks could be allocated (all were given back)`);
    }
    return out;
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
    const i = Number(badIndex[0]);
    const w = words[i] as bigint;
    const suffix = ` (entry ${i}; nothing was freed)`;
    if (w > BigInt(Number.MAX_SAFE_INTEGER)) fail("FOREIGN_POINTER", `freeBatch: 0x${w.toString(16)} was not allocated by hakmem${suffix}`);
    const a = Number(w);
    const state = native.blockState(a);
    if (state === HAK_BLOCK_LIVE) fail("DOUBLE_FREE", `freeBatch: entry ${i} (${hex(a)}) appears twice in the batch; nothing was freed`);
    throw notLive("freeBatch", a, state, true, suffix);
  }

  function buffer(size: number): Uint8Array {
    const s = checkSize(size, "buffer: size");
    if (s === 0) return new Uint8Array(0);
    const p = native.calloc(1, s);
    if (p === 0) fail("OUT_OF_MEMORY", `buffer(${s}): hakmem could not get ${s} bytes from the OS`);
    let ab: ArrayBuffer;
    try {
      ab = native.adoptBuffer(p, s);
    } catch (cause) {
      native.freeChecked(p);
      throw new HakmemError("BAD_SIZE", `buffer(${s}): the runtime cannot make an ArrayBuffer of ${s} bytes`, { cause });
    }
    return new Uint8Array(ab);
  }

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
    buffer,
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
