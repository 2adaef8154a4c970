/**
 * build/libhakmem_preload.so as a drop-in malloc: ordinary programs behave
 * exactly as they do with the system allocator, HAKMEM_STATS=1 reports at
 * exit, and both libraries export exactly the symbols they promise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FFI_LIB, PRELOAD_LIB, ROOT, report, run } from "./support.ts";

const TIMEOUT_MS = 120_000;
const LOCALE = { LC_ALL: "C" };
const PRELOAD = { ...LOCALE, LD_PRELOAD: PRELOAD_LIB };

let workDir = "";
let sortInput = "";
let bigSortInput = "";
let gitRepo = "";
let cSource = "";
let threadedProgram = "";
let cxxProgram = "";
/** A C++ compiler (the C++ test program is built with it); CI installs g++ where it is missing. */
const CXX = Bun.which("g++") ?? Bun.which("clang++");

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "hakmem-preload-"));
  sortInput = join(workDir, "lines.txt");
  await Bun.write(sortInput, generateLines(200_000));
  bigSortInput = join(workDir, "big.txt");
  await Bun.write(bigSortInput, generateBigFile(50 * 1024 * 1024));
  cSource = join(workDir, "hello.c");
  await Bun.write(cSource, C_PROGRAM);
  threadedProgram = join(workDir, "threads");
  await Bun.write(`${threadedProgram}.c`, THREADED_PROGRAM);
  const cc = await run(["gcc", "-O2", "-pthread", "-o", threadedProgram, `${threadedProgram}.c`]);
  expect(cc.exitCode, report(cc)).toBe(0);
  if (Bun.which("git") !== null) gitRepo = await makeGitRepo(join(workDir, "repo"));
  if (CXX !== null) {
    cxxProgram = join(workDir, "operators");
    const cxx = await run([CXX, "-std=c++17", "-O2", "-o", cxxProgram, join(ROOT, "tests/cxx/operators.cc"), "-ldl"]);
    expect(cxx.exitCode, report(cxx)).toBe(0);
  }
}, TIMEOUT_MS);

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

/** About size bytes of lines (well past sort's in-memory buffer: it spills and merges). */
function generateBigFile(size: number): string {
  const chunk = generateLines(100_000);
  return chunk.repeat(Math.ceil(size / chunk.length));
}

/** A repository with fixed authors and dates, so that its hashes and log are the same on every run. */
async function makeGitRepo(dir: string): Promise<string> {
  const env = {
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@example.invalid",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@example.invalid",
    GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z",
    GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z",
  };
  const script = [
    `git init -q -b main ${dir}`,
    `cd ${dir}`,
    "for i in $(seq 1 40); do seq $i 5000 > file$((i % 7)).txt; git add -A; git commit -q -m commit$i; done",
  ].join(" && ");
  const result = await run(["bash", "-c", script], { env });
  expect(result.exitCode, report(result, env)).toBe(0);
  return dir;
}

