/**
 * The benchmark runners: `bun bench/run.ts` (microbenchmarks + native comparison) and `bun bench/native.ts`, in
 * their quick modes, writing their results into a temporary directory. They must exit 0 and produce the tables
 * and the results files; nothing here asserts a timing. The peers (mimalloc, jemalloc, tcmalloc) may or may not
 * be installed: each must then either have its rows or be listed as skipped with the apt-get line, and with
 * BENCH_PEER_DIRS pointing at an empty directory every peer is skipped.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { programJobs } from "../bench/lib/programs.ts";
import { compactJson, resultStem } from "../bench/lib/report.ts";
import { report, run } from "./support.ts";

const TIMEOUT_MS = 240_000;
const INSTALL_LINE = "apt-get install libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4";
const PEERS = ["mimalloc", "jemalloc", "tcmalloc"];
const TABLE_HEADER = "| workload | allocator | median | spread | ratio (>1: hakmem better) | peak RSS | page faults | hakmem OS maps / unmaps |";
/** The one ratio convention, said once at the top of every report. */
const CONVENTION = "Ratios: the other allocator's cost ÷ hakmem's";
/** A table cell that may carry the winner's mark. */
const cell = (value: string) => `(?:★ \\*\\*)?${value}(?:\\*\\*)?`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Every workload of a native table has exactly one row marked best, and hakmem's ratio is 1.00x. */
function expectWinnersMarked(md: string, workloads: string[]): void {
  for (const workload of workloads) {
    const rows = md.split("\n").filter((l) => l.startsWith(`| ${workload} | `));
    expect(rows.length, workload).toBeGreaterThan(1);
    expect(rows.filter((l) => l.includes("★ **")).length, rows.join("\n")).toBe(1);
    expect(md).toMatch(new RegExp(`^\\| ${escape(workload)} \\| hakmem \\| .+ \\| 1\\.00x \\|`, "m"));
  }
}
const NATIVE_WORKLOADS = [
  "random_mixed WS 256",
  "random_mixed WS 8192",
  "tiny_hot 16 B",
  "mid_large_mt 1 thread",
  "mid_large_mt 2 threads",
  "remote_free",
  "server_handoff 2 threads",
  "producer_consumer 1 pair",
  "pool_replace 1 thread",
  "pool_replace 2 threads",
  "pass_random 2 threads",
  "false_sharing 2 threads",
  "realloc ×2 to 1 MiB",
  "realloc ×2 to 64 MiB",
  "realloc +64 B to 16 KiB",
  "realloc +64 B to 1 MiB",
  "realloc +64 B to 64 MiB",
  "large blocks 256K–8M, written",
  "large blocks 5–25M, calloc",
  "large_mt 64K–1M, 1 thread",
  "large_mt 64K–1M, 2 threads",
  "scaling 100,000 × 16 B",
];
const SUITES = ["ffi", "batch", "buffer", "workload", "api"];

