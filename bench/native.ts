/**
 * Native allocator comparison.
 *
 * The seed benchmarks in bench/native/ call plain malloc/free; each allocator is swapped in with LD_PRELOAD
 * (glibc runs with no preload). For every workload the allocators take turns, each run R times (default 5), the
 * first allocator of each round rotating so that none always runs first; the report gives medians and ratios
 * against hakmem. Peak RSS and page faults come from build/runstat, which waits for the benchmark with wait4():
 * Bun's own resourceUsage() of a direct child reports at least Bun's RSS, because Linux carries the peak RSS
 * across exec. For hakmem the OS map/unmap counts come from its own statistics: the hakmem child runs with
 * HAKMEM_STATS_FILE=<temporary file> and the core writes its statistics JSON there at exit.
 *
 * When valgrind is installed, instructions per operation are counted with callgrind: each benchmark runs with
 * two iteration counts and (instructions(N2) - instructions(N1)) / (N2 - N1) cancels start-up and exit.
 * valgrind passes LD_PRELOAD on to the program, so the same preloads apply. The counts do not depend on timing,
 * so these runs go in parallel, one per core.
 *
 * Progress goes to stderr; at the end one Markdown table goes to stdout, and the results to
 * <out>/<stem>.json and .md (bench/lib/report.ts names them).
 *
 *   bun bench/native.ts [--runs N] [--quick] [--no-callgrind] [--workload ID]... [--out DIR] [--no-save]
 *
 * Exit status: 0 when every benchmark ran (missing peers are skipped), 1 when a glibc or hakmem run failed,
 * 2 for bad arguments. A peer that fails is reported in the table and does not fail the run.
 */
import { dlopen, FFIType } from "bun:ffi";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { BUILD, discoverPeers, HAKMEM_PRELOAD, PEER_INSTALL_HINT, ROOT } from "./lib/allocators.ts";
import {
  DEFAULT_OUT,
  describeMachine,
  displayPath,
  endProgress,
  formatBytes,
  formatCount,
  formatPercent,
  formatRatio,
  type Machine,
  machine,
  markdownTable,
  median,
  progress,
  writeResults,
} from "./lib/report.ts";

const RUNSTAT = join(BUILD, "runstat");
const RUN_TIMEOUT_MS = 10 * 60 * 1000;
export const VALGRIND_INSTALL_HINT = "apt-get install valgrind";

// ---- options ----------------------------------------------------------------

export interface NativeOptions {
  runs: number;
  quick: boolean;
  /** true: count instructions with callgrind (when valgrind is installed); false: --no-callgrind. */
  callgrind: boolean;
  /** Workload ids to run; empty: all. */
  only: string[];
  /** Where the results files go; null: do not write them. */
  out: string | null;
}

export class UsageError extends Error {}

export function defaultNativeOptions(): NativeOptions {
  return { runs: 5, quick: false, callgrind: true, only: [], out: DEFAULT_OUT };
}

/** Every workload id --workload accepts. */
export function workloadIds(): string[] {
  return [...defineWorkloads(false).map((w) => w.id), ...defineCallgrindWorkloads(false, []).map((w) => w.id)];
}

