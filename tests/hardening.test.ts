/**
 * Hardening: invalid frees under the preload library are reported and stop
 * the program, a correct program runs clean with every free validated, and
 * the multi-threaded stress test passes (briefly; CI and `make soak` run it
 * longer, `make asan` / `make tsan` under the sanitizers).
 *
 * Each misuse program (tests/misuse/*.c, built into build/misuse/) prints
 * "free 0x..." with the exact pointer before the bad free(), so the report
 * line can be matched address and all:
 *
 *   hakmem: free(0x...): <kind>        (or realloc(0x...))
 *
 * followed by death by SIGABRT: hakmem's own abort(), or, for a pointer that
 * no allocator handed out, glibc's, after hakmem handed the pointer on.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUILD, PRELOAD_LIB, report, run, type RunResult } from "./support.ts";

const TIMEOUT_MS = 60_000;
const MISUSE = join(BUILD, "misuse");

const DOUBLE_FREE = "double free (the block is already free)";
const INTERIOR = "pointer into the middle of a block";
const NOT_ALLOCATED = "pointer not allocated by hakmem";

interface MisuseCase {
  name: string;
  program: string;
  args: string[];
  /** HAKMEM_CHECK value, when the case needs one. */
  check?: "0" | "1";
  /** Kinds of report accepted (normally exactly one). */
  kinds: string[];
  /** The call named in the report: free (default) or realloc. */
  call?: "free" | "realloc";
}

const CASES: MisuseCase[] = [
  { name: "double free of a small block (HAKMEM_CHECK=1)", program: "double_free", args: ["small"], check: "1", kinds: [DOUBLE_FREE] },
  { name: "double free of a mid block (HAKMEM_CHECK=1)", program: "double_free", args: ["mid"], check: "1", kinds: [DOUBLE_FREE] },
  // A freed large block is no longer known to hakmem (large blocks are found
  // by their start address in the set of live mappings), so it may be
  // reported as not allocated and handed to glibc, which aborts on it.
  { name: "double free of a large block (HAKMEM_CHECK=1)", program: "double_free", args: ["large"], check: "1", kinds: [DOUBLE_FREE, NOT_ALLOCATED] },
  // Default mode: the block just freed, freed again (the head of its slab's list).
  { name: "double free of a small block (default mode)", program: "double_free", args: ["small"], kinds: [DOUBLE_FREE] },
  { name: "double free of a mid block (default mode)", program: "double_free", args: ["mid"], kinds: [DOUBLE_FREE] },
  { name: "realloc of a freed small block (HAKMEM_CHECK=1)", program: "realloc_freed", args: ["small"], check: "1", kinds: [DOUBLE_FREE], call: "realloc" },
  { name: "realloc of a freed mid block (HAKMEM_CHECK=1)", program: "realloc_freed", args: ["mid"], check: "1", kinds: [DOUBLE_FREE], call: "realloc" },
  { name: "realloc of a freed large block (default mode)", program: "realloc_freed", args: ["large"], kinds: [DOUBLE_FREE], call: "realloc" },
  { name: "second free of a small block from a thread that does not own it (HAKMEM_CHECK=1)", program: "cross_thread_double_free", args: ["small"], check: "1", kinds: [DOUBLE_FREE] },
  { name: "second free of a mid block from a thread that does not own it (HAKMEM_CHECK=1)", program: "cross_thread_double_free", args: ["mid"], check: "1", kinds: [DOUBLE_FREE] },
  { name: "address in a slab's tail slack, past the last block", program: "tail_slack", args: [], kinds: [INTERIOR] },
  { name: "address of a SuperSlab's header, past its last block", program: "superslab_header", args: [], kinds: [INTERIOR] },
  { name: "interior pointer into a small block", program: "interior", args: ["small"], kinds: [INTERIOR] },
  { name: "interior pointer into a small block, 8 bytes in", program: "interior", args: ["small", "8"], kinds: [INTERIOR] },
  { name: "interior pointer into a mid block", program: "interior", args: ["mid"], kinds: [INTERIOR] },
  { name: "interior pointer into a large block", program: "interior", args: ["large"], kinds: [INTERIOR] },
  { name: "interior pointer into a large block, 8 bytes in", program: "interior", args: ["large", "8"], kinds: [INTERIOR] },
  { name: "interior pointer into a small block (HAKMEM_CHECK=1)", program: "interior", args: ["small"], check: "1", kinds: [INTERIOR] },
  { name: "interior pointer into a mid block (HAKMEM_CHECK=1)", program: "interior", args: ["mid"], check: "1", kinds: [INTERIOR] },
  { name: "stack address", program: "not_allocated", args: ["stack"], kinds: [NOT_ALLOCATED] },
  { name: "static object", program: "not_allocated", args: ["static"], kinds: [NOT_ALLOCATED] },
  { name: "address in a page the program mapped itself", program: "not_allocated", args: ["mapped"], kinds: [NOT_ALLOCATED] },
  { name: "address in hakmem's SuperSlab arena where no SuperSlab lives", program: "not_allocated", args: ["arena"], kinds: [NOT_ALLOCATED] },
  { name: "stack address (HAKMEM_CHECK=1)", program: "not_allocated", args: ["stack"], check: "1", kinds: [NOT_ALLOCATED] },
];