const C_PROGRAM = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  unsigned long sum = 0;
  for (int i = 1; i <= 10000; i++) {
    char *p = malloc((size_t)i);
    memset(p, i & 0xff, (size_t)i);
    sum += (unsigned char)p[i - 1];
    free(p);
  }
  printf("sum=%lu\\n", sum);
  return 0;
}
`;

/** Eight threads allocate, hand blocks to each other and free them; prints a checksum. */
const THREADED_PROGRAM = `#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define THREADS 8
#define ROUNDS 20000
static char *mailbox[THREADS][ROUNDS];
static unsigned long sums[THREADS];
static pthread_barrier_t barrier;
static void *work(void *arg) {
  long t = (long)arg;
  for (int i = 0; i < ROUNDS; i++) {
    size_t n = 16 + (size_t)((i * 131 + t * 17) % 5000);
    char *p = malloc(n);
    memset(p, (int)(i + t) & 0xff, n);
    mailbox[t][i] = p;
  }
  pthread_barrier_wait(&barrier);
  long from = (t + 1) % THREADS; /* free the neighbour's blocks: cross-thread frees */
  for (int i = 0; i < ROUNDS; i++) {
    char *p = mailbox[from][i];
    sums[t] += (unsigned char)p[0];
    p = realloc(p, 64);
    free(p);
  }
  return NULL;
}
int main(void) {
  pthread_t tid[THREADS];
  pthread_barrier_init(&barrier, NULL, THREADS);
  for (long t = 0; t < THREADS; t++) pthread_create(&tid[t], NULL, work, (void *)t);
  unsigned long total = 0;
  for (int t = 0; t < THREADS; t++) { pthread_join(tid[t], NULL); total += sums[t]; }
  printf("total=%lu\\n", total);
  return 0;
}
`;

const PYTHON_MILLION_DICT = `
import zlib
d = {"k%07d" % ((i * 7919) % 1000003): i for i in range(1000000)}
items = sorted(d.items(), key=lambda kv: (kv[1] % 1000, kv[0]))
print(len(items), zlib.crc32(repr(items[:1000] + items[-1000:]).encode()))
`;

const JS_SCRIPT = `
const m = new Map();
for (let i = 0; i < 200000; i++) m.set("k" + i, { i, s: String(i * 31) });
let sum = 0;
for (const [, v] of m) sum += v.s.length;
console.log(m.size, sum, JSON.stringify([...m.keys()].slice(-3)));
`;

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

const GIT_SEQUENCE = (repo: string, dir: string) =>
  `git clone -q ${repo} ${dir}/clone && git -C ${dir}/clone log --format='%H %s' && ` +
  `git -C ${dir}/clone gc -q && git -C ${dir}/clone fsck --no-progress && rm -rf ${dir}/clone`;

interface Program {
  name: string;
  argv: () => string[];
  available: boolean;
  /** false for programs that leave through _exit, so no destructor prints the report */
  reportsAtExit?: boolean;
}

const PROGRAMS: Program[] = [
  { name: "ls -1 /usr/bin", argv: () => ["ls", "-1", "/usr/bin"], available: true },
  { name: "sort of 200,000 lines", argv: () => ["sort", sortInput], available: true },
  {
    name: "sort --parallel=4 of a 50 MB file (multi-threaded)",
    argv: () => ["sort", "--parallel=4", "-S", "8M", bigSortInput],
    available: true,
  },
  {
    name: "python3 sorting a 100,000-entry dict",
    argv: () => ["python3", "-c", PYTHON_DICT_SORT],
    available: Bun.which("python3") !== null,
  },
  {
    name: "python3 building and sorting a million-entry dict",
    argv: () => ["python3", "-c", PYTHON_MILLION_DICT],
    available: Bun.which("python3") !== null,
  },
  { name: "git --version", argv: () => ["git", "--version"], available: Bun.which("git") !== null },
  {
    name: "git clone, log, gc and fsck of a local repository",
    argv: () => ["bash", "-c", GIT_SEQUENCE(gitRepo, workDir)],
    available: Bun.which("git") !== null,
  },
  {
    name: "gcc compiling a C file, then running it",
    argv: () => ["bash", "-c", `gcc -O2 -o ${workDir}/hello ${cSource} && ${workDir}/hello`],
    available: true,
  },
  { name: "a program with 8 threads freeing each other's blocks", argv: () => [threadedProgram], available: true },
  {
    name: "a C++ program using every form of operator new and delete (tests/cxx/operators.cc)",
    argv: () => [cxxProgram],
    available: CXX !== null,
  },
  { name: "node running a script", argv: () => ["node", "-e", JS_SCRIPT], available: Bun.which("node") !== null },
  { name: "bun running a script", argv: () => [process.execPath, "-e", JS_SCRIPT], available: true, reportsAtExit: false },
];

describe("LD_PRELOAD=build/libhakmem_preload.so", () => {
  for (const program of PROGRAMS) {
    test.skipIf(!program.available)(`${program.name}: same stdout and exit code`, () => expectSameWithPreload(program.argv()), TIMEOUT_MS);
  }
});

describe("LD_PRELOAD=build/libhakmem_preload.so HAKMEM_STATS=1", () => {
  for (const program of PROGRAMS.filter((p) => p.reportsAtExit !== false)) {
    test.skipIf(!program.available)(`${program.name}: report on stderr at exit`, () => expectStatsReport(program.argv()), TIMEOUT_MS);
  }

  // Bun leaves through _exit, so no destructor prints a report: the script itself shows hakmem is mapped.
  test("bun runs with hakmem mapped in place of the system malloc", async () => {
    const script = `console.log(require("fs").readFileSync("/proc/self/maps", "utf8").includes("libhakmem_preload.so"))`;
    const result = await run([process.execPath, "-e", script], { env: PRELOAD });
    expect(result.exitCode, report(result, PRELOAD)).toBe(0);
    expect(result.stdout.trim(), report(result, PRELOAD)).toBe("true");
  }, TIMEOUT_MS);
});

/** C++'s operators new and delete (csrc/preload_cxx.c), by their mangled names. */
const CXX_OPERATORS = [
  "_Znwm",
  "_Znam",
  "_ZnwmRKSt9nothrow_t",
  "_ZnamRKSt9nothrow_t",
  "_ZnwmSt11align_val_t",
  "_ZnamSt11align_val_t",
  "_ZnwmSt11align_val_tRKSt9nothrow_t",
  "_ZnamSt11align_val_tRKSt9nothrow_t",
  "_ZdlPv",
  "_ZdaPv",
  "_ZdlPvm",
  "_ZdaPvm",
  "_ZdlPvRKSt9nothrow_t",
  "_ZdaPvRKSt9nothrow_t",
  "_ZdlPvSt11align_val_t",
  "_ZdaPvSt11align_val_t",
  "_ZdlPvmSt11align_val_t",
  "_ZdaPvmSt11align_val_t",
  "_ZdlPvSt11align_val_tRKSt9nothrow_t",
  "_ZdaPvSt11align_val_tRKSt9nothrow_t",
];

describe("C++ under LD_PRELOAD=build/libhakmem_preload.so", () => {
  // The operators from hakmem, not libstdc++: each costs a call through the PLT to malloc or free less.
  test.skipIf(CXX === null)("every form of operator new and delete resolves to hakmem's", async () => {
    const result = await run([cxxProgram], { env: PRELOAD });
    const message = report(result, PRELOAD, false);
    expect(result.exitCode, message).toBe(0);
    const from = new Map(
      result.stderr
        .split("\n")
        .map((line) => /^(\S+) from (\S+)$/.exec(line))
        .filter((match) => match !== null)
        .map((match) => [match![1]!, match![2]!]),
    );
    expect([...from.keys()].sort(), message).toEqual([...CXX_OPERATORS].sort());
    const elsewhere = [...from].filter(([, library]) => library !== PRELOAD_LIB);
    expect(elsewhere, message).toEqual([]);
  }, TIMEOUT_MS);
});

const MALLOC_FAMILY = [
  "malloc",
  "free",
  "free_sized",
  "free_aligned_sized",
  "calloc",
  "realloc",
  "reallocarray",
  "posix_memalign",
  "aligned_alloc",
  "memalign",
  "valloc",
  "pvalloc",
  "malloc_usable_size",
  "malloc_trim",
  "malloc_stats",
  "mallinfo2",
  "mallinfo",
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

  test("build/libhakmem_preload.so exports the hak_* symbols, the malloc family and C++'s new and delete, nothing else", async () => {
    const api = await exportedSymbols(FFI_LIB);
    const symbols = await exportedSymbols(PRELOAD_LIB);
    const expected = [...new Set([...api, ...MALLOC_FAMILY, ...CXX_OPERATORS])].sort();
    const missing = expected.filter((name) => !symbols.includes(name));
    const extra = symbols.filter((name) => !expected.includes(name));
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
  });
});
