/**
 * Adversarial programs under the preload library: what programs no one here
 * wrote do to an allocator. Each program (tests/adversarial/*.c, built into
 * build/adversarial/) checks its own pass condition and prints "ok ..." as its
 * last line (or "FAIL: <why>" and exit 1); a hang is a timeout here. Some run
 * under glibc alone too, as the reference a figure is compared with.
 *
 *   atfork_alloc      fork with allocating pthread_atfork handlers registered before hakmem's
 *   fork_threads      fork from threads while others allocate in every tier
 *   key_dtor          pthread_key destructors that allocate in every round (no heap left behind)
 *   thread_churn      10,000 threads handing blocks to the main thread
 *   map_count         vm.max_map_count exhausted: failures are ENOMEM, nothing is lost
 *   fault_mmap        HAKMEM_FAULT_MMAP_FAIL_EVERY: every refusal is a clean ENOMEM
 *   rss_after_free    memory freed into exited threads' heaps goes back (compared with glibc)
 *   glibc_semantics   memalign, huge alignments, mallinfo2, malloc_trim, malloc_stats as glibc
 *   realloc_walk      64 buffers resized at random across the tiers: contents and usable sizes kept
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUILD, PRELOAD_LIB, report, run, type RunResult } from "./support.ts";

const TIMEOUT_MS = 60_000;
const DIR = join(BUILD, "adversarial");
const PRELOAD: Record<string, string> = { LC_ALL: "C", LD_PRELOAD: PRELOAD_LIB };
const GLIBC: Record<string, string> = { LC_ALL: "C" };

async function runProgram(program: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  const binary = join(DIR, program);
  expect(await Bun.file(binary).exists(), `${binary} was not built (make adversarial)`).toBe(true);
  return run([binary, ...args], { env, timeoutMs: TIMEOUT_MS - 5_000 });
}

/** The program ran to its end and its pass condition held. */
function expectOk(result: RunResult, env: Record<string, string>, quiet = true): void {
  const why = report(result, env);
  expect(result.timedOut, why).toBe(false);
  expect(result.signal, why).toBeNull();
  expect(result.exitCode, why).toBe(0);
  expect(result.stdout, why).toMatch(/^(ok|skip)\b.*\n$/m);
  if (quiet) expect(result.stderr, why).toBe("");
}

describe("fork", () => {
  test("allocating atfork handlers of a library loaded before hakmem: 10 forks from two threads", async () => {
    const result = await runProgram("atfork_alloc", [], PRELOAD);
    expectOk(result, PRELOAD);
    expect(result.stdout).toContain("ok 10 forks");
  }, TIMEOUT_MS);

  test("40 forks from two threads while two others allocate in every tier; every child exits 0", async () => {
    const result = await runProgram("fork_threads", ["20"], PRELOAD);
    expectOk(result, PRELOAD);
    expect(result.stdout).toContain("ok 40 forks");
  }, TIMEOUT_MS);
});

describe("threads", () => {
  test("2,000 threads whose key destructor allocates in every round: the resident set grows < 8 MiB", async () => {
    const result = await runProgram("key_dtor", ["2000"], PRELOAD);
    expectOk(result, PRELOAD);
    expect(result.stdout).toContain("ok 2000 threads");
  }, TIMEOUT_MS);

  test("10,000 threads handing blocks to the main thread: contents intact, resident set within 16 MiB", async () => {
    const result = await runProgram("thread_churn", ["10000"], PRELOAD);
    expectOk(result, PRELOAD);
    expect(result.stdout).toContain("ok 10000 threads");
  }, TIMEOUT_MS);
});

