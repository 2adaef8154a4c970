/**
 * The seed benchmarks and build/runstat: each binary prints its one parsable
 * line with the system malloc and under the hakmem preload, and rejects bad
 * arguments with exit status 2. The runners (bench/run.ts, bench/native.ts)
 * are tested in tests/bench_run.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { parseScalingLine, parseThroughput, PROGRAMS, type ProgramName } from "../src/benchmarks.ts";
import { BUILD, PRELOAD_LIB, report, ROOT, run } from "./support.ts";

const TIMEOUT_MS = 120_000;

const BENCHMARKS = [
  {
    name: "bench_random_mixed",
    args: ["20000", "64", "42"],
    line: /^Throughput = \d+ ops\/s \[iter=20000 ws=64\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["20000", "64"], ["0", "64", "42"], ["20000", "0", "42"], ["20000", "64", "0"], ["x", "64", "42"], ["20000", "64", "42", "1"]],
  },
  {
    name: "bench_tiny_hot",
    args: ["20000", "16"],
    line: /^Throughput = \d+ ops\/s \[iter=20000 size=16\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["20000"], ["0", "16"], ["20000", "0"], ["20000", "-16"], ["20000", "16x"]],
  },
  {
    name: "bench_mid_large_mt",
    args: ["2", "2000", "64", "42"],
    line: /^Throughput = \d+ ops\/s \[threads=2 iter=2000 ws=64\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["1", "1000", "64"], ["0", "1000", "64", "42"], ["1", "0", "64", "42"], ["1", "1000", "0", "42"], ["1", "1000", "64", "0"], ["x", "1000", "64", "42"], ["1", "1000", "64", "42", "5"]],
  },
  {
    name: "bench_remote_free",
    args: ["20000"],
    // Its two threads are pinned to two different CPUs, or run unpinned on a one-CPU machine.
    line: /^Throughput = \d+ ops\/s \[iter=20000\] time=\d+\.\d{3}s cpus=(?:(\d+),(?!\1\n)\d+|unpinned)\n$/,
    badArgs: [[], ["0"], ["x"], ["100", "15"], ["100", "2000000"], ["100", "64", "1"]],
  },
  {
    name: "bench_server_handoff",
    args: ["2", "4", "2000", "500", "42"],
    line: /^Throughput = \d+ ops\/s \[threads=2 rounds=4 ops=2000 slots=500\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["2", "4", "2000", "500"], ["0", "4", "2000", "500", "42"], ["2", "0", "2000", "500", "42"], ["2", "4", "0", "500", "42"], ["2", "4", "2000", "0", "42"], ["2", "4", "2000", "500", "0"], ["65", "4", "2000", "500", "42"]],
  },
  {
    name: "bench_producer_consumer",
    args: ["1", "20000", "42"],
    line: /^Throughput = \d+ ops\/s \[pairs=1 iter=20000\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["1", "20000"], ["0", "20000", "42"], ["33", "20000", "42"], ["1", "0", "42"], ["1", "20000", "0"], ["1", "x", "42"]],
  },
  {
    name: "bench_pool_replace",
    args: ["2", "20000", "1000", "42"],
    line: /^Throughput = \d+ ops\/s \[threads=2 iter=20000 pool=1000\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["1", "20000", "1000"], ["0", "20000", "1000", "42"], ["1", "0", "1000", "42"], ["1", "20000", "0", "42"], ["1", "20000", "1000", "0"]],
  },
  {
    name: "bench_pass_random",
    args: ["2", "20000", "42"],
    line: /^Throughput = \d+ ops\/s \[threads=2 iter=20000\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["2", "20000"], ["0", "20000", "42"], ["65", "20000", "42"], ["2", "0", "42"], ["2", "20000", "0"]],
  },
  {
    name: "bench_false_sharing",
    args: ["2", "20000", "10"],
    line: /^Throughput = \d+ ops\/s \[threads=2 iter=20000 writes=10 shared_lines=\d+\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["2", "20000"], ["0", "20000", "10"], ["2", "0", "10"], ["2", "20000", "0"], ["2", "20000", "1000001"]],
  },
  {
    name: "bench_large_mt",
    args: ["2", "2000", "65536", "1048576", "42"],
    line: /^Throughput = \d+ ops\/s \[threads=2 iter=2000 min=65536 max=1048576\] time=\d+\.\d{3}s\n$/,
    badArgs: [[], ["2", "2000", "65536", "1048576"], ["0", "2000", "65536", "1048576", "42"], ["2", "0", "65536", "1048576", "42"],
      ["2", "2000", "1048576", "65536", "42"], ["2", "2000", "8", "1048576", "42"], ["2", "2000", "65536", "1048576", "0"]],
  },
  {
    name: "test_scaling",
    args: ["10000"],
    line: /^Scaling: blocks=10000 data_bytes=160000 rss_bytes=\d+ overhead_pct=-?\d+\.\d\n$/,
    badArgs: [[], ["0"], ["-5"], ["ten"], ["10", "20"]],
  },
];

const ALLOCATORS: { name: string; env: Record<string, string> }[] = [
  { name: "system malloc", env: {} },
  { name: "hakmem preload", env: { LD_PRELOAD: PRELOAD_LIB } },
];

test("the benchmark catalogue (src/benchmarks.ts) names every program of bench/native/", () => {
  const programs = readdirSync(join(ROOT, "bench", "native"))
    .filter((f) => f.endsWith(".c") && f !== "runstat.c")
    .map((f) => f.slice(0, -2));
  expect(Object.keys(PROGRAMS).sort()).toEqual(programs.sort());
});

for (const bench of BENCHMARKS) {
  describe(bench.name, () => {
    for (const allocator of ALLOCATORS) {
      test(
        `${bench.args.join(" ")} under ${allocator.name}`,
        async () => {
          const result = await run([join(BUILD, bench.name), ...bench.args], { env: allocator.env });
          expect(result.exitCode, report(result, allocator.env)).toBe(0);
          expect(result.stdout, report(result, allocator.env)).toMatch(bench.line);
          // the catalogue's parser reads the same line (src/benchmarks.ts: one parser per kind of line)
          if (PROGRAMS[bench.name as ProgramName] === "scaling") expect(parseScalingLine(result.stdout).blocks).toBe(Number(bench.args[0]));
          else expect(parseThroughput(result.stdout)).toBeGreaterThan(0);
        },
        TIMEOUT_MS,
      );
    }

    test("bad arguments exit with status 2 and a usage line", async () => {
      for (const args of bench.badArgs) {
        const result = await run([join(BUILD, bench.name), ...args]);
        expect(result.exitCode, report(result)).toBe(2);
        expect(result.stderr, report(result)).toContain(`usage: ${bench.name}`);
      }
    });
  });
}

describe("bench_false_sharing under hakmem", () => {
  test("no thread is given a cache line another thread writes", async () => {
    // Objects the main thread allocated and handed out go back to the main thread's slab when the workers free
    // them, though each worker's thread cache of that size is open by then (the benchmark allocates first); each
    // worker's own objects come from its own slabs. A cache that kept the handed object gives it to the worker's
    // next malloc: shared_lines=4 (the guard off in hk_class_shareable).
    const env = { LD_PRELOAD: PRELOAD_LIB };
    const result = await run([join(BUILD, "bench_false_sharing"), "4", "20000", "1"], { env });
    expect(result.exitCode, report(result, env)).toBe(0);
    expect(result.stdout, report(result, env)).toContain("shared_lines=0]");
  }, TIMEOUT_MS);
});

describe("runstat", () => {
  test("reports the child's resource usage and passes its exit status on", async () => {
    const ok = await run([join(BUILD, "runstat"), "true"]);
    expect(ok.exitCode, report(ok)).toBe(0);
    expect(ok.stderr, report(ok)).toMatch(/^runstat: exit=0 signal=0 maxrss_kb=\d+ minflt=\d+ majflt=\d+ /m);

    const failing = await run([join(BUILD, "runstat"), "sh", "-c", "exit 3"]);
    expect(failing.exitCode, report(failing)).toBe(3);
    expect(failing.stderr, report(failing)).toMatch(/^runstat: exit=3 signal=0 /m);

    const killed = await run([join(BUILD, "runstat"), "sh", "-c", "kill -SEGV $$"]);
    expect(killed.exitCode, report(killed)).toBe(128 + 11);
    expect(killed.stderr, report(killed)).toMatch(/^runstat: exit=0 signal=11 /m);
  });

  test("--preload passes LD_PRELOAD to the command", async () => {
    const result = await run([join(BUILD, "runstat"), "--preload", PRELOAD_LIB, "sh", "-c", 'echo "$LD_PRELOAD"']);
    expect(result.exitCode, report(result)).toBe(0);
    expect(result.stdout).toBe(`${PRELOAD_LIB}\n`);
  });

  test("--report writes the line to a file, leaving the command's stderr alone", async () => {
    const file = join(tmpdir(), `runstat-report-${process.pid}.txt`);
    try {
      const result = await run([join(BUILD, "runstat"), "--report", file, "sh", "-c", "echo oops >&2; exit 4"]);
      expect(result.exitCode, report(result)).toBe(4);
      expect(result.stderr).toBe("oops\n");
      expect(readFileSync(file, "utf8")).toMatch(/^runstat: exit=4 signal=0 maxrss_kb=\d+ /);
    } finally {
      rmSync(file, { force: true });
    }
  });

  test("no command exits with status 2", async () => {
    const result = await run([join(BUILD, "runstat")]);
    expect(result.exitCode, report(result)).toBe(2);
  });
});
