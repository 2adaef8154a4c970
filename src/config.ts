/**
 * The hakmem configuration flags as TypeScript: the flag table, the {@link HakmemConfig} type derived from it, and
 * validation, environment and JSON conversions. Runtime-agnostic (no FFI, no file or environment access): the
 * Bun and Deno entry points bind these functions to the loaded library's own flag table
 * (`hak_config_describe()`), which is authoritative for ranges and defaults.
 *
 * @module
 */
import { HakmemError } from "./errors.ts";

/** The kinds of flag `hak_config_describe()` reports. */
export type FlagKind = "bool" | "int" | "size" | "enum" | "path";

const FLAG_KINDS: readonly string[] = ["bool", "int", "size", "enum", "path"];

/** A flag that is on or off (`HAKMEM_X=1`). */
export interface BoolFlag {
  readonly env: string;
  readonly kind: "bool";
}
/** An integer flag with an inclusive range. */
export interface IntFlag {
  readonly env: string;
  readonly kind: "int";
  readonly min: number;
  readonly max: number;
}
/** A size in bytes: an inclusive range, or only the sizes in `choices` when that is not empty. */
export interface SizeFlag {
  readonly env: string;
  readonly kind: "size";
  readonly min: number;
  readonly max: number;
  readonly choices: readonly number[];
}
/** A flag that takes one of a few names. */
export interface EnumFlag<V extends string = string> {
  readonly env: string;
  readonly kind: "enum";
  readonly values: readonly V[];
}
/** A file path (text of at most `maxBytes` bytes in UTF-8; empty: none). */
export interface PathFlag {
  readonly env: string;
  readonly kind: "path";
  readonly maxBytes: number;
}
/** One row of {@link FLAGS}. */
export type FlagDef = BoolFlag | IntFlag | SizeFlag | EnumFlag | PathFlag;

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** Digits, then optionally K, M or G (any case), then optionally B or iB: what the C parser accepts. */
const SIZE_TEXT = /^(\d+)(?:([KMGkmg])(B|b|iB|ib|IB|Ib)?)?$/;

const bool = (env: string): BoolFlag => ({ env, kind: "bool" });
const int = (env: string, min: number, max: number): IntFlag => ({ env, kind: "int", min, max });
const size = (env: string, min: SizeString, max: SizeString): SizeFlag => ({
  env,
  kind: "size",
  min: sizeBytes(min),
  max: sizeBytes(max),
  choices: [],
});
const sizes = (env: string, choices: readonly SizeString[]): SizeFlag => {
  const bytes = choices.map(sizeBytes);
  return { env, kind: "size", min: Math.min(...bytes), max: Math.max(...bytes), choices: bytes };
};
const path = (env: string, maxBytes: number): PathFlag => ({ env, kind: "path", maxBytes });
const oneOf = <const V extends string>(env: string, values: readonly V[]): EnumFlag<V> => ({ env, kind: "enum", values });

/**
 * Every `HAKMEM_*` flag: camelCase key → environment name, kind and range. Adding a flag is one line here (the
 * tests check this table against `hak_config_describe()` both ways, and against README.md).
 */