export function parseNativeOptions(args: string[]): NativeOptions {
  const ids = workloadIds();
  const options = defaultNativeOptions();
  let runsGiven = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case "--runs": {
        const text = value();
        const runs = Number(text);
        if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs wants a positive integer, not ${text}`);
        options.runs = runs;
        runsGiven = true;
        break;
      }
      case "--quick":
        options.quick = true;
        break;
      case "--callgrind":
        options.callgrind = true;
        break;
      case "--no-callgrind":
        options.callgrind = false;
        break;
      case "--workload": {
        const id = value();
        if (!ids.includes(id)) throw new UsageError(`unknown workload ${id}`);
        options.only.push(id);
        break;
      }
      case "--out":
        options.out = value();
        break;
      case "--no-save":
        options.out = null;
        break;
      case "--help":
      case "-h":
        console.log(nativeUsage());
        process.exit(0);
      default:
        throw new UsageError(`unknown argument ${arg}`);
    }
  }
  if (options.quick && !runsGiven) options.runs = QUICK_RUNS;
  return options;
}

/** Runs per allocator with --quick when --runs is not given. */
export const QUICK_RUNS = 3;

export function nativeUsage(): string {
  return `usage: bun bench/native.ts [--runs N] [--quick] [--no-callgrind] [--workload ID]... [--out DIR] [--no-save]

  --runs N        runs per allocator and workload (default 5, 3 with --quick); the median is reported
  --quick         a tenth of every workload's iterations, 3 runs, one callgrind workload: under a minute
  --no-callgrind  skip the instruction counts (they are on by default when valgrind is installed)
  --workload ID   run only this workload (repeatable): ${workloadIds().join(", ")}
  --out DIR       write the results files to DIR (default bench/results)
  --no-save       write no results files
  --help          show this text`;
}

// ---- allocators -------------------------------------------------------------

export interface Allocator {
  name: string;
  /** Library given to LD_PRELOAD; null for the system malloc. */
  preload: string | null;
  /** What it is, for the report: "system malloc" or the library file with its version. */
  description: string;
}

export interface SkippedAllocator {
  name: string;
  reason: string;
}

/** "glibc 2.36", from gnu_get_libc_version() (no ldd needed). */
function glibcVersion(): string {
  try {
    const libc = dlopen("libc.so.6", { gnu_get_libc_version: { args: [], returns: FFIType.cstring } });
    const version = String(libc.symbols.gnu_get_libc_version());
    libc.close();
    return `glibc ${version}`;
  } catch {
    return "system malloc";
  }
}

export function discoverAllocators(): { allocators: Allocator[]; skipped: SkippedAllocator[] } {
  const allocators: Allocator[] = [
    { name: "glibc", preload: null, description: `${glibcVersion()}, no preload` },
    { name: "hakmem", preload: HAKMEM_PRELOAD, description: displayPath(HAKMEM_PRELOAD) },
  ];
  const { found, missing } = discoverPeers();
  for (const peer of found) allocators.push({ name: peer.name, preload: peer.path, description: `${peer.path} (${peer.file})` });
  return { allocators, skipped: missing.map((m) => ({ name: m.name, reason: m.reason })) };
}

// ---- workloads --------------------------------------------------------------

interface Metric {
  /** What the value is, for the legend. */
  label: string;
  unit: string;
  better: "higher" | "lower";
  format(value: number): string;
}

interface Workload {
  id: string;
  /** Short name for the table. */
  label: string;
  argv: string[];
  metric: Metric;
  /** Extracts the metric from the benchmark's stdout; throws if the line is not there. */
  parse(stdout: string): number;
}

const THROUGHPUT: Metric = {
  label: "throughput",
  unit: "ops/s",
  better: "higher",
  format: (opsPerSec) => `${(opsPerSec / 1e6).toFixed(opsPerSec >= 1e7 ? 1 : 2)} M ops/s`,
};

function throughputParser(binary: string): (stdout: string) => number {
  return (stdout) => {
    const match = /^Throughput = (\d+) ops\/s \[[^\]]*\] time=[\d.]+s$/m.exec(stdout);
    if (match === null) throw new Error(`${binary} printed no Throughput line`);
    return Number(match[1]);
  };
}

function bin(name: string): string {
  return join(BUILD, name);
}

function throughput(id: string, label: string, binary: string, args: (string | number)[]): Workload {
  return { id, label, argv: [bin(binary), ...args.map(String)], metric: THROUGHPUT, parse: throughputParser(binary) };
}

function defineWorkloads(quick: boolean): Workload[] {
  const scale = (n: number) => (quick ? n / 10 : n);
  const blocks = scale(1_000_000);
  const dataBytes = blocks * 16;
  return [
    throughput("random_mixed_ws256", "random_mixed WS 256", "bench_random_mixed", [scale(10_000_000), 256, 42]),
    throughput("random_mixed_ws8192", "random_mixed WS 8192", "bench_random_mixed", [scale(10_000_000), 8192, 42]),
    throughput("tiny_hot_16", "tiny_hot 16 B", "bench_tiny_hot", [scale(20_000_000), 16]),
    throughput("mid_large_mt_1t", "mid_large_mt 1 thread", "bench_mid_large_mt", [1, scale(1_000_000), 2048, 42]),
    throughput("mid_large_mt_2t", "mid_large_mt 2 threads", "bench_mid_large_mt", [2, scale(1_000_000), 2048, 42]),
    throughput("remote_free", "remote_free", "bench_remote_free", [scale(1_000_000)]),
    // realloc growth, writing each new part; one op is one realloc
    throughput("realloc_double_1m", "realloc ×2 to 1 MiB", "bench_realloc_growth", ["double", 1 << 20, scale(2000)]),
    throughput("realloc_double_64m", "realloc ×2 to 64 MiB", "bench_realloc_growth", ["double", 64 << 20, quick ? 1 : 5]),
    throughput("realloc_step64_1m", "realloc +64 B to 1 MiB", "bench_realloc_growth", ["step64", 1 << 20, scale(20)]),
    throughput("realloc_step64_64m", "realloc +64 B to 64 MiB", "bench_realloc_growth", ["step64", 64 << 20, 1]),
    // 20 live large blocks replaced at random; one op is one free + one allocation
    throughput("large_random_written", "large blocks 256K–8M, written", "bench_large_random", ["written", scale(2000), 256 << 10, 8 << 20, 42]),
    throughput("large_random_calloc", "large blocks 5–25M, calloc", "bench_large_random", ["calloc", scale(2000), 5 << 20, 25 << 20, 42]),
    {
      id: "scaling_16b",
      label: `scaling ${formatCount(blocks)} × 16 B`,
      argv: [bin("test_scaling"), String(blocks)],
      metric: {
        label: `RSS growth for ${formatCount(blocks)} blocks of 16 bytes (overhead over ${formatBytes(dataBytes)} of data)`,
        unit: "bytes",
        better: "lower",
        format: (rss) => `${formatBytes(rss)} (${formatPercent((100 * (rss - dataBytes)) / dataBytes)})`,
      },
      parse: (stdout) => {
        const match = /^Scaling: blocks=\d+ data_bytes=\d+ rss_bytes=(\d+) overhead_pct=-?[\d.]+$/m.exec(stdout);
        if (match === null) throw new Error("test_scaling printed no Scaling line");
        return Number(match[1]);
      },
    },
  ];
}

interface CallgrindWorkload {
  id: string;
  label: string;
  /** The command for an iteration count. */
  argv(iters: number): string[];
  iters: [number, number];
  /** What one operation is, for the legend. */
  op: string;
}

function defineCallgrindWorkloads(quick: boolean, only: string[]): CallgrindWorkload[] {
  const all: CallgrindWorkload[] = [
    {
      id: "callgrind_tiny_hot_16",
      label: "tiny_hot 16 B",
      argv: (n) => [bin("bench_tiny_hot"), String(n), "16"],
      iters: [100_000, 200_000],
      op: "malloc+free pair",
    },
    {
      id: "callgrind_random_mixed_ws256",
      label: "random_mixed WS 256",
      argv: (n) => [bin("bench_random_mixed"), String(n), "256", "42"],
      iters: [100_000, 200_000],
      op: "malloc or free",
    },
  ];
  // --quick counts only the fast path, unless workloads were named.
  if (only.length > 0) return all.filter((w) => only.includes(w.id));
  return quick ? all.slice(0, 1) : all;
}

// ---- running ----------------------------------------------------------------

interface Sample {
  value: number;
  maxRssBytes: number;
  faults: number;
  /** hakmem's statistics at exit (os_maps, os_unmaps, ...); null for other allocators. */
  hakmem: Record<string, number> | null;
}

export class BenchmarkFailure extends Error {}

function childEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  delete env.HAKMEM_STATS_FILE;
  return env;
}

/** argv as a short command line: the program relative to the repository root. */
function commandLine(argv: string[]): string {
  return [displayPath(argv[0]!), ...argv.slice(1)].join(" ");
}

function describeFailure(argv: string[], allocator: Allocator, why: string, stderr: string): string {
  const output = stderr.trim() === "" ? "(no stderr)" : stderr.trimEnd();
  return `${commandLine(argv)} under ${allocator.name} ${why}\n--- stderr ---\n${output}`;
}

const RUNSTAT_LINE =
  /^runstat: exit=(\d+) signal=(\d+) maxrss_kb=(\d+) minflt=(\d+) majflt=(\d+) user_us=\d+ sys_us=\d+ wall_us=\d+\n?/m;

/** Runs one benchmark under build/runstat, which reports the child's own peak RSS and page faults. */
function runTimed(workload: Workload, allocator: Allocator, statsFile: string): Sample {
  const preload = allocator.preload === null ? [] : ["--preload", allocator.preload];
  const env = childEnv();
  const isHakmem = allocator.name === "hakmem";
  if (isHakmem) {
    rmSync(statsFile, { force: true });
    env.HAKMEM_STATS_FILE = statsFile;
  }
  const proc = Bun.spawnSync([RUNSTAT, ...preload, ...workload.argv], {
    cwd: ROOT,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: RUN_TIMEOUT_MS,
  });
  const stdout = proc.stdout.toString();
  const fullStderr = proc.stderr.toString();
  const stats = RUNSTAT_LINE.exec(fullStderr);
  const stderr = stats === null ? fullStderr : fullStderr.replace(stats[0], "");
  if (proc.exitedDueToTimeout) {
    throw new BenchmarkFailure(describeFailure(workload.argv, allocator, `timed out after ${RUN_TIMEOUT_MS / 1000} s`, stderr));
  }
  if (stats === null) {
    throw new BenchmarkFailure(describeFailure(workload.argv, allocator, "ended without a runstat report", stderr));
  }
  const [, exit, signal, maxRssKb, minorFaults, majorFaults] = stats.map(Number) as number[];
  if (signal !== 0) {
    throw new BenchmarkFailure(describeFailure(workload.argv, allocator, `was killed by signal ${signal}`, stderr));
  }
  if (exit !== 0) {
    throw new BenchmarkFailure(describeFailure(workload.argv, allocator, `exited with status ${exit}`, stderr));
  }
  let value: number;
  try {
    value = workload.parse(stdout);
  } catch (error) {
    const why = `printed an unexpected result: ${(error as Error).message}\n--- stdout ---\n${stdout.trimEnd()}`;
    throw new BenchmarkFailure(describeFailure(workload.argv, allocator, why, stderr));
  }
  let hakmem: Record<string, number> | null = null;
  if (isHakmem) {
    try {
      hakmem = JSON.parse(readFileSync(statsFile, "utf8")) as Record<string, number>;
    } catch (error) {
      const why = `left no statistics in HAKMEM_STATS_FILE=${statsFile}: ${(error as Error).message}`;
      throw new BenchmarkFailure(describeFailure(workload.argv, allocator, why, stderr));
    }
  }
  return { value, maxRssBytes: maxRssKb! * 1024, faults: minorFaults! + majorFaults!, hakmem };
}

/** Instructions callgrind counts for a whole process. */
async function countInstructions(argv: string[], allocator: Allocator): Promise<number> {
  const env = childEnv();
  // valgrind passes LD_PRELOAD on to the program it runs, next to its own preloads.
  if (allocator.preload !== null) env.LD_PRELOAD = allocator.preload;
  const proc = Bun.spawn(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", ...argv], {
    cwd: ROOT,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: RUN_TIMEOUT_MS,
  });
  const [stderr] = await Promise.all([new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
  await proc.exited;
  if (proc.exitCode !== 0) {
    const why = proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with status ${proc.exitCode}`;
    throw new BenchmarkFailure(describeFailure(argv, allocator, `${why} under callgrind`, stderr));
  }
  const match = /Collected\s*:\s*(\d+)/.exec(stderr);
  if (match === null) throw new BenchmarkFailure(describeFailure(argv, allocator, "gave no callgrind summary", stderr));
  return Number(match[1]);
}

