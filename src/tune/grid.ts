/**
 * The grid of configurations a sweep runs: a list of values per flag, expanded into their cartesian product. Every
 * value is validated through the C library's flag table ({@link librarySchema}), so ranges and allowed values are the
 * C side's.
 *
 * @module
 */
import {
  type ConfigSchema,
  type FlagSpec,
  formatSize,
  type HakmemConfig,
  type HakmemConfigKey,
  type HakmemOptions,
} from "../config.ts";
import { HakmemError } from "../errors.ts";
import { TuneError } from "./errors.ts";
import { librarySchema } from "./flag-table.ts";

/** Values to sweep per flag (camelCase keys; sizes as bytes or strings like `"2M"`). */
export type SweepGrid = { [K in HakmemConfigKey]?: readonly NonNullable<HakmemOptions[K]>[] };

/** A normalized flag value, as in {@link HakmemConfig}. */
export type FlagValue = boolean | number | string;

/** One point of the grid. */
export interface TuneConfig {
  /**
   * Stable identity: the `HAKMEM_*` assignments of every swept and fixed flag in flag-table order, e.g.
   * `"HAKMEM_SS_SIZE=2M HAKMEM_SS_LRU_MAX_CACHED=64"`. The journal keys runs by it.
   */
  id: string;
  /** Short name for people: the flags that vary across the grid, e.g. `"ss=2M lru=64"`. */
  label: string;
  /** The configuration (fixed flags and this point's values), normalized. */
  options: Partial<HakmemConfig>;
  /** The environment that gives a child process this configuration (`toEnv(options)`). */
  env: Record<string, string>;
  /** Every swept flag at the library's default: the configuration a recommendation has to beat. */
  baseline: boolean;
}

/** Short names for labels; other keys appear under their camelCase name. */
const SHORT: Partial<Record<HakmemConfigKey, string>> = {
  superslabSize: "ss",
  lruMaxCached: "lru",
  lruMaxMB: "lru-mb",
  lruTtlSec: "ttl",
  prefault: "prefault",
  hugePages: "huge",
};

/** Flags a sweep sets itself and that may therefore be neither swept nor fixed. */
const RESERVED: readonly HakmemConfigKey[] = ["statsFile"];

/** A normalized value as text for labels and ids: sizes as `2M`, booleans as `1`/`0`. */
export function valueText(schema: ConfigSchema, key: HakmemConfigKey, value: FlagValue): string {
  const spec = schema.spec(key) as FlagSpec;
  return spec.kind === "size" ? formatSize(value as number) : schema.formatValue(spec, value);
}

function specOf(schema: ConfigSchema, key: string, where: string): FlagSpec {
  const spec = schema.spec(key);
  if (spec) return spec;
  // normalize() produces the standard unknown-key message (with the list of keys)
  schema.normalize({ [key]: null }, where);
  throw new HakmemError("BAD_CONFIG", `unknown configuration key ${JSON.stringify(key)} in ${where}`);
}

/**
 * Validates a grid and normalizes its values (sizes in bytes), in flag-table order. Throws `BAD_CONFIG` for an
 * unknown key or a value out of range, `BAD_ARGUMENT` for an empty list, a value listed twice or a flag the sweep
 * sets itself.
 */
export function normalizeGrid(grid: SweepGrid, schema: ConfigSchema = librarySchema()): Map<HakmemConfigKey, FlagValue[]> {
  if (typeof grid !== "object" || grid === null || Array.isArray(grid))
    throw new TuneError("BAD_ARGUMENT", "the grid must be an object: camelCase key → array of values");
  const byKey = new Map<HakmemConfigKey, FlagValue[]>();
  for (const [key, values] of Object.entries(grid)) {
    if (values === undefined) continue;
    const spec = specOf(schema, key, "the grid");
    if (RESERVED.includes(spec.key)) throw new TuneError("BAD_ARGUMENT", `${key} cannot be swept: the sweep sets it for each run`);
    if (!Array.isArray(values) || values.length === 0)
      throw new TuneError("BAD_ARGUMENT", `the grid's ${key} must be a non-empty array of values`);
    const seen: FlagValue[] = [];
    for (const v of values) {
      const n = schema.normalizeValue(spec, v, `the grid's ${key}`);
      if (seen.includes(n)) throw new TuneError("BAD_ARGUMENT", `the grid's ${key} lists ${valueText(schema, spec.key, n)} twice`);
      seen.push(n);
    }
    byKey.set(spec.key, seen);
  }
  const order = schema.specs.map((s) => s.key);
  return new Map([...byKey].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)));
}