export const FLAGS = {
  /** SuperSlab size in bytes (`HAKMEM_SS_SIZE`): 512K, 1M, 2M or 4M; SuperSlabs are aligned to it. */
  superslabSize: sizes("HAKMEM_SS_SIZE", ["512K", "1M", "2M", "4M"]),
  /** Most empty SuperSlabs kept in the LRU cache, 0 to 65536; 0 releases them at once (`HAKMEM_SS_LRU_MAX_CACHED`). */
  lruMaxCached: int("HAKMEM_SS_LRU_MAX_CACHED", 0, 65536),
  /** Most memory in MiB held by the LRU cache of empty SuperSlabs, 0 to 1048576 (`HAKMEM_SS_LRU_MAX_MB`). */
  lruMaxMB: int("HAKMEM_SS_LRU_MAX_MB", 0, 1048576),
  /** Seconds an empty SuperSlab may stay cached, 0 to 86400 (`HAKMEM_SS_LRU_TTL_SEC`). */
  lruTtlSec: int("HAKMEM_SS_LRU_TTL_SEC", 0, 86400),
  /** Prefault policy for SuperSlab memory: off, populate (whole SuperSlab) or madvise (per slab) (`HAKMEM_SS_PREFAULT`). */
  prefault: oneOf("HAKMEM_SS_PREFAULT", ["off", "populate", "madvise"]),
  /**
   * Once more than this many MiB of SuperSlab memory are reserved (64 MiB at a time), prefault each slab of blocks up
   * to 4 KiB when first formatted for a class its heap holds 4 slabs of already, as prefault "madvise" does from the
   * start; 0 to 1048576, 0 never
   * (`HAKMEM_SS_PREFAULT_AFTER_MB`).
   */
  prefaultAfterMB: int("HAKMEM_SS_PREFAULT_AFTER_MB", 0, 1048576),
  /** Ask for transparent huge pages on SuperSlab memory (`HAKMEM_USE_HUGEPAGES`). */
  hugePages: bool("HAKMEM_USE_HUGEPAGES"),
  /** Most free large page runs kept committed for reuse, 0 to 4096 (`HAKMEM_LARGE_CACHE_MAX_RUNS`). */
  largeCacheMaxRuns: int("HAKMEM_LARGE_CACHE_MAX_RUNS", 0, 4096),
  /** Most memory in MiB of free large pages kept committed for reuse, 0 to 65536 (`HAKMEM_LARGE_CACHE_MAX_MB`). */
  largeCacheMaxMB: int("HAKMEM_LARGE_CACHE_MAX_MB", 0, 65536),
  /** Largest block in bytes placed in the large tier's arenas (bigger ones get their own mapping), 64K to 1G (`HAKMEM_LARGE_MAX_BLOCK`). */
  largeMaxBlock: size("HAKMEM_LARGE_MAX_BLOCK", "64K", "1G"),
  /** Trace large blocks that get their own mapping (Threshold, MapFail) on stderr (`HAKMEM_LARGE_TRACE`). */
  largeTrace: bool("HAKMEM_LARGE_TRACE"),
  /** Print the statistics report on stderr at exit (`HAKMEM_STATS`). */
  stats: bool("HAKMEM_STATS"),
  /** Write the statistics as JSON to this file at exit; empty: no file (`HAKMEM_STATS_FILE`, at most 4095 bytes). */
  statsFile: path("HAKMEM_STATS_FILE", 4095),
  /** Trace LRU cache push, pop and eviction on stderr (`HAKMEM_SS_LRU_DEBUG`). */
  lruDebug: bool("HAKMEM_SS_LRU_DEBUG"),
  /** Trace SuperSlabs becoming empty and being released on stderr (`HAKMEM_SS_FREE_DEBUG`). */
  ssFreeDebug: bool("HAKMEM_SS_FREE_DEBUG"),
  /** Print hakmem's lock acquisitions per path on stderr at exit (`HAKMEM_LOCK_STATS`). */
  lockStats: bool("HAKMEM_LOCK_STATS"),
  /** Validate every free: double frees are reported too; interior and foreign ones always are (`HAKMEM_CHECK`). */
  check: bool("HAKMEM_CHECK"),
  /** Encode free-list links with a per-process key and check them on every pop (`HAKMEM_SECURE`). */
  secure: bool("HAKMEM_SECURE"),
  /**
   * Gather frees into other threads' slabs and push them in batches: auto (on for the LD_PRELOAD library, off for
   * libhakmem.so, whose hak_owns and hak_free_checked must see other threads' frees), on or off; always off with
   * HAKMEM_CHECK or HAKMEM_SECURE (`HAKMEM_REMOTE_BATCH`).
   */
  remoteBatch: oneOf("HAKMEM_REMOTE_BATCH", ["auto", "on", "off"]),
  /**
   * Keep each thread's last frees per size class (64 blocks and 32 KiB, growing on overflow to 512 blocks and 1
   * MiB for a class the thread allocates, within 4 MiB a thread) for its next allocations: auto (on for the LD_PRELOAD library, off for libhakmem.so,
   * whose hak_owns and hak_free_checked must see a freed block as free), on or off; always off with HAKMEM_CHECK or
   * HAKMEM_SECURE (`HAKMEM_THREAD_CACHE`).
   */
  threadCache: oneOf("HAKMEM_THREAD_CACHE", ["auto", "on", "off"]),
  /**
   * A JSON file of flags read at initialisation, before the environment (which overrides it): one flat object keyed
   * by `HAKMEM_*` names, as `bun run tune` writes it (`HAKMEM_CONFIG`, at most 4095 bytes; empty: none).
   */
  configFile: path("HAKMEM_CONFIG", 4095),
  /** Fault injection: every Nth OS mapping fails with ENOMEM, 0 to 1000000000; 0 never (`HAKMEM_FAULT_MMAP_FAIL_EVERY`). */
  faultMmapFailEvery: int("HAKMEM_FAULT_MMAP_FAIL_EVERY", 0, 1_000_000_000),
} satisfies Record<string, FlagDef>;