/** Runs tasks with at most `limit` at a time; results in task order. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

// ---- results ----------------------------------------------------------------

export interface CellResult {
  /** The metric of each run, in run order. */
  values: number[];
  median: number;
  /** median / hakmem's median. */
  vs_hakmem: number | null;
  peak_rss_bytes: number;
  faults: number;
  /** hakmem only: medians of its statistics at exit. */
  os_maps?: number;
  os_unmaps?: number;
  os_decommits?: number;
  /** A peer that failed: why (the other fields are then empty). */
  failed?: string;
}

export interface WorkloadResult {
  id: string;
  label: string;
  command: string;
  metric: string;
  unit: string;
  better: "higher" | "lower";
  results: Record<string, CellResult>;
}

export interface CallgrindResult {
  id: string;
  label: string;
  op: string;
  commands: [string, string];
  iters: [number, number];
  results: Record<string, { instructions: [number, number]; per_op: number; vs_hakmem: number | null; failed?: string }>;
}

export interface NativeResult {
  date: string;
  machine: Machine;
  command: string;
  options: { runs: number; quick: boolean };
  allocators: { name: string; library: string }[];
  skipped: SkippedAllocator[];
  workloads: WorkloadResult[];
  callgrind: { skipped: string | null; workloads: CallgrindResult[] };
  /** The report as Markdown: header, the table, its legend. */
  markdown: string;
  /** Just the table and its legend (for the README). */
  table: string;
}

