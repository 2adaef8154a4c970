/**
 * build/libhakmem_preload.so as a drop-in malloc: ordinary programs behave
 * exactly as they do with the system allocator, HAKMEM_STATS=1 reports at
 * exit, and both libraries export exactly the symbols they promise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FFI_LIB, PRELOAD_LIB, report, run } from "./support.ts";

const TIMEOUT_MS = 120_000;
const LOCALE = { LC_ALL: "C" };
const PRELOAD = { ...LOCALE, LD_PRELOAD: PRELOAD_LIB };

let workDir = "";
let sortInput = "";

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "hakmem-preload-"));
  sortInput = join(workDir, "lines.txt");
  await Bun.write(sortInput, generateLines(200_000));
});

afterAll(() => {
  if (workDir !== "") rmSync(workDir, { recursive: true, force: true });
});

/** count deterministic lines of varying length and content, in no particular order. */
function generateLines(count: number): string {
  let x = 2463534242;
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    lines.push(`${x.toString(36)} ${"abcdefghij".repeat(x % 7)} ${i}`);
  }
  return `${lines.join("\n")}\n`;
}

const PYTHON_DICT_SORT = `
import zlib
d = {}
for i in range(100000):
    d["key-%d" % ((i * 7919) % 100003)] = [i, str(i * i), (i % 97) * 1.5]
items = sorted(d.items())
print(len(items), zlib.crc32(repr(items).encode()))
`;

/**
 * Runs argv with the system malloc, with the preload library, and with the
 * preload library and HAKMEM_STATS=1: the same exit code and byte-identical
 * stdout every time, and with HAKMEM_STATS=1 the report on stderr.
 */
async function expectSameWithPreload(argv: string[]): Promise<void> {
  const plain = await run(argv, { env: LOCALE });
  expect(plain.exitCode, report(plain, LOCALE)).toBe(0);
  const expected = `=== expected stdout (system malloc) ===\n${plain.stdout.slice(0, 2000)}`;

  for (const env of [PRELOAD, { ...PRELOAD, HAKMEM_STATS: "1" }]) {
    const result = await run(argv, { env });
    const message = `${report(result, env)}\n${expected}`;
    expect(result.exitCode, message).toBe(plain.exitCode);
    expect(result.stdout === plain.stdout, message).toBe(true);
  }
}

/** Runs argv with the preload library and HAKMEM_STATS=1 and expects the exit report on stderr. */
async function expectStatsReport(argv: string[]): Promise<void> {
  const env = { ...PRELOAD, HAKMEM_STATS: "1" };
  const result = await run(argv, { env });
  const message = report(result, env, false);
  expect(result.exitCode, message).toBe(0);
  expect(result.stderr, message).toMatch(/^== hakmem stats ==$/m);
  const allocs = /^\s*allocs: (\d+)$/m.exec(result.stderr);
  expect(allocs, `no "allocs: N" line\n${message}`).not.toBeNull();
  expect(Number(allocs![1]), message).toBeGreaterThan(0);
}

const PROGRAMS: { name: string; argv: () => string[]; available: boolean }[] = [
  { name: "ls -1 /usr/bin", argv: () => ["ls", "-1", "/usr/bin"], available: true },
  { name: "sort of 200,000 lines", argv: () => ["sort", sortInput], available: true },
  {
    name: "python3 sorting a 100,000-entry dict",
    argv: () => ["python3", "-c", PYTHON_DICT_SORT],
    available: Bun.which("python3") !== null,
  },
  { name: "git --version", argv: () => ["git", "--version"], available: Bun.which("git") !== null },
];

describe("LD_PRELOAD=build/libhakmem_preload.so", () => {
  for (const program of PROGRAMS) {
    test.skipIf(!program.available)(`${program.name}: same stdout and exit code`, () => expectSameWithPreload(program.argv()), TIMEOUT_MS);
  }
});

describe("LD_PRELOAD=build/libhakmem_preload.so HAKMEM_STATS=1", () => {
  for (const program of PROGRAMS) {
    test.skipIf(!program.available)(`${program.name}: report on stderr at exit`, () => expectStatsReport(program.argv()), TIMEOUT_MS);
  }
});

const MALLOC_FAMILY = [
  "malloc",
  "free",
  "calloc",
  "realloc",
  "reallocarray",
  "posix_memalign",
  "aligned_alloc",
  "memalign",
  "valloc",
  "pvalloc",
  "malloc_usable_size",
];

/** Symbols the static linker defines in every shared object. */
const LINKER_SYMBOLS = new Set(["_init", "_fini", "_edata", "_end", "__bss_start"]);

/** Global symbols a shared library defines in its dynamic symbol table (functions, data, bss, rodata, ifuncs). */
async function exportedSymbols(library: string): Promise<string[]> {
  const result = await run(["nm", "-D", "--defined-only", library]);
  expect(result.exitCode, report(result)).toBe(0);
  const names = new Set<string>();
  for (const line of result.stdout.split("\n")) {
    const match = /^[0-9a-fA-F]*\s+([TWDBRVi])\s+(\S+)$/.exec(line.trim());
    if (match === null) continue;
    const name = match[2]!.replace(/@.*$/, "");
    if (!LINKER_SYMBOLS.has(name)) names.add(name);
  }
  return [...names].sort();
}

describe("exported symbols (nm -D --defined-only)", () => {
  test("build/libhakmem.so exports only hak_* symbols", async () => {
    const symbols = await exportedSymbols(FFI_LIB);
    expect(symbols).toContain("hak_malloc");
    expect(symbols.filter((name) => !name.startsWith("hak_"))).toEqual([]);
  });

  test("build/libhakmem_preload.so exports the hak_* symbols and the malloc family, nothing else", async () => {
    const api = await exportedSymbols(FFI_LIB);
    const symbols = await exportedSymbols(PRELOAD_LIB);
    const expected = [...new Set([...api, ...MALLOC_FAMILY])].sort();
    const missing = expected.filter((name) => !symbols.includes(name));
    const extra = symbols.filter((name) => !expected.includes(name));
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
  });
});