/** The library's default of a flag, normalized; undefined when the schema does not know it. */
function defaultValue(schema: ConfigSchema, key: HakmemConfigKey): FlagValue | undefined {
  const spec = schema.spec(key) as FlagSpec;
  return spec.default === undefined ? undefined : schema.parseText(spec, spec.default, `the default of ${spec.env}`);
}

/**
 * The cartesian product of a grid, each point merged over the fixed `base` flags, in a stable order (flag-table
 * order of keys, the last key varying fastest; values in the order given), plus the baseline: every swept flag at
 * the library's default, appended when the grid does not hold it already (and flagged `baseline` either way), so a
 * recommendation can always be measured against the defaults. Validates everything first.
 */
export function expandGrid(grid: SweepGrid, base: HakmemOptions = {}, schema: ConfigSchema = librarySchema()): TuneConfig[] {
  const axes = normalizeGrid(grid, schema);
  const fixed = schema.normalize(base, "the fixed flags (base)");
  for (const key of Object.keys(fixed) as HakmemConfigKey[]) {
    if (RESERVED.includes(key)) throw new TuneError("BAD_ARGUMENT", `${key} cannot be fixed: the sweep sets it for each run`);
    if (axes.has(key)) throw new TuneError("BAD_ARGUMENT", `${key} is both swept (grid) and fixed (base)`);
  }
  const keys = [...axes.keys()];
  const order = schema.specs.map((s) => s.key);

  let points: Record<string, FlagValue>[] = [{}];
  for (const key of keys) {
    const next: Record<string, FlagValue>[] = [];
    for (const p of points) for (const v of axes.get(key) as FlagValue[]) next.push({ ...p, [key]: v });
    points = next;
  }
  const defaults = keys.map((k) => [k, defaultValue(schema, k)] as const);
  const same = (p: Record<string, FlagValue>, q: Record<string, FlagValue>) => keys.every((k) => p[k] === q[k]);
  let baselineIndex = -1;
  if (defaults.every(([, v]) => v !== undefined)) {
    const baseline = Object.fromEntries(defaults) as Record<string, FlagValue>;
    baselineIndex = points.findIndex((p) => same(p, baseline));
    if (baselineIndex === -1) baselineIndex = points.push(baseline) - 1;
  }
  const varying = keys.filter((k) => new Set(points.map((p) => p[k])).size > 1);
  const labelKeys = varying.length > 0 ? varying : keys;
  return points.map((point, index) => {
    const merged = { ...fixed, ...point } as Record<string, FlagValue>;
    const options = Object.fromEntries(
      Object.entries(merged).sort(([a], [b]) => order.indexOf(a as HakmemConfigKey) - order.indexOf(b as HakmemConfigKey)),
    ) as Partial<HakmemConfig>;
    const env = schema.toEnv(options as HakmemOptions);
    const id = Object.entries(env)
      .map(([name, text]) => `${name}=${text}`)
      .join(" ");
    const label =
      labelKeys.length === 0
        ? "defaults"
        : labelKeys.map((k) => `${SHORT[k] ?? k}=${valueText(schema, k, point[k] as FlagValue)}`).join(" ");
    return { id: id === "" ? "defaults" : id, label, options, env, baseline: index === baselineIndex };
  });
}

/**
 * Parses a comma-separated command-line list of values for one flag, as the C side parses the environment's text
 * (`"512K,1M"`, `"0,16,64"`, `"off,populate"`), validating each. `option` names the command-line option in
 * messages. Throws `BAD_CONFIG` for a bad value, `BAD_ARGUMENT` for an empty item or a value listed twice.
 */
export function parseFlagList(key: HakmemConfigKey, text: string, option: string, schema: ConfigSchema = librarySchema()): FlagValue[] {
  const spec = specOf(schema, key, option);
  const items = text.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new TuneError("BAD_ARGUMENT", `${option} wants a comma-separated list with no empty items; got ${JSON.stringify(text)}`);
  const out: FlagValue[] = [];
  for (const item of items) {
    const v = schema.parseText(spec, item, option);
    if (out.includes(v)) throw new TuneError("BAD_ARGUMENT", `${option} lists ${valueText(schema, key, v)} twice`);
    out.push(v);
  }
  return out;
}