function cell(samples: Sample[]): Omit<CellResult, "vs_hakmem"> {
  const values = samples.map((s) => s.value);
  const result: Omit<CellResult, "vs_hakmem"> = {
    values,
    median: median(values),
    peak_rss_bytes: median(samples.map((s) => s.maxRssBytes)),
    faults: median(samples.map((s) => s.faults)),
  };
  const stats = samples.map((s) => s.hakmem).filter((s) => s !== null);
  if (stats.length > 0) {
    result.os_maps = median(stats.map((s) => s.os_maps ?? Number.NaN));
    result.os_unmaps = median(stats.map((s) => s.os_unmaps ?? Number.NaN));
    result.os_decommits = median(stats.map((s) => s.os_decommits ?? Number.NaN));
  }
  return result;
}

// ---- report -----------------------------------------------------------------

const DASH = "–";

function reportTable(workloads: Workload[], results: WorkloadResult[], callgrind: CallgrindResult[], allocators: Allocator[]): string {
  const rows: string[][] = [];
  results.forEach((w, i) => {
    const metric = workloads[i]!.metric;
    for (const a of allocators) {
      const c = w.results[a.name];
      if (c === undefined) continue;
      if (c.failed !== undefined) {
        rows.push([w.label, a.name, `failed: ${c.failed.split("\n")[0]}`, DASH, DASH, DASH, DASH]);
        continue;
      }
      const maps = c.os_maps === undefined ? DASH : `${formatCount(c.os_maps)} / ${formatCount(c.os_unmaps!)}`;
      rows.push([
        w.label,
        a.name,
        metric.format(c.median),
        c.vs_hakmem === null ? "n/a" : `${c.vs_hakmem.toFixed(2)}x`,
        formatBytes(c.peak_rss_bytes),
        formatCount(c.faults),
        maps,
      ]);
    }
  });
  for (const w of callgrind) {
    for (const a of allocators) {
      const c = w.results[a.name];
      if (c === undefined) continue;
      if (c.failed !== undefined) {
        rows.push([`${w.label}, instructions`, a.name, `failed: ${c.failed.split("\n")[0]}`, DASH, DASH, DASH, DASH]);
        continue;
      }
      const ratio = c.vs_hakmem === null ? "n/a" : `${c.vs_hakmem.toFixed(2)}x`;
      rows.push([`${w.label}, instructions`, a.name, `${c.per_op.toFixed(1)} per ${w.op}`, ratio, DASH, DASH, DASH]);
    }
  }
  return markdownTable(["workload", "allocator", "median", "vs hakmem", "peak RSS", "page faults", "hakmem OS maps / unmaps"], rows, 2);
}

