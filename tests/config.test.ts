/**
 * Configuration from TypeScript: the flag table checked against hak_config_describe() both ways and against
 * README.md; toEnv, fromEnv and loadConfig; and configure() in fresh processes (configuration is process-wide and
 * freezes at the first allocation, so each case gets its own `bun tests/config.child.ts`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type DescribedFlag,
  type FlagDef,
  FLAGS,
  formatSize,
  fromEnv,
  type HakmemConfig,
  type HakmemConfigKey,
  type HakmemOptions,
  loadConfig,
  parseSize,
  TABLE_SCHEMA,
  toEnv,
  describeFlags,
} from "../src/index.ts";
import { FLAG_ALIASES } from "../src/config.ts";
import { expectCode, PRELOAD_LIB, report, ROOT, run } from "./support.ts";

const ENTRY = join(ROOT, "src", "index.ts");
const CHILD = join(ROOT, "tests", "config.child.ts");
const KEYS = Object.keys(FLAGS) as HakmemConfigKey[];
const described: DescribedFlag[] = describeFlags();

let tmp = "";
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "hakmem-config-"));
});
afterAll(() => {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
});

/** Runs the child script in a fresh bun process; returns its JSON output. */
async function child<T>(mode: string, options?: unknown, env: Record<string, string> = {}, entry = ENTRY): Promise<T> {
  const argv = [process.execPath, CHILD, entry, mode, ...(options === undefined ? [] : [JSON.stringify(options)])];
  const result = await run(argv, { env });
  expect(result.exitCode, report(result, env)).toBe(0);
  return JSON.parse(result.stdout) as T;
}

/** What a C flag's description says about one TypeScript table row, as a list of disagreements. */
function disagreements(key: string, def: FlagDef, c: DescribedFlag): string[] {
  const out: string[] = [];
  const where = `${key} (${c.name})`;
  if (def.kind !== c.type) return [`${where}: kind ${def.kind} in TypeScript, ${c.type} in C`];
  switch (def.kind) {
    case "bool":
      if (c.min !== 0 || c.max !== 1) out.push(`${where}: C range ${c.min}..${c.max} for a bool`);
      break;
    case "int":
      if (def.min !== c.min || def.max !== c.max) out.push(`${where}: range ${def.min}..${def.max} in TypeScript, ${c.min}..${c.max} in C`);
      break;
    case "size": {
      const cChoices = c.values.map((v) => parseSize(v));
      if (JSON.stringify(def.choices) !== JSON.stringify(cChoices))
        out.push(`${where}: sizes [${def.choices.map(formatSize)}] in TypeScript, [${c.values}] in C`);
      if (def.min !== c.min || def.max !== c.max)
        out.push(`${where}: range ${formatSize(def.min)}..${formatSize(def.max)} in TypeScript, ${formatSize(c.min)}..${formatSize(c.max)} in C`);
      break;
    }
    case "enum":
      if (JSON.stringify(def.values) !== JSON.stringify(c.values)) out.push(`${where}: values [${def.values}] in TypeScript, [${c.values}] in C`);
      break;
    case "path":
      if (def.maxBytes !== c.max) out.push(`${where}: at most ${def.maxBytes} bytes in TypeScript, ${c.max} in C`);
      break;
  }
  return out;
}