type Flags = typeof FLAGS;

/** A camelCase configuration key. */
export type HakmemConfigKey = keyof Flags;

/** Unit suffixes a size string may carry, as the C parser accepts them (K = 1024 bytes). */
export type SizeUnit = "" | "K" | "M" | "G" | "k" | "m" | "g" | "KB" | "MB" | "GB" | "KiB" | "MiB" | "GiB";
/** A size as text: digits and an optional unit, e.g. `"512K"`, `"1M"`, `"2GiB"`, `"65536"`. */
export type SizeString = `${number}${SizeUnit}`;

type ValueOf<F> = F extends EnumFlag<infer V>
  ? V
  : F extends BoolFlag
    ? boolean
    : F extends PathFlag
      ? string
      : number;
type InputOf<F> = F extends SizeFlag ? number | SizeString : ValueOf<F>;

/**
 * The whole configuration, one key per `HAKMEM_*` flag (see {@link FLAGS} for each key's flag and range). Sizes are
 * numbers of bytes, booleans are `true`/`false`, enums are their names, paths are strings. This is what `config()`
 * returns.
 */
export type HakmemConfig = { -readonly [K in HakmemConfigKey]: ValueOf<Flags[K]> };

/**
 * What `configure`, `toEnv` and the validators accept: any subset of {@link HakmemConfig}, where a size may also be a
 * string such as `"1M"` or `"512K"`.
 */
export type HakmemOptions = { [K in HakmemConfigKey]?: InputOf<Flags[K]> };

/** One object of the JSON array `hak_config_describe()` returns. */
export interface DescribedFlag {
  /** Environment name, e.g. `"HAKMEM_SS_SIZE"`. */
  name: string;
  type: FlagKind;
  /** Default value as text (sizes like `"1M"`, booleans `"0"`/`"1"`). */
  default: string;
  /** Inclusive range; for sizes in bytes, for enums the index range, for paths the length in bytes. */
  min: number;
  max: number;
  /** Enum names, or the allowed sizes of a size flag that takes only some sizes; empty otherwise. */
  values: string[];
  description: string;
  /** Old names the C side still accepts for this flag (with a warning). */
  aliases?: string[];
  /** The effective value as text. */
  value: string;
}

/** A flag as the validators use it: the TypeScript key with the kind and range (normally from the C table). */
export interface FlagSpec {
  key: HakmemConfigKey;
  env: string;
  kind: FlagKind;
  min: number;
  max: number;
  /** Enum names (enums only). */
  values: readonly string[];
  /** Allowed sizes in bytes when the flag takes only some sizes (sizes only; empty: any size in range). */
  choices: readonly number[];
  description: string;
  /** Default as text, when known (from the C table). */
  default?: string;
}

/**
 * Old environment names still accepted (as by the C side, which warns once when one is used), with the flag each
 * names now. Configuration files written before the rename keep working.
 */
export const FLAG_ALIASES: Readonly<Record<string, string>> = {
  HAKMEM_ACE_MAX_CACHED: "HAKMEM_LARGE_CACHE_MAX_RUNS",
  HAKMEM_ACE_MAX_MB: "HAKMEM_LARGE_CACHE_MAX_MB",
  HAKMEM_ACE_MAX_BLOCK: "HAKMEM_LARGE_MAX_BLOCK",
  HAKMEM_ACE_TRACE: "HAKMEM_LARGE_TRACE",
  HAKMEM_SHARED_POOL_LOCK_STATS: "HAKMEM_LOCK_STATS",
};