function reportLegend(runs: number, results: WorkloadResult[], callgrind: CallgrindResult[], callgrindSkipped: string | null): string {
  const lines = [
    `Median of ${runs} run${runs === 1 ? "" : "s"} per allocator, allocators alternating. vs hakmem = the allocator's median ÷ hakmem's: ` +
      "for throughput above 1.00x is faster than hakmem; for RSS growth and instructions above 1.00x is more than hakmem. " +
      "Peak RSS and page faults (minor + major) are the benchmark process's (medians); OS maps / unmaps are hakmem's own " +
      "counts of mappings made and released (medians).",
    "",
    ...results.map((w) => `- ${w.label}: \`${w.command}\`; ${w.metric}, ${w.better} is better`),
    ...callgrind.map(
      (w) =>
        `- ${w.label}, instructions: \`valgrind --tool=callgrind ${w.commands[1]}\` minus the same with ${formatCount(w.iters[0])} iterations, ` +
        `÷ ${formatCount(w.iters[1] - w.iters[0])}: instructions per ${w.op}, start-up and exit cancelled; lower is better`,
    ),
  ];
  if (callgrindSkipped !== null) lines.push(`- instructions per operation: skipped (${callgrindSkipped})`);
  return lines.join("\n");
}

function reportHeader(r: Pick<NativeResult, "date" | "machine" | "command" | "options">, allocators: Allocator[], skipped: SkippedAllocator[]): string {
  return [
    `Measured ${r.date.slice(0, 16).replace("T", " ")} UTC on ${describeMachine(r.machine)}${r.options.quick ? " (--quick: a tenth of the iterations)" : ""}.`,
    `Reproduce: \`${r.command}\``,
    "",
    ...allocators.map((a) => `- ${a.name}: ${a.description}`),
    ...skipped.map((s) => `- ${s.name}: skipped, ${s.reason}`),
  ].join("\n");
}