describe("the TypeScript flag table and hak_config_describe() agree", () => {
  test("the C library describes flags", () => {
    expect(described.length).toBeGreaterThan(0);
    for (const f of described) expect(f.name).toMatch(/^HAKMEM_[A-Z0-9_]+$/);
  });

  test("every C flag has a TypeScript key of the same kind and range", () => {
    const byEnv = new Map(KEYS.map((key) => [FLAGS[key].env, key] as const));
    const problems: string[] = [];
    for (const f of described) {
      const key = byEnv.get(f.name);
      if (key === undefined) problems.push(`${f.name} (${f.type}) has no key in FLAGS (src/config.ts)`);
      else problems.push(...disagreements(key, FLAGS[key], f));
    }
    expect(problems).toEqual([]);
  });

  test("every TypeScript key names a flag the C library has", () => {
    const cNames = new Set(described.map((f) => f.name));
    const missing = KEYS.filter((key) => !cNames.has(FLAGS[key].env)).map((key) => `${key} (${FLAGS[key].env})`);
    expect(missing).toEqual([]);
  });

  test("keys and environment names are unique, keys are camelCase", () => {
    expect(new Set(KEYS.map((k) => FLAGS[k].env)).size).toBe(KEYS.length);
    for (const key of KEYS) expect(key).toMatch(/^[a-z][A-Za-z0-9]*$/);
  });

  test("describeFlags() gives each flag its key; config() reports every key", async () => {
    for (const f of describeFlags()) expect(f.key === undefined ? undefined : FLAGS[f.key].env).toBe(f.name);
    const { config } = await child<{ config: HakmemConfig }>("config");
    expect(Object.keys(config).sort()).toEqual([...KEYS].sort());
  });

  test("a fresh process with no HAKMEM_* variables runs on the C defaults", async () => {
    const { config, locked } = await child<{ config: Record<string, unknown>; locked: boolean }>("config");
    expect(locked).toBe(false);
    for (const f of described) {
      const spec = TABLE_SCHEMA.specOfEnv(f.name);
      expect(spec, `${f.name} has no key in FLAGS`).toBeDefined();
      if (spec) expect(config[spec.key], f.name).toEqual(TABLE_SCHEMA.parseText(spec, f.default));
    }
  });

  test("README.md lists every flag and every configuration key", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(described.map((f) => f.name).filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
    expect(KEYS.filter((key) => !readme.includes(`\`${key}\``))).toEqual([]);
  });
});