function envFor(check?: string): Record<string, string> {
  const env: Record<string, string> = { LC_ALL: "C", LD_PRELOAD: PRELOAD_LIB };
  if (check !== undefined) env.HAKMEM_CHECK = check;
  return env;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The pointer the program announced ("free 0x...") just before the bad free. */
function announcedPointer(result: RunResult): string | null {
  return /^free (0x[0-9a-f]+)$/m.exec(result.stdout)?.[1] ?? null;
}

async function runProgram(program: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  const binary = join(MISUSE, program);
  expect(await Bun.file(binary).exists(), `${binary} was not built (make misuse)`).toBe(true);
  return run([binary, ...args], { env, timeoutMs: TIMEOUT_MS - 5_000 });
}

describe("invalid frees under the preload library", () => {
  for (const c of CASES) {
    test(
      c.name,
      async () => {
        const env = envFor(c.check);
        const result = await runProgram(c.program, c.args, env);
        const why = report(result, env);
        expect(result.timedOut, why).toBe(false);
        expect(result.stdout, why).not.toContain("survived");
        const pointer = announcedPointer(result);
        expect(pointer, `no "free 0x..." line on stdout\n${why}`).not.toBeNull();
        // One report line, naming the exact pointer and the kind of misuse.
        const kinds = c.kinds.map(escapeRegExp).join("|");
        const call = c.call ?? "free";
        const line = new RegExp(`^hakmem: ${call}\\(${escapeRegExp(pointer ?? "")}\\): (${kinds})`, "m");
        expect(result.stderr, `expected a line matching ${line}\n${why}`).toMatch(line);
        const reports = result.stderr.split("\n").filter((l) => /^hakmem: (free|realloc)\(/.test(l));
        expect(reports.length, why).toBe(1);
        expect(result.signal, why).toBe("SIGABRT");
      },
      TIMEOUT_MS,
    );
  }
});

describe("correct programs run clean", () => {
  for (const check of ["1", "0"] as const) {
    test(
      `malloc family and cross-thread frees with HAKMEM_CHECK=${check}`,
      async () => {
        const env = envFor(check);
        const result = await runProgram("valid", [], env);
        const why = report(result, env);
        expect(result.exitCode, why).toBe(0);
        expect(result.signal, why).toBeNull();
        expect(result.stdout, why).toMatch(/^ok \d+\n$/);
        expect(result.stderr, why).toBe("");
      },
      TIMEOUT_MS,
    );
  }
});

describe("stress", () => {
  test(
    "build/stress 2 3: two threads for three seconds, every pattern intact, bytes_in_use back to 0",
    async () => {
      const result = await run([join(BUILD, "stress"), "2", "3"], { timeoutMs: TIMEOUT_MS - 5_000 });
      const why = report(result);
      expect(result.exitCode, why).toBe(0);
      const lines = result.stdout.trimEnd().split("\n");
      expect(lines.length, why).toBe(1);
      expect(lines[0], why).toMatch(/^stress: ok: seed \d+, 2 threads, [\d.]+ s, \d+ ops .* bytes_in_use 0,/);
      expect(result.stderr, why).toBe("");
    },
    TIMEOUT_MS,
  );

  test("build/stress rejects bad arguments with exit status 2", async () => {
    for (const args of [[], ["2"], ["0", "1"], ["x", "1"], ["2", "0"], ["2", "-1"], ["2", "1", "3", "4"]]) {
      const result = await run([join(BUILD, "stress"), ...args], { timeoutMs: 10_000 });
      expect(result.exitCode, report(result)).toBe(2);
      expect(result.stderr, report(result)).toMatch(/^(usage|stress): /);
    }
  });
});