const tmp = mkdtempSync(join(os.tmpdir(), "hakmem-bench-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The one .json and one .md a run wrote into dir, parsed. */
function resultFiles(dir: string): { json: Record<string, any>; md: string; names: string[] } {
  const names = readdirSync(dir).sort();
  const json = names.filter((n) => n.endsWith(".json"));
  const md = names.filter((n) => n.endsWith(".md"));
  expect(json.length, names.join(", ")).toBe(1);
  expect(md.length, names.join(", ")).toBe(1);
  expect(names.some((n) => n.endsWith(".tmp")), names.join(", ")).toBe(false);
  return { json: JSON.parse(readFileSync(join(dir, json[0]!), "utf8")), md: readFileSync(join(dir, md[0]!), "utf8"), names };
}

/** Every peer either has a row in the native table or is listed as skipped with the install line. */
function expectPeersAccountedFor(stdout: string): void {
  for (const peer of PEERS) {
    const hasRow = new RegExp(`^\\| [^|]+ \\| ${peer} \\| `, "m").test(stdout);
    const skipped = stdout.includes(`- ${peer}: skipped, not installed`) && stdout.includes(INSTALL_LINE);
    expect(hasRow || skipped, `${peer}: neither a row nor a skip line`).toBe(true);
  }
}

describe("bun bench/run.ts --quick --runs 1", () => {
  const out = join(tmp, "run");
  let result: Awaited<ReturnType<typeof run>>;

  test(
    "exits 0 with a summary that fits a screen; progress on stderr; every table in the results files",
    async () => {
      result = await run([process.execPath, "bench/run.ts", "--quick", "--runs", "1", "--out", out], { timeoutMs: TIMEOUT_MS - 10_000 });
      expect(result.exitCode, report(result)).toBe(0);
      const stdout = result.stdout;

      // the summary: the convention once, then hakmem against the best other, per group and per workload
      // about 30 native rows (5 of them real programs), 22 microbenchmark rows, the headings: a tall screen
      expect(stdout.split("\n").length, stdout).toBeLessThan(66);
      expect(stdout.split(CONVENTION).length - 1).toBe(1);
      expect(stdout).toContain("| microbenchmark (mean time per iteration) | hakmem | best other | ratio (>1: hakmem better) |");
      expect(stdout).toMatch(new RegExp(`^\\| ffi: malloc\\+free 16 B \\| ${cell("[\\d.]+ ns")} \\| ${cell("\\w+ [\\d.]+ ns")} \\| [\\d.]+x \\|$`, "m"));
      expect(stdout).toContain("| native (median of 1 run) | hakmem | best other | ratio (>1: hakmem better) |");
      for (const workload of NATIVE_WORKLOADS) expect(stdout).toMatch(new RegExp(`^\\| ${escape(workload)} \\| .+ \\| [\\d.]+x \\|$`, "m"));
      // each summary row marks exactly one of hakmem and the best other as the better
      const summaryRows = stdout.split("\n").filter((l) => /^\| (ffi|buffer|workload|random_mixed|tiny_hot|mid_large|remote|scaling)/.test(l));
      for (const row of summaryRows) expect(row.split("★ **").length - 1, row).toBe(1);
      expect(stdout).not.toContain("• malloc+free 16 B"); // mitata's own tables went to the log
      expect(stdout).toMatch(/^results: .+-quick\.json, .+-quick\.md \(every table\); the benchmarks' own output: .+-quick\.log$/m);
      expect(stdout).toContain(`${out}/`); // an absolute --out is printed as given
      expect(result.stderr).toMatch(/(micro|native|callgrind) \[.*\] .* · (about \d+(s|m\d+s) left|estimating the time left)/);
    },
    TIMEOUT_MS,
  );

  test("the results files hold both parts", () => {
    expect(result?.exitCode, "the run above failed").toBe(0);
    const { json, md, names } = resultFiles(out);
    expect(names[0]).toMatch(/^\d{4}-\d{2}-\d{2}-quick\.json$/);
    expect(json.ratio_convention).toContain(CONVENTION);
    expect(md.split(CONVENTION).length - 1, "the convention is said once").toBe(1);
    expect(md.indexOf(CONVENTION)).toBeLessThan(md.indexOf("|"));
    expectWinnersMarked(md, NATIVE_WORKLOADS);
    expectPeersAccountedFor(md);
    if (Bun.which("valgrind") !== null) expect(md).toMatch(new RegExp(`^\\| tiny_hot 16 B, instructions \\| hakmem \\| ${cell("[\\d.]+ per malloc\\+free pair")} \\| exact \\| 1\\.00x \\|`, "m"));
    else expect(md).toContain("apt-get install valgrind");
    // the microbenchmark tables mark the fastest of every row
    const microRows = md.split("## Microbenchmarks")[1]!.split("\n").filter((l) => /^\| malloc\+free /.test(l));
    expect(microRows.length).toBe(5);
    for (const row of microRows) expect(row.split("★ **").length - 1, row).toBe(1);
    // mitata's own output, in full, is in the log
    const log = readFileSync(join(out, names.find((n) => n.endsWith(".log"))!), "utf8");
    for (const title of ["malloc+free 16 B", "malloc+free 1 MiB", "4096 objects", "64 B buffers", "1 MiB buffer", "random mixed, WS 256", "realloc growth ×2"]) {
      expect(log).toContain(`• ${title}`);
    }
    expect(log).toMatch(/^summary\n {2}hakmem\n(?: {3}[\d.]+x (?:faster|slower) than .+\n)* {3}[\d.]+x (?:faster|slower) than glibc$/m);
    expect(log).toContain("time per object");
    expect(json.kind).toBe("hakmem-bench");
    expect(json.command).toBe("npm run bench -- --quick --runs 1");
    expect(json.machine.cores).toBeGreaterThan(0);
    expect(json.micro.map((s: { suite: string }) => s.suite)).toEqual(SUITES);
    for (const suite of json.micro) {
      for (const group of suite.groups) {
        expect(group.rows.filter((r: { baseline: boolean }) => r.baseline).length, group.title).toBe(1);
        for (const row of group.rows) expect(row.avg_ns, `${group.title}: ${row.name}`).toBeGreaterThan(0);
      }
    }
    // the seed workloads, then the real programs that are installed (the others skipped, each with its package)
    const programs = programJobs(true);
    const installed = programs.filter((j) => Bun.which(j.program) !== null);
    expect(json.native.workloads.map((w: { label: string }) => w.label)).toEqual([...NATIVE_WORKLOADS, ...installed.map((j) => j.label)]);
    expect(json.native.skipped_workloads.map((w: { id: string }) => w.id)).toEqual(programs.filter((j) => !installed.includes(j)).map((j) => j.id));
    for (const w of json.native.workloads) {
      expect(w.results.hakmem.vs_hakmem).toBe(1);
      // the convention: hakmem's edge, above 1 when hakmem is better, for throughput as for memory
      for (const c of Object.values(w.results) as { median: number; vs_hakmem: number; failed?: string }[]) {
        if (c.failed !== undefined) continue;
        const hakmemBetter = w.better === "higher" ? w.results.hakmem.median > c.median : w.results.hakmem.median < c.median;
        // the results file keeps 4 significant digits: a near tie (within 0.1%) may read 1.000 either way
        const tie = Math.abs(c.median / w.results.hakmem.median - 1) < 0.001;
        if (!tie) expect(c.vs_hakmem > 1, JSON.stringify(w)).toBe(hakmemBetter);
      }
      expect(w.results.hakmem.os_maps).toBeGreaterThan(0);
      expect(w.results.glibc.values.length).toBe(1);
    }
    expect(md).toContain(TABLE_HEADER);
    expect(md).toContain("## Microbenchmarks");
    expect(md).toContain("### malloc+free pair through bun:ffi");
  });
});

describe("bun bench/native.ts", () => {
  test(
    "--quick --runs 1 writes its own results files",
    async () => {
      const out = join(tmp, "native");
      const argv = ["bench/native.ts", "--quick", "--runs", "1", "--no-callgrind", "--workload", "tiny_hot_16", "--workload", "scaling_16b", "--out", out];
      const result = await run([process.execPath, ...argv]);
      expect(result.exitCode, report(result)).toBe(0);
      expect(result.stdout).toContain(TABLE_HEADER);
      expect(result.stdout).toMatch(new RegExp(`^\\| tiny_hot 16 B \\| hakmem \\| ${cell("[\\d.]+ M ops/s")} \\| – \\| 1\\.00x \\| `, "m"));
      expect(result.stdout).toMatch(new RegExp(`^\\| scaling 100,000 × 16 B \\| hakmem \\| ${cell("[\\d.]+ (KiB|MiB) \\(\\+?-?[\\d.]+%\\)")} \\| – \\| 1\\.00x \\| `, "m"));
      expect(result.stdout.split(CONVENTION).length - 1).toBe(1);
      expect(result.stdout).toMatch(/^results: /m);
      expect(result.stdout).toContain("instructions per operation: skipped (--no-callgrind)");
      expectPeersAccountedFor(result.stdout);
      const { json, md } = resultFiles(out);
      expect(json.native.workloads.map((w: { id: string }) => w.id)).toEqual(["tiny_hot_16", "scaling_16b"]);
      expect(json.native.command).toBe("bun bench/native.ts --quick --runs 1 --no-callgrind --workload tiny_hot_16 --workload scaling_16b");
      expect(md).toContain(TABLE_HEADER);
      expect(md.split(CONVENTION).length - 1).toBe(1);
      expectWinnersMarked(md, ["tiny_hot 16 B", "scaling 100,000 × 16 B"]);
    },
    TIMEOUT_MS,
  );

  test(
    "skips every peer, with the apt-get line, when none is installed",
    async () => {
      const empty = join(tmp, "no-peers");
      mkdirSync(empty, { recursive: true });
      const result = await run([process.execPath, "bench/native.ts", "--quick", "--runs", "1", "--no-callgrind", "--workload", "tiny_hot_16", "--no-save"], {
        env: { BENCH_PEER_DIRS: empty },
      });
      expect(result.exitCode, report(result)).toBe(0);
      for (const peer of PEERS) {
        expect(result.stdout).toContain(`- ${peer}: skipped, not installed`);
        expect(result.stdout).not.toMatch(new RegExp(`^\\| tiny_hot 16 B \\| ${peer} \\|`, "m"));
      }
      expect(result.stdout).toContain(INSTALL_LINE);
      expect(result.stderr).toContain(INSTALL_LINE);
      expect(result.stdout).toMatch(/^\| tiny_hot 16 B \| hakmem \| /m);
      expect(result.stdout).toMatch(/^\| tiny_hot 16 B \| glibc \| /m);
    },
    TIMEOUT_MS,
  );

  test(
    "skips the instruction counts, with the apt-get line, when valgrind is not installed",
    async () => {
      const emptyPath = join(tmp, "empty-path");
      mkdirSync(emptyPath, { recursive: true });
      const argv = ["bench/native.ts", "--quick", "--runs", "1", "--workload", "tiny_hot_16", "--workload", "callgrind_tiny_hot_16", "--no-save"];
      const result = await run([process.execPath, ...argv], { env: { PATH: emptyPath } });
      expect(result.exitCode, report(result)).toBe(0);
      expect(result.stdout).toContain("- instructions per operation: skipped (valgrind is not installed: apt-get install valgrind)");
      expect(result.stdout).not.toContain(", instructions |");
      expect(result.stdout).toMatch(/^\| tiny_hot 16 B \| hakmem \| /m);
    },
    TIMEOUT_MS,
  );

  test(
    "runs each real program that is installed and skips each that is not, with the package that brings it",
    async () => {
      const jobs = programJobs(true);
      const out = join(tmp, "programs");
      const argv = ["bench/native.ts", "--quick", "--runs", "1", "--no-callgrind", ...jobs.flatMap((j) => ["--workload", j.id]), "--out", out];
      const result = await run([process.execPath, ...argv]);
      expect(result.exitCode, report(result)).toBe(0);
      const installed = jobs.filter((j) => Bun.which(j.program) !== null);
      const missing = jobs.filter((j) => !installed.includes(j));
      const { json, md } = resultFiles(out);
      expect(json.native.workloads.map((w: { id: string }) => w.id)).toEqual(installed.map((j) => j.id));
      expect(json.native.skipped_workloads.map((w: { id: string }) => w.id)).toEqual(missing.map((j) => j.id));
      for (const job of installed) {
        expect(md).toMatch(new RegExp(`^\\| ${escape(job.label)} \\| hakmem \\| ${cell("[\\d.]+ (ms|s)")} \\| – \\| 1\\.00x \\| `, "m"));
      }
      for (const job of missing) expect(md).toContain(`- workload ${job.label}: skipped, ${job.program} is not installed: ${job.install}`);
      expectWinnersMarked(md, installed.map((j) => j.label));
      expectPeersAccountedFor(md);
    },
    TIMEOUT_MS,
  );

  test(
    "skips every real program, with the package that brings it, when none is on PATH",
    async () => {
      const emptyPath = join(tmp, "no-programs");
      mkdirSync(emptyPath, { recursive: true });
      const argv = ["bench/native.ts", "--quick", "--runs", "1", "--no-callgrind", "--workload", "program_jq", "--workload", "program_sort", "--workload", "tiny_hot_16", "--no-save"];
      const result = await run([process.execPath, ...argv], { env: { PATH: emptyPath } });
      expect(result.exitCode, report(result)).toBe(0);
      for (const job of programJobs(true).filter((j) => j.id === "program_jq" || j.id === "program_sort")) {
        expect(result.stdout).toContain(`- workload ${job.label}: skipped, ${job.program} is not installed: ${job.install}`);
        expect(result.stdout).not.toContain(`| ${job.label} |`);
      }
      expect(result.stdout).toMatch(/^\| tiny_hot 16 B \| hakmem \| /m);
    },
    TIMEOUT_MS,
  );

  test("bad arguments exit with status 2 and the usage", async () => {
    for (const [args, why] of [
      [["--runs", "0"], "--runs wants a positive integer, not 0"],
      [["--runs"], "--runs needs a value"],
      [["--workload", "nope"], "unknown workload nope"],
      [["--frobnicate"], "unknown option --frobnicate"],
      [["--quick=yes"], "--quick takes no value"],
      [["extra"], 'unexpected argument "extra"'],
    ] as const) {
      const result = await run([process.execPath, "bench/native.ts", ...args]);
      expect(result.exitCode, report(result)).toBe(2);
      expect(result.stderr).toStartWith(`${why}\n`);
      expect(result.stderr).toContain("usage: bun bench/native.ts");
    }
    for (const [args, why] of [
      [["--update-readme", "--quick"], "--update-readme needs a full native comparison"],
      [["--micro-only", "--native-only"], "--micro-only and --native-only exclude each other"],
      [["--out"], "--out needs a value"],
      [["--workload", "tiny_hot_16"], "unknown option --workload"],
    ] as const) {
      const result = await run([process.execPath, "bench/run.ts", ...args]);
      expect(result.exitCode, report(result)).toBe(2);
      expect(result.stderr).toStartWith(why);
      expect(result.stderr).toContain("usage: bun bench/run.ts");
    }
  });
});

describe("a microbenchmark alone", () => {
  test(
    "skips the missing peers with the apt-get line and still compares hakmem with glibc",
    async () => {
      const empty = join(tmp, "no-peers-micro");
      mkdirSync(empty, { recursive: true });
      const json = join(tmp, "ffi.json");
      const result = await run([process.execPath, "bench/ffi.bench.ts", "--quick", "--filter", "^malloc\\+free 16 B$", "--json", json], {
        env: { BENCH_PEER_DIRS: empty },
      });
      expect(result.exitCode, report(result)).toBe(0);
      for (const peer of PEERS) expect(result.stdout).toContain(`- ${peer} skipped: not installed`);
      expect(result.stdout).toContain(INSTALL_LINE);
      expect(result.stdout).toMatch(/^summary\n {2}hakmem\n(?: {3}[\d.]+x (faster|slower) than .+\n){2}/m);
      const summary = JSON.parse(readFileSync(json, "utf8"));
      expect(summary.groups.length).toBe(1);
      expect(summary.groups[0].rows.map((r: { name: string }) => r.name)).toEqual(["hakmem", "hakmem TS API alloc/free", "glibc"]);
    },
    TIMEOUT_MS,
  );

  test(
    "--quick warms up before measuring: the first group measured agrees with the same group measured again",
    async () => {
      const json = join(tmp, "warmup.json");
      const result = await run([process.execPath, "tests/warmup.child.ts", "--quick", "--json", json]);
      expect(result.exitCode, report(result)).toBe(0);
      type Row = { name: string; p50_ns: number; avg_ns: number };
      const [[first], [again]] = JSON.parse(readFileSync(json, "utf8")).groups.map((g: { rows: Row[] }) => g.rows) as [Row[], Row[]];
      // The work spins 20 µs in each of its first 600 calls, then takes well under 1 µs: measured cold
      // (no warm-up, as before) the first group's median is the spinning one, hundreds of times the second's.
      const shown = `first ${first!.p50_ns.toFixed(1)} ns, again ${again!.p50_ns.toFixed(1)} ns (medians)`;
      expect(first!.p50_ns, shown).toBeLessThan(2 * again!.p50_ns);
    },
    TIMEOUT_MS,
  );

  test("rejects an unknown argument", async () => {
    const result = await run([process.execPath, "bench/batch.bench.ts", "--frobnicate"]);
    expect(result.exitCode, report(result)).not.toBe(0);
    expect(result.stderr).toContain("unknown option --frobnicate (options: --quick, --json FILE, --filter REGEX, --progress)");
  });
});

describe("results files", () => {
  test("the stem is the date, then the time when the day's file exists", () => {
    const dir = join(tmp, "stems");
    mkdirSync(dir, { recursive: true });
    const now = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    expect(resultStem(dir, false, now)).toBe("2025-01-02");
    expect(resultStem(dir, true, now)).toBe("2025-01-02-quick");
    writeFileSync(join(dir, "2025-01-02.json"), "{}");
    expect(resultStem(dir, false, now)).toBe("2025-01-02-0304");
    writeFileSync(join(dir, "2025-01-02-0304.md"), "");
    expect(resultStem(dir, false, now)).toBe("2025-01-02-030405");
    expect(existsSync(join(dir, "2025-01-02-quick.json"))).toBe(false);
  });

  test("compactJson is JSON, one line per innermost object, numbers to 4 significant digits", () => {
    const value = { a: { b: [1, 2.123456], c: { d: 1.23456789, e: "x" } }, f: [{ g: 1 }, { g: 2 }], h: null };
    const text = compactJson(value);
    expect(JSON.parse(text)).toEqual({ a: { b: [1, 2.123], c: { d: 1.235, e: "x" } }, f: [{ g: 1 }, { g: 2 }], h: null });
    expect(text).toContain('"c": {"d":1.235,"e":"x"}');
    expect(text).toContain('{"g":1}');
  });
});