// ---- main -------------------------------------------------------------------

function requireBuilt(paths: string[]): void {
  const missing = paths.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new BenchmarkFailure(`missing ${missing.map((p) => displayPath(p)).join(", ")}: run make first (npm run bench:native does)`);
  }
}

/** The command line that reproduces a run with these options. */
export function nativeCommand(options: NativeOptions, program = "bun bench/native.ts"): string {
  const parts = [program];
  if (options.quick) parts.push("--quick");
  if (options.runs !== (options.quick ? QUICK_RUNS : 5)) parts.push("--runs", String(options.runs));
  if (!options.callgrind) parts.push("--no-callgrind");
  for (const id of options.only) parts.push("--workload", id);
  return parts.join(" ");
}

/**
 * Runs the comparison and prints the table on stdout (progress on stderr). Writes no files: main() and
 * bench/run.ts do, each with what it adds.
 */
export async function runNative(options: NativeOptions, command = nativeCommand(options)): Promise<NativeResult> {
  const selected = (id: string) => options.only.length === 0 || options.only.includes(id);
  const workloads = defineWorkloads(options.quick).filter((w) => selected(w.id));
  const callgrindWanted = options.callgrind || options.only.some((id) => id.startsWith("callgrind_"));
  let callgrindWorkloads = callgrindWanted ? defineCallgrindWorkloads(options.quick, options.only) : [];
  let callgrindSkipped: string | null = callgrindWanted ? null : "--no-callgrind";
  if (callgrindWorkloads.length > 0 && Bun.which("valgrind") === null) {
    callgrindSkipped = `valgrind is not installed: ${VALGRIND_INSTALL_HINT}`;
    callgrindWorkloads = [];
  }

  requireBuilt([RUNSTAT, HAKMEM_PRELOAD, ...new Set([...workloads.map((w) => w.argv[0]!), ...callgrindWorkloads.map((w) => w.argv(1)[0]!)])]);
  const { allocators, skipped } = discoverAllocators();
  const header = {
    date: new Date().toISOString(),
    machine: machine(),
    command,
    options: { runs: options.runs, quick: options.quick },
  };
  const peersMissing = skipped.length > 0 ? `; skipped: ${skipped.map((s) => s.name).join(", ")} (${PEER_INSTALL_HINT})` : "";
  process.stderr.write(`native comparison: ${allocators.map((a) => a.name).join(", ")}${peersMissing}\n`);

  const tmp = mkdtempSync(join(os.tmpdir(), "hakmem-bench-"));
  const statsFile = join(tmp, "hakmem-stats.json");
  const results: WorkloadResult[] = [];
  try {
    const total = workloads.length * options.runs * allocators.length;
    let done = 0;
    for (const [index, workload] of workloads.entries()) {
      const samples = allocators.map(() => [] as Sample[]);
      const failures = new Map<string, string>();
      if (!process.stderr.isTTY) {
        progress(`[${index + 1}/${workloads.length}] ${workload.id}: ${options.runs} run${options.runs === 1 ? "" : "s"} × ${allocators.length} allocators`);
      }
      for (let run = 0; run < options.runs; run++) {
        for (let k = 0; k < allocators.length; k++) {
          const i = (run + k) % allocators.length; // each round starts with the next allocator
          const allocator = allocators[i]!;
          done++;
          if (process.stderr.isTTY) progress(`[${done}/${total}] ${workload.id} · ${allocator.name} · run ${run + 1}/${options.runs}`);
          if (failures.has(allocator.name)) continue;
          try {
            samples[i]!.push(runTimed(workload, allocator, statsFile));
          } catch (error) {
            // glibc and hakmem must run; a peer that fails is reported and left out.
            if (!(error instanceof BenchmarkFailure) || allocator.preload === null || allocator.name === "hakmem") throw error;
            failures.set(allocator.name, error.message);
            endProgress();
            process.stderr.write(`warning: ${error.message}\n`);
          }
        }
      }
      const cells: Record<string, CellResult> = {};
      allocators.forEach((a, i) => {
        const failed = failures.get(a.name);
        cells[a.name] =
          failed === undefined
            ? { ...cell(samples[i]!), vs_hakmem: null }
            : { values: [], median: Number.NaN, vs_hakmem: null, peak_rss_bytes: Number.NaN, faults: Number.NaN, failed };
      });
      const reference = cells.hakmem!.median;
      for (const c of Object.values(cells)) if (c.failed === undefined) c.vs_hakmem = c.median / reference;
      results.push({
        id: workload.id,
        label: workload.label,
        command: commandLine(workload.argv),
        metric: workload.metric.label,
        unit: workload.metric.unit,
        better: workload.metric.better,
        results: cells,
      });
    }
    endProgress();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const callgrind: CallgrindResult[] = [];
  if (callgrindWorkloads.length > 0) {
    const jobs = callgrindWorkloads.flatMap((w) => allocators.flatMap((a) => w.iters.map((n) => ({ w, a, n }))));
    const parallel = Math.max(1, os.cpus().length);
    if (!process.stderr.isTTY) progress(`callgrind: ${jobs.length} runs, ${parallel} at a time`);
    let finished = 0;
    const counts = await pool(
      jobs.map(({ w, a, n }) => async (): Promise<number | string> => {
        try {
          return await countInstructions(w.argv(n), a);
        } catch (error) {
          if (!(error instanceof BenchmarkFailure) || a.preload === null || a.name === "hakmem") throw error;
          return error.message;
        } finally {
          finished++;
          if (process.stderr.isTTY) progress(`callgrind [${finished}/${jobs.length}] ${w.id} · ${a.name} · ${formatCount(n)} iterations`);
        }
      }),
      parallel,
    );
    endProgress();
    let j = 0;
    for (const w of callgrindWorkloads) {
      const entry: CallgrindResult = {
        id: w.id,
        label: w.label,
        op: w.op,
        commands: [commandLine(w.argv(w.iters[0])), commandLine(w.argv(w.iters[1]))],
        iters: w.iters,
        results: {},
      };
      for (const a of allocators) {
        const c1 = counts[j++]!;
        const c2 = counts[j++]!;
        if (typeof c1 === "string" || typeof c2 === "string") {
          entry.results[a.name] = { instructions: [Number.NaN, Number.NaN], per_op: Number.NaN, vs_hakmem: null, failed: String(typeof c1 === "string" ? c1 : c2) };
        } else {
          entry.results[a.name] = { instructions: [c1, c2], per_op: (c2 - c1) / (w.iters[1] - w.iters[0]), vs_hakmem: null };
        }
      }
      const reference = entry.results.hakmem!.per_op;
      for (const c of Object.values(entry.results)) if (c.failed === undefined) c.vs_hakmem = c.per_op / reference;
      callgrind.push(entry);
    }
  }

  const table = `${reportTable(workloads, results, callgrind, allocators)}\n\n${reportLegend(options.runs, results, callgrind, callgrindSkipped)}`;
  const markdown = `## Native comparison\n\n${reportHeader(header, allocators, skipped)}\n\n${table}\n`;
  console.log(markdown);
  return {
    ...header,
    allocators: allocators.map((a) => ({ name: a.name, library: a.preload ?? "(none: system malloc)" })),
    skipped,
    workloads: results,
    callgrind: { skipped: callgrindSkipped, workloads: callgrind },
    markdown,
    table,
  };
}

/** The results JSON: everything but the rendered Markdown. */
export function nativeJson(result: NativeResult): Omit<NativeResult, "markdown" | "table"> {
  const { markdown: _markdown, table: _table, ...json } = result;
  return json;
}

async function main(): Promise<void> {
  let options: NativeOptions;
  try {
    options = parseNativeOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${nativeUsage()}`);
    process.exit(2);
  }
  try {
    const result = await runNative(options);
    if (options.out !== null) {
      const paths = writeResults(options.out, options.quick, { kind: "hakmem-bench", native: nativeJson(result) }, `# hakmem native comparison\n\n${result.markdown}`);
      console.log(`results: ${displayPath(paths.json)}, ${displayPath(paths.md)}`);
    }
  } catch (error) {
    endProgress();
    if (!(error instanceof BenchmarkFailure)) throw error;
    console.error(`benchmark failed: ${error.message}`);
    process.exit(1);
  }
}

if (import.meta.main) await main();