describe("toEnv, fromEnv and loadConfig", () => {
  const options: HakmemOptions = {
    superslabSize: "2M",
    lruMaxCached: 10,
    lruTtlSec: 0,
    prefault: "populate",
    hugePages: true,
    largeMaxBlock: 65536,
    largeTrace: false,
    statsFile: "/tmp/hakmem stats.json",
  };
  const normalized = {
    superslabSize: 2 * 1024 * 1024,
    lruMaxCached: 10,
    lruTtlSec: 0,
    prefault: "populate",
    hugePages: true,
    largeMaxBlock: 65536,
    largeTrace: false,
    statsFile: "/tmp/hakmem stats.json",
  };

  test("toEnv writes what the C side parses", () => {
    expect(toEnv(options)).toEqual({
      HAKMEM_SS_SIZE: "2M",
      HAKMEM_SS_LRU_MAX_CACHED: "10",
      HAKMEM_SS_LRU_TTL_SEC: "0",
      HAKMEM_SS_PREFAULT: "populate",
      HAKMEM_USE_HUGEPAGES: "1",
      HAKMEM_LARGE_MAX_BLOCK: "64K",
      HAKMEM_LARGE_TRACE: "0",
      HAKMEM_STATS_FILE: "/tmp/hakmem stats.json",
    });
    expect(toEnv({})).toEqual({});
    expect(toEnv({ largeMaxBlock: "1G", superslabSize: 524288 })).toEqual({ HAKMEM_LARGE_MAX_BLOCK: "1G", HAKMEM_SS_SIZE: "512K" });
  });

  test("toEnv validates", () => {
    expect(expectCode(() => toEnv({ superslabSize: "3M" } as HakmemOptions), "BAD_CONFIG").message).toContain("superslabSize");
    expectCode(() => toEnv({ bogus: 1 } as HakmemOptions), "BAD_CONFIG");
  });

  test("fromEnv reads toEnv's output back", () => {
    expect(fromEnv(toEnv(options))).toEqual(normalized as Partial<HakmemConfig>);
  });

  test("fromEnv parses as C does and ignores everything that is not a flag", () => {
    const env = {
      HAKMEM_SS_SIZE: "4m",
      HAKMEM_LARGE_MAX_BLOCK: "2MiB",
      HAKMEM_USE_HUGEPAGES: "yes",
      HAKMEM_CHECK: "off",
      HAKMEM_SS_PREFAULT: "MADVISE",
      HAKMEM_SS_LRU_MAX_MB: "+100",
      HAKMEM_LIB: "/somewhere/libhakmem.so",
      PATH: "/usr/bin",
      HOME: undefined,
    };
    expect(fromEnv(env)).toEqual({
      superslabSize: 4 * 1024 * 1024,
      largeMaxBlock: 2 * 1024 * 1024,
      hugePages: true,
      check: false,
      prefault: "madvise",
      lruMaxMB: 100,
    });
  });

  test("fromEnv rejects bad values and unknown HAKMEM_* variables, naming them", () => {
    const cases: Array<[Record<string, string>, string[]]> = [
      [{ HAKMEM_SS_SIZE: "3M" }, ["HAKMEM_SS_SIZE", "512K, 1M, 2M, 4M"]],
      [{ HAKMEM_SS_LRU_MAX_CACHED: "lots" }, ["HAKMEM_SS_LRU_MAX_CACHED", "0 to 65536"]],
      [{ HAKMEM_SS_LRU_TTL_SEC: "1.5" }, ["HAKMEM_SS_LRU_TTL_SEC"]],
      [{ HAKMEM_USE_HUGEPAGES: "2" }, ["HAKMEM_USE_HUGEPAGES"]],
      [{ HAKMEM_LARGE_MAX_BLOCK: "2G" }, ["HAKMEM_LARGE_MAX_BLOCK", "64K to 1G"]],
      [{ HAKMEM_SS_SIZE_TYPO: "1M" }, ["HAKMEM_SS_SIZE_TYPO", "unknown"]],
    ];
    for (const [env, fragments] of cases) {
      const e = expectCode(() => fromEnv(env), "BAD_CONFIG");
      for (const fragment of fragments) expect(e.message).toContain(fragment);
    }
  });

  test("fromEnv() reads process.env by default", () => {
    const saved = process.env.HAKMEM_SS_LRU_TTL_SEC;
    process.env.HAKMEM_SS_LRU_TTL_SEC = "17";
    try {
      expect(fromEnv().lruTtlSec).toBe(17);
    } finally {
      if (saved === undefined) delete process.env.HAKMEM_SS_LRU_TTL_SEC;
      else process.env.HAKMEM_SS_LRU_TTL_SEC = saved;
    }
  });

  test("loadConfig reads a JSON file with camelCase keys", () => {
    const path = join(tmp, "good.json");
    writeFileSync(path, JSON.stringify(options));
    expect(loadConfig(path)).toEqual(normalized as Partial<HakmemConfig>);
  });

  test("loadConfig reads a flat JSON file keyed by HAKMEM_* names, as HAKMEM_CONFIG does", () => {
    const path = join(tmp, "flags.json");
    writeFileSync(
      path,
      JSON.stringify({
        HAKMEM_SS_SIZE: "2M",
        HAKMEM_SS_LRU_MAX_CACHED: 64,
        HAKMEM_SS_LRU_MAX_MB: "128",
        HAKMEM_SS_LRU_TTL_SEC: 0,
        HAKMEM_SS_PREFAULT: "Populate",
        HAKMEM_USE_HUGEPAGES: false,
        HAKMEM_CHECK: 1,
        HAKMEM_SECURE: "on",
        HAKMEM_LARGE_MAX_BLOCK: 65536,
        HAKMEM_LARGE_CACHE_MAX_RUNS: true,
        HAKMEM_STATS_FILE: "/tmp/hakmem stats.json",
      }),
    );
    expect(loadConfig(path)).toEqual({
      superslabSize: 2 * 1024 * 1024,
      lruMaxCached: 64,
      lruMaxMB: 128,
      lruTtlSec: 0,
      prefault: "populate",
      hugePages: false,
      check: true,
      secure: true,
      largeMaxBlock: 65536,
      largeCacheMaxRuns: 1, // as in C: true is the text "1"
      statsFile: "/tmp/hakmem stats.json",
    });
    writeFileSync(path, "{}");
    expect(loadConfig(path)).toEqual({});
  });

  test("toFlagFile writes the HAKMEM_* file format and loadConfig reads it back", () => {
    const file = TABLE_SCHEMA.toFlagFile(options);
    expect(file).toEqual({
      HAKMEM_SS_SIZE: "2M",
      HAKMEM_SS_LRU_MAX_CACHED: 10,
      HAKMEM_SS_LRU_TTL_SEC: 0,
      HAKMEM_SS_PREFAULT: "populate",
      HAKMEM_USE_HUGEPAGES: true,
      HAKMEM_LARGE_MAX_BLOCK: "64K",
      HAKMEM_LARGE_TRACE: false,
      HAKMEM_STATS_FILE: "/tmp/hakmem stats.json",
    });
    const path = join(tmp, "roundtrip.json");
    writeFileSync(path, JSON.stringify(file));
    expect(loadConfig(path)).toEqual(normalized as Partial<HakmemConfig>);
    expect(expectCode(() => TABLE_SCHEMA.toFlagFile({ lruMaxCached: -1 }), "BAD_CONFIG").message).toContain("lruMaxCached");
  });


  test("loadConfig rejects unknown keys, bad values and malformed JSON, naming the file", () => {
    const cases: Array<[string, string[]]> = [
      ['{"superslabSize": "1M", "lruTTL": 5}', ["lruTTL", "known keys"]],
      ['{"superslabSize": "1M", "HAKMEM_SS_LRU_TTL_SEC": 5}', ["HAKMEM_SS_LRU_TTL_SEC", "superslabSize", "either"]],
      ['{"HAKMEM_SS_SIZE": "3M"}', ["HAKMEM_SS_SIZE", "512K, 1M, 2M, 4M"]],
      ['{"HAKMEM_SS_LRU_MAX_CACHED": 70000}', ["HAKMEM_SS_LRU_MAX_CACHED", "0 to 65536"]],
      ['{"HAKMEM_SS_LRU_MAX_CACHED": 1.5}', ["HAKMEM_SS_LRU_MAX_CACHED"]],
      ['{"HAKMEM_SS_LRU_TTL_SEC": [1]}', ["HAKMEM_SS_LRU_TTL_SEC"]],
      ['{"HAKMEM_USE_HUGEPAGES": 2}', ["HAKMEM_USE_HUGEPAGES", "true or false"]],
      ['{"HAKMEM_SS_SIZE": 3145728}', ["HAKMEM_SS_SIZE", "512K, 1M, 2M, 4M"]],
      ['{"HAKMEM_USE_HUGEPAGES": "maybe"}', ["HAKMEM_USE_HUGEPAGES"]],
      ['{"HAKMEM_SS_PREFAULT": 1}', ["HAKMEM_SS_PREFAULT", "populate"]],
      ['{"HAKMEM_SS_SIZE": null}', ["HAKMEM_SS_SIZE"]],
      ['{"HAKMEM_SS_SIZE_TYPO": "1M"}', ["HAKMEM_SS_SIZE_TYPO", "unknown flag", "HAKMEM_SS_SIZE"]],
      ['{"HAKMEM_LIB": "/x/libhakmem.so"}', ["HAKMEM_LIB", "not an allocator flag"]],
      ['{"lruMaxCached": 70000}', ["lruMaxCached", "0 to 65536"]],
      ['{"prefault": "sometimes"}', ["prefault", "populate"]],
      ["[1, 2]", ["object"]],
      ['{"superslabSize": ', ["not valid JSON"]],
    ];
    cases.forEach(([text, fragments], i) => {
      const path = join(tmp, `bad${i}.json`);
      writeFileSync(path, text);
      const e = expectCode(() => loadConfig(path), "BAD_CONFIG");
      expect(e.message).toContain(path);
      for (const fragment of fragments) expect(e.message).toContain(fragment);
    });
  });

  test("sizes: numbers of bytes or strings with K, M, G", () => {
    expect(parseSize("512K")).toBe(524288);
    expect(parseSize("1m")).toBe(1048576);
    expect(parseSize("2GiB")).toBe(2 * 1024 ** 3);
    expect(parseSize("4MB")).toBe(4 * 1024 ** 2);
    expect(parseSize(65536)).toBe(65536);
    for (const bad of ["1.5M", "-1M", "1T", "M", "", " 1M", 1.5, -1, Number.NaN, "1 M", "64B"]) expect(parseSize(bad)).toBeUndefined();
    expect(formatSize(1024 ** 3)).toBe("1G");
    expect(formatSize(3 * 1024 ** 2)).toBe("3M");
    expect(formatSize(1536)).toBe("1536");
  });
});