describe("the OS says no", () => {
  test("vm.max_map_count exhausted: ENOMEM or usable memory, recovery in every tier, nothing lost", async () => {
    const result = await runProgram("map_count", [], PRELOAD);
    expectOk(result, PRELOAD, false);
  }, TIMEOUT_MS);

  // Large blocks live in arenas reserved once, so with the defaults few calls reach mmap at all: at
  // HAKMEM_LARGE_MAX_BLOCK=64K every large block is a mapping of its own and the injected failures must show.
  for (const every of ["3", "17"]) {
    test(`HAKMEM_FAULT_MMAP_FAIL_EVERY=${every}, a mapping per large block: every refused call is NULL with ENOMEM, the rest intact`, async () => {
      const env = { ...PRELOAD, HAKMEM_FAULT_MMAP_FAIL_EVERY: every, HAKMEM_LARGE_MAX_BLOCK: "64K" };
      const result = await runProgram("fault_mmap", [], env);
      expectOk(result, env, false);
      const refused = Number(/refused with ENOMEM (\d+)/.exec(result.stdout)?.[1] ?? "0");
      expect(refused, `the injected failures must reach the program\n${report(result, env)}`).toBeGreaterThan(0);
    }, TIMEOUT_MS);
  }

  test("HAKMEM_FAULT_MMAP_FAIL_EVERY=3 with the default arenas: every refused call is NULL with ENOMEM, the rest intact", async () => {
    const env = { ...PRELOAD, HAKMEM_FAULT_MMAP_FAIL_EVERY: "3" };
    const result = await runProgram("fault_mmap", [], env);
    expectOk(result, env, false);
  }, TIMEOUT_MS);
});

interface RssFigures {
  peak: number;
  afterFree: number;
  afterTrim: number;
  afterNewThread: number;
}

function rssFigures(result: RunResult, env: Record<string, string>): RssFigures {
  expectOk(result, env, false);
  const m = /rss peak (\d+) \/ after_free (\d+) \/ after_trim (\d+) \/ after_new_thread (\d+)/.exec(result.stdout);
  expect(m, report(result, env)).not.toBeNull();
  const [peak, afterFree, afterTrim, afterNewThread] = m!.slice(1).map(Number) as [number, number, number, number];
  return { peak, afterFree, afterTrim, afterNewThread };
}

/** hakmem may keep at most twice glibc's figure, or glibc's plus 16 MiB. */
function bound(glibcKib: number): number {
  return Math.max(2 * glibcKib, glibcKib + 16 * 1024);
}

describe("memory freed into the heaps of exited threads goes back", () => {
  test("32 threads x 40,000 blocks freed by the main thread: after malloc_trim, RSS close to glibc's", async () => {
    const glibc = rssFigures(await runProgram("rss_after_free", [], GLIBC), GLIBC);
    const result = await runProgram("rss_after_free", [], PRELOAD);
    const hakmem = rssFigures(result, PRELOAD);
    const why = `glibc ${JSON.stringify(glibc)}, hakmem ${JSON.stringify(hakmem)} (KiB)\n${report(result, PRELOAD)}`;
    expect(hakmem.afterTrim, why).toBeLessThanOrEqual(bound(glibc.afterTrim));
    expect(hakmem.afterNewThread, why).toBeLessThanOrEqual(bound(glibc.afterTrim));
  }, TIMEOUT_MS);

  test("the same without malloc_trim and without the SuperSlab cache: the frees alone give it back", async () => {
    const glibc = rssFigures(await runProgram("rss_after_free", [], GLIBC), GLIBC);
    const env = { ...PRELOAD, HAKMEM_SS_LRU_MAX_CACHED: "0" };
    const result = await runProgram("rss_after_free", [], env);
    const hakmem = rssFigures(result, env);
    const why = `glibc ${JSON.stringify(glibc)}, hakmem ${JSON.stringify(hakmem)} (KiB)\n${report(result, env)}`;
    expect(hakmem.afterFree, why).toBeLessThanOrEqual(bound(glibc.afterTrim));
  }, TIMEOUT_MS);
});

describe("glibc's malloc interface", () => {
  for (const [name, env] of [["glibc", GLIBC], ["hakmem", PRELOAD]] as const) {
    test(`memalign rounding, 2^40 alignments refused with ENOMEM, mallinfo2/mallinfo, malloc_trim, malloc_stats (${name})`, async () => {
      const result = await runProgram("glibc_semantics", [], env);
      expectOk(result, env, false);
      expect(result.stderr, report(result, env)).toMatch(/^system bytes\s+=\s+\d+$/m);
      expect(result.stderr, report(result, env)).toMatch(/^in use bytes\s+=\s+\d+$/m);
    }, TIMEOUT_MS);
  }
});

describe("realloc", () => {
  for (const [name, env] of [["glibc", GLIBC], ["hakmem", PRELOAD]] as const) {
    test(`100,000 random resizes of 64 buffers from 1 B to 1 MiB (+64 B, x2, ±1 B, half, any size): every kept byte intact (${name})`, async () => {
      const result = await runProgram("realloc_walk", ["100000"], env);
      expectOk(result, env);
      expect(result.stdout).toContain("ok 100000 reallocs");
    }, TIMEOUT_MS);
  }
});