/** Environment variables of the HAKMEM_ family that are not allocator flags (the C side ignores them too). */
export const NON_FLAG_VARIABLES: readonly string[] = ["HAKMEM_LIB"];

/**
 * Bytes in a size given as a number of bytes or a string like `"512K"`, `"1M"`, `"1G"` (K = 1024; a trailing `B` or
 * `iB` is allowed after the unit, as in C). Returns `undefined` when it is not a whole, non-negative, exact size.
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = SIZE_TEXT.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? "").toUpperCase();
  const bytes = Number(m[1]) * (unit === "K" ? KiB : unit === "M" ? MiB : unit === "G" ? GiB : 1);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function sizeBytes(text: SizeString): number {
  const bytes = parseSize(text);
  if (bytes === undefined) throw new Error(`bad size in the flag table: ${text}`);
  return bytes;
}

/** A size as the C side writes it: `"4M"`, `"512K"`, `"1G"`, or plain bytes when no unit divides it. */
export function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB}G`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}M`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB}K`;
  return String(bytes);
}

/** The flag table as specs, with no C library at hand (ranges from {@link FLAGS}). */
export function specsFromTable(): FlagSpec[] {
  return (Object.keys(FLAGS) as HakmemConfigKey[]).map((key) => {
    const def: FlagDef = FLAGS[key];
    const base = { key, env: def.env, kind: def.kind, description: "", values: [], choices: [] };
    switch (def.kind) {
      case "bool":
        return { ...base, min: 0, max: 1 };
      case "int":
        return { ...base, min: def.min, max: def.max };
      case "size":
        return { ...base, min: def.min, max: def.max, choices: def.choices };
      case "enum":
        return { ...base, min: 0, max: def.values.length - 1, values: def.values };
      case "path":
        return { ...base, min: 0, max: def.maxBytes };
    }
  });
}

/** Parses the JSON of `hak_config_describe()`; throws a plain Error when it is not the expected shape. */
export function parseDescribe(json: string): DescribedFlag[] {
  const flags: unknown = JSON.parse(json);
  if (!Array.isArray(flags)) throw new Error("hak_config_describe() did not return a JSON array");
  for (const f of flags) {
    const ok =
      typeof f === "object" &&
      f !== null &&
      typeof f.name === "string" &&
      typeof f.type === "string" &&
      typeof f.min === "number" &&
      typeof f.max === "number" &&
      Array.isArray(f.values);
    if (!ok) throw new Error(`hak_config_describe() returned an unexpected entry: ${JSON.stringify(f)}`);
  }
  return flags as DescribedFlag[];
}

/** How the TypeScript table and a C library's table line up. */
export interface DescribeMatch {
  /** Specs of the flags both sides know, with the C side's kinds, ranges, defaults and descriptions. */
  specs: FlagSpec[];
  /**
   * C flags with no key in {@link FLAGS}, or of a kind these bindings do not know (not configurable from TypeScript
   * until the table learns them).
   */
  onlyInC: DescribedFlag[];
  /** Keys of {@link FLAGS} whose flag the C library does not have. */
  onlyInTs: HakmemConfigKey[];
}

/** Lines up {@link FLAGS} with the flags a C library describes (matched by environment name). */
export function matchDescribe(described: readonly DescribedFlag[]): DescribeMatch {
  const keyByEnv = new Map<string, HakmemConfigKey>();
  for (const key of Object.keys(FLAGS) as HakmemConfigKey[]) keyByEnv.set(FLAGS[key].env, key);
  const specs: FlagSpec[] = [];
  const onlyInC: DescribedFlag[] = [];
  const seen = new Set<HakmemConfigKey>();
  for (const f of described) {
    const key = keyByEnv.get(f.name);
    if (key === undefined || !FLAG_KINDS.includes(f.type)) {
      onlyInC.push(f);
      continue;
    }
    seen.add(key);
    const choices = f.type === "size" ? f.values.map((v) => parseSize(v) ?? Number.NaN) : [];
    specs.push({
      key,
      env: f.name,
      kind: f.type,
      min: f.min,
      max: f.max,
      values: f.type === "enum" ? [...f.values] : [],
      choices,
      description: f.description,
      default: f.default,
    });
  }
  const onlyInTs = (Object.keys(FLAGS) as HakmemConfigKey[]).filter((k) => !seen.has(k));
  return { specs, onlyInC, onlyInTs };
}

const BOOL_TEXT: Readonly<Record<string, boolean>> = {
  "1": true,
  true: true,
  on: true,
  yes: true,
  "0": false,
  false: false,
  off: false,
  no: false,
};

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Validation and conversion for one set of flags. The Bun and Deno entry points build one from the loaded
 * library's `hak_config_describe()`; {@link TABLE_SCHEMA} uses the TypeScript table alone.
 */
export class ConfigSchema {
  /** The specs, in table order. */
  readonly specs: readonly FlagSpec[];
  private readonly byKey = new Map<string, FlagSpec>();
  private readonly byEnv = new Map<string, FlagSpec>();

  /** @param specs - one per flag */
  constructor(specs: readonly FlagSpec[]) {
    this.specs = specs;
    for (const s of specs) {
      this.byKey.set(s.key, s);
      this.byEnv.set(s.env, s);
    }
  }

  /** The spec of a camelCase key, or undefined. */
  spec(key: string): FlagSpec | undefined {
    return Object.hasOwn(FLAGS, key) ? this.byKey.get(key) : undefined;
  }

  /** The spec of an environment name (`"HAKMEM_SS_SIZE"`, or an old name of {@link FLAG_ALIASES}), or undefined. */
  specOfEnv(env: string): FlagSpec | undefined {
    return this.byEnv.get(env) ?? (Object.hasOwn(FLAG_ALIASES, env) ? this.byEnv.get(FLAG_ALIASES[env]!) : undefined);
  }

  /** What a flag allows, in words: `"an integer from 0 to 65536"`, `"one of 512K, 1M, 2M, 4M"`. */
  allowed(spec: FlagSpec): string {
    switch (spec.kind) {
      case "bool":
        return "true or false";
      case "int":
        return `an integer from ${spec.min} to ${spec.max}`;
      case "enum":
        return `one of ${spec.values.map((v) => JSON.stringify(v)).join(", ")}`;
      case "size":
        return spec.choices.length > 0
          ? `one of ${spec.choices.map(formatSize).join(", ")} (bytes, or a string like "${formatSize(spec.choices[0] ?? 0)}")`
          : `a size from ${formatSize(spec.min)} to ${formatSize(spec.max)} (bytes, or a string like "${formatSize(spec.max)}")`;
      case "path":
        return `a file path of at most ${spec.max} bytes in UTF-8, without NUL characters ("" for none)`;
    }
  }

  private bad(spec: FlagSpec, value: unknown, source: string): HakmemError {
    const where = source ? ` in ${source}` : "";
    return new HakmemError(
      "BAD_CONFIG",
      `${spec.key} (${spec.env})${where} must be ${this.allowed(spec)}; got ${show(value)}`,
    );
  }

  private unknownKey(key: string, source: string): HakmemError {
    const where = source ? ` in ${source}` : "";
    const known = this.specs.map((s) => s.key).join(", ");
    const tsOnly = Object.hasOwn(FLAGS, key) ? " (the loaded hakmem library does not have this flag; rebuild it)" : "";
    return new HakmemError("BAD_CONFIG", `unknown configuration key ${JSON.stringify(key)}${where}${tsOnly}; known keys: ${known}`);
  }

  /** Validates one JavaScript value for a flag and returns it normalized (sizes in bytes). */
  normalizeValue(spec: FlagSpec, value: unknown, source = ""): boolean | number | string {
    switch (spec.kind) {
      case "bool":
        if (typeof value !== "boolean") throw this.bad(spec, value, source);
        return value;
      case "int":
        if (typeof value !== "number" || !Number.isInteger(value) || value < spec.min || value > spec.max)
          throw this.bad(spec, value, source);
        return value;
      case "enum":
        if (typeof value !== "string" || !spec.values.includes(value)) throw this.bad(spec, value, source);
        return value;
      case "size": {
        const bytes = parseSize(value);
        if (bytes === undefined || !this.sizeAllowed(spec, bytes)) throw this.bad(spec, value, source);
        return bytes;
      }
      case "path":
        if (typeof value !== "string" || !this.pathAllowed(spec, value)) throw this.bad(spec, value, source);
        return value;
    }
  }

  private pathAllowed(spec: FlagSpec, text: string): boolean {
    return !text.includes("\0") && new TextEncoder().encode(text).length <= spec.max;
  }

  private sizeAllowed(spec: FlagSpec, bytes: number): boolean {
    return spec.choices.length > 0 ? spec.choices.includes(bytes) : bytes >= spec.min && bytes <= spec.max;
  }

  /**
   * Validates a configuration object (camelCase keys) and returns it normalized. Unknown keys, wrong types and
   * values out of range throw `BAD_CONFIG` naming the key and what it allows; `undefined` values are left out.
   */
  normalize(options: unknown, source = ""): Partial<HakmemConfig> {
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      const where = source ? ` in ${source}` : "";
      throw new HakmemError("BAD_CONFIG", `the configuration${where} must be an object with camelCase keys; got ${show(options)}`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) {
      const spec = this.spec(key);
      if (!spec) throw this.unknownKey(key, source);
      if (value === undefined) continue;
      out[key] = this.normalizeValue(spec, value, source);
    }
    return out as Partial<HakmemConfig>;
  }

  /** A normalized value as environment text: `"1"`/`"0"`, `"60"`, `"1M"`, `"populate"`, a path as it is. */
  formatValue(spec: FlagSpec, value: boolean | number | string): string {
    switch (spec.kind) {
      case "bool":
        return value ? "1" : "0";
      case "size":
        return formatSize(value as number);
      default:
        return String(value);
    }
  }

  /**
   * Parses environment text for a flag as the C side does (booleans 1/0, true/false, on/off, yes/no; enums and
   * units case-insensitive), validating it. Throws `BAD_CONFIG`.
   */
  parseText(spec: FlagSpec, text: string, source = ""): boolean | number | string {
    switch (spec.kind) {
      case "bool": {
        const v = BOOL_TEXT[text.toLowerCase()];
        if (v === undefined) throw this.bad(spec, text, source);
        return v;
      }
      case "int": {
        if (!/^[+-]?\d+$/.test(text)) throw this.bad(spec, text, source);
        const v = Number(text);
        if (v < spec.min || v > spec.max) throw this.bad(spec, text, source);
        return v;
      }
      case "enum": {
        const v = spec.values.find((name) => name.toLowerCase() === text.toLowerCase());
        if (v === undefined) throw this.bad(spec, text, source);
        return v;
      }
      case "size": {
        const bytes = parseSize(text);
        if (bytes === undefined || !this.sizeAllowed(spec, bytes)) throw this.bad(spec, text, source);
        return bytes;
      }
      case "path":
        if (!this.pathAllowed(spec, text)) throw this.bad(spec, text, source);
        return text;
    }
  }

  /**
   * The environment (`HAKMEM_*` name → text) that gives a child process this configuration. Validates first
   * (`BAD_CONFIG`). Keys left out of `options` are left out of the result (the child uses its defaults).
   */
  toEnv(options: HakmemOptions): Record<string, string> {
    const normalized = this.normalize(options, "toEnv()");
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(normalized)) {
      const spec = this.spec(key) as FlagSpec;
      env[spec.env] = this.formatValue(spec, value as boolean | number | string);
    }
    return env;
  }

  /**
   * Reads the `HAKMEM_*` flags of an environment into a normalized partial configuration, validating each
   * (`BAD_CONFIG` for a bad value or an unknown `HAKMEM_*` variable). Other variables are ignored.
   */
  fromEnv(env: Readonly<Record<string, string | undefined>>): Partial<HakmemConfig> {
    const out: Record<string, unknown> = {};
    for (const [name, text] of Object.entries(env)) {
      if (!name.startsWith("HAKMEM_") || text === undefined || NON_FLAG_VARIABLES.includes(name)) continue;
      const spec = this.specOfEnv(name);
      if (!spec) {
        const known = this.specs.map((s) => s.env).join(", ");
        throw new HakmemError("BAD_CONFIG", `unknown variable ${name} in the environment; the flags are: ${known}`);
      }
      out[spec.key] = this.parseText(spec, text, `the environment (${name})`);
    }
    return out as Partial<HakmemConfig>;
  }

  /**
   * Parses the text of a JSON configuration file and validates it. The file is one flat object whose keys are
   * either all camelCase keys (`{"superslabSize": "2M"}`, values as {@link normalize} takes them) or all
   * `HAKMEM_*` flag names, the format the C side reads through `HAKMEM_CONFIG=path` (see {@link normalizeFlagFile}).
   * Mixing the two in one file is an error.
   */
  parseJson(text: string, source: string): Partial<HakmemConfig> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new HakmemError("BAD_CONFIG", `${source} is not valid JSON: ${(cause as Error).message}`, { cause });
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const flagNames = keys.filter((k) => k.startsWith("HAKMEM_"));
      if (flagNames.length > 0 && flagNames.length === keys.length) return this.normalizeFlagFile(value, source);
      if (flagNames.length > 0) {
        const camel = keys.find((k) => !k.startsWith("HAKMEM_")) as string;
        throw new HakmemError(
          "BAD_CONFIG",
          `${source} mixes HAKMEM_* flag names (${JSON.stringify(flagNames[0])}) with other keys (${JSON.stringify(camel)}); ` +
            "use either camelCase keys or HAKMEM_* names throughout",
        );
      }
    }
    return this.normalize(value, source);
  }

  /**
   * Validates an object keyed by `HAKMEM_*` flag names, as in a `HAKMEM_CONFIG` file, and returns it with camelCase
   * keys, normalized. Each value is read as the C side reads it: a string as its text (`"2M"`, `"populate"`,
   * `"on"`), a number as its digits (`64`; sizes in bytes), `true`/`false` as `1`/`0`; then it is parsed and checked
   * like the environment's text. Unknown names and bad values throw `BAD_CONFIG` (the C side instead skips a bad
   * pair with a warning; validate with this before handing a file to it).
   */
  normalizeFlagFile(object: object, source = ""): Partial<HakmemConfig> {
    const where = source ? ` in ${source}` : "";
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(object)) {
      const spec = this.specOfEnv(name);
      if (!spec) {
        const key = (Object.keys(FLAGS) as HakmemConfigKey[]).find((k) => FLAGS[k].env === name);
        let why = "";
        if (key !== undefined) why = " (the loaded hakmem library does not have this flag; rebuild it)";
        else if (NON_FLAG_VARIABLES.includes(name)) why = " (it is not an allocator flag)";
        const known = this.specs.map((s) => s.env).join(", ");
        throw new HakmemError("BAD_CONFIG", `unknown flag ${JSON.stringify(name)}${where}${why}; the flags are: ${known}`);
      }
      let text: string;
      if (typeof value === "string") text = value;
      else if (typeof value === "boolean") text = value ? "1" : "0";
      else if (typeof value === "number" && Number.isFinite(value)) text = String(value);
      else throw this.bad(spec, value, source);
      out[spec.key] = this.parseText(spec, text, source);
    }
    return out as Partial<HakmemConfig>;
  }

  /**
   * A configuration as the flat object of a `HAKMEM_CONFIG` file: `HAKMEM_*` names, sizes as text (`"2M"`), integers
   * as numbers, on/off flags as booleans, enums and paths as strings. Validates first (`BAD_CONFIG`); keys left out
   * of `options` are left out. {@link parseJson} reads it back.
   */
  toFlagFile(options: HakmemOptions): Record<string, string | number | boolean> {
    const normalized = this.normalize(options, "toFlagFile()");
    const out: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(normalized)) {
      const spec = this.spec(key) as FlagSpec;
      out[spec.env] = spec.kind === "size" ? formatSize(value as number) : (value as string | number | boolean);
    }
    return out;
  }
}

/** A schema from the TypeScript table alone, for tools that run without the C library. */
export const TABLE_SCHEMA: ConfigSchema = new ConfigSchema(specsFromTable());