describe("configure() in a fresh process", () => {
  interface Outcome {
    lockedBefore: boolean;
    error: string | null;
    config: Record<string, unknown>;
    lockedAfter: boolean;
    superslabBytes: number;
    second: string | null;
  }

  test("before the first allocation it applies every value; after it, CONFIG_LOCKED", async () => {
    const options = {
      superslabSize: "2M",
      lruMaxCached: 7,
      lruMaxMB: 100,
      lruTtlSec: 5,
      prefault: "madvise",
      hugePages: true,
      largeCacheMaxRuns: 3,
      largeCacheMaxMB: 10,
      largeMaxBlock: "1M",
      check: true,
    };
    const out = await child<Outcome>("configure", options);
    expect(out.lockedBefore).toBe(false);
    expect(out.error).toBeNull();
    expect(out.config).toMatchObject({ ...options, superslabSize: 2 * 1024 ** 2, largeMaxBlock: 1024 ** 2 });
    expect(out.lockedAfter).toBe(true);
    expect(out.superslabBytes).toBe(2 * 1024 ** 2); // the allocator really runs on 2 MiB SuperSlabs
    expect(out.second).toBe("CONFIG_LOCKED");
  });

  test("sizes may be numbers of bytes", async () => {
    const out = await child<Outcome>("configure", { superslabSize: 4 * 1024 ** 2 });
    expect(out.error).toBeNull();
    expect(out.superslabBytes).toBe(4 * 1024 ** 2);
  });

  test("a bad value applies nothing, not even the good ones before it", async () => {
    const out = await child<Outcome>("configure", { lruMaxCached: 7, lruTtlSec: -1 });
    expect(out.error).toBe("BAD_CONFIG");
    expect(out.lockedBefore).toBe(false);
    expect(out.config.lruMaxCached).toBe(256);
    expect(out.config.lruTtlSec).toBe(60);
  });

  test("toEnv configures a child process", async () => {
    const options: HakmemOptions = { superslabSize: "512K", lruMaxCached: 3, prefault: "populate", largeTrace: false };
    const { config } = await child<{ config: Record<string, unknown> }>("config", undefined, toEnv(options));
    expect(config).toMatchObject({ superslabSize: 524288, lruMaxCached: 3, prefault: "populate", largeTrace: false });
    const configured = await child<Outcome>("configure", {}, toEnv({ superslabSize: "512K" }));
    expect(configured.superslabBytes).toBe(524288);
  });
});

describe("loading the library", () => {
  interface ImportOutcome {
    noLibrary: { flags: number; size: number; env: Record<string, string>; fromEnv: object; schema: number };
    error: { code: string; message: string } | null;
  }

  /** Imports `entry` in a child process with no usable library; what works, and the first allocation's error. */
  async function importWithout(entry: string, env: Record<string, string> = {}): Promise<ImportOutcome> {
    const result = await run([process.execPath, CHILD, entry, "import"], { env });
    expect(result.exitCode, report(result, env)).toBe(0);
    const out = JSON.parse(result.stdout) as ImportOutcome;
    expect(out.noLibrary).toEqual({
      flags: Object.keys(FLAGS).length,
      size: 2 * 1024 * 1024,
      env: { HAKMEM_SS_SIZE: "2M" },
      fromEnv: { lruMaxCached: 3 },
      schema: 0,
    });
    return out;
  }

  test("HAKMEM_LIB pointing at nothing: importing works, the first allocation gives LIBRARY_NOT_FOUND naming the path", async () => {
    const path = join(tmp, "missing", "libhakmem.so");
    const { error } = await importWithout(ENTRY, { HAKMEM_LIB: path });
    expect(error?.code).toBe("LIBRARY_NOT_FOUND");
    expect(error?.message).toContain(path);
    expect(error?.message).toContain("HAKMEM_LIB");
  });

  test("no library in the package: importing works, the first allocation says what to run", async () => {
    const copy = join(tmp, "package");
    cpSync(join(ROOT, "src"), join(copy, "src"), { recursive: true });
    const { error } = await importWithout(join(copy, "src", "index.ts"));
    expect(error?.code).toBe("LIBRARY_NOT_FOUND");
    expect(error?.message).toContain(join(copy, "build", "libhakmem.so"));
    expect(error?.message).toContain("bunx hakmem build");
    expect(error?.message).toContain(`make libs\` in ${copy}`);
  });

  test("a library that is not one gives LIBRARY_LOAD_FAILED on first use", async () => {
    const bad = join(tmp, "bad", "libhakmem.so");
    cpSync(join(ROOT, "package.json"), bad, { recursive: true });
    const { error } = await importWithout(ENTRY, { HAKMEM_LIB: bad });
    expect(error?.code).toBe("LIBRARY_LOAD_FAILED");
    expect(error?.message).toContain(bad);
  });

  test("HAKMEM_LIB may point at a library elsewhere", async () => {
    const elsewhere = join(tmp, "lib");
    cpSync(join(ROOT, "build", "libhakmem.so"), join(elsewhere, "libhakmem.so"), { recursive: true });
    const env = { HAKMEM_LIB: join(elsewhere, "libhakmem.so") };
    const out = await child<{ config: Record<string, unknown> }>("config", undefined, env);
    expect(out.config.superslabSize).toBe(1024 ** 2);
  });
});

describe("old flag names (HAKMEM_ACE_*, HAKMEM_SHARED_POOL_LOCK_STATS)", () => {
  test("the TypeScript alias table is the C library's (hak_config_describe() lists each flag's old names)", () => {
    const fromC: Record<string, string> = {};
    for (const f of described) for (const old of f.aliases ?? []) fromC[old] = f.name;
    expect(fromC).toEqual({ ...FLAG_ALIASES });
  });

  test("fromEnv and loadConfig accept an old name as the flag it names now", () => {
    expect(fromEnv({ HAKMEM_ACE_MAX_BLOCK: "64K", HAKMEM_SHARED_POOL_LOCK_STATS: "1" })).toEqual({
      largeMaxBlock: 65536,
      lockStats: true,
    });
  });

  test("the C side applies an old name and warns once, naming the new one", async () => {
    const env = { HAKMEM_ACE_MAX_BLOCK: "64K", HAKMEM_ACE_TRACE: "1", HAKMEM_ACE_MAX_MB: "3", HAKMEM_LARGE_CACHE_MAX_RUNS: "1" };
    const result = await run(["/bin/sh", "-c", "exit 0"], { env: { ...env, LD_PRELOAD: PRELOAD_LIB } });
    expect(result.exitCode, report(result, env)).toBe(0);
    const warnings = result.stderr.split("\n").filter((line) => line.includes("is the old name of"));
    expect(warnings.sort()).toEqual([
      "hakmem: warning: HAKMEM_ACE_MAX_BLOCK is the old name of HAKMEM_LARGE_MAX_BLOCK; use the new name",
      "hakmem: warning: HAKMEM_ACE_MAX_MB is the old name of HAKMEM_LARGE_CACHE_MAX_MB; use the new name",
      "hakmem: warning: HAKMEM_ACE_TRACE is the old name of HAKMEM_LARGE_TRACE; use the new name",
    ]);
  });
});
