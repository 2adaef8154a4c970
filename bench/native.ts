/**
 * Native allocator comparison.
 *
 * The seed benchmarks in bench/native/ call plain malloc/free; each allocator is swapped in with LD_PRELOAD
 * (glibc runs with no preload). For every workload the allocators take turns, each run R times (default 5), the
 * first allocator of each round rotating so that none always runs first; the report gives medians and ratios
 * against hakmem in the one convention of every benchmark table (bench/lib/report.ts RATIO_CONVENTION: above 1.00x
 * hakmem is better), the best allocator of each workload marked. Real programs follow (bench/lib/programs.ts),
 * measured by their wall-clock time; one that is not installed is skipped and listed with its package. Peak RSS
 * and page faults come from build/runstat, which waits for the benchmark with wait4():
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
import { formatTimeLeft, ProgressLine, timeLeftAtRate } from "../src/progress.ts";
import { type CommandLine, type OptionSpecs, readCommandLine, UsageError } from "../src/args.ts";
import { parseScalingLine, parseThroughput, type ProgramName } from "../src/benchmarks.ts";
import { runCaptured } from "../src/child.ts";
import { formatNs, formatOps } from "../src/format.ts";
import { measureRun, type RunstatReport, runFailure } from "../src/runstat.ts";
import { iqr } from "../src/tune/spread.ts";
import { BUILD, discoverPeers, HAKMEM_PRELOAD, PEER_INSTALL_HINT, ROOT } from "./lib/allocators.ts";
import { type ProgramJob, programJobs, pythonExecutable } from "./lib/programs.ts";
import {
  DEFAULT_OUT,
  describeMachine,
  displayPath,
  formatBytes,
  formatCount,
  formatPercent,
  hakmemEdge,
  markBest,
  type Machine,
  machine,
  markdownTable,
  median,
  RATIO_CONVENTION,
  shownPath,
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

export { UsageError };

export function defaultNativeOptions(): NativeOptions {
  return { runs: 5, quick: false, callgrind: true, only: [], out: DEFAULT_OUT };
}

/** Every workload id --workload accepts. */
export function workloadIds(): string[] {
  return [...defineWorkloads(false).map((w) => w.id), ...defineCallgrindWorkloads(false, []).map((w) => w.id)];
}

/** The command line of bench/native.ts; bench/run.ts takes some of these and passes them on. */
export const NATIVE_OPTIONS = {
  runs: { type: "string" },
  quick: { type: "boolean" },
  callgrind: { type: "boolean" },
  "no-callgrind": { type: "boolean" },
  workload: { type: "string", multiple: true },
  out: { type: "string" },
  "no-save": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** The last of `names` on the command line, or undefined when none is. */
export function lastGiven(line: Pick<CommandLine<OptionSpecs>, "given">, names: readonly string[]): string | undefined {
  return line.given.findLast((g) => names.includes(g.name))?.name;
}

/** The options of a command line read with (some of) {@link NATIVE_OPTIONS}; throws {@link UsageError}. */
export function nativeOptionsFrom(line: CommandLine<Partial<typeof NATIVE_OPTIONS>>): NativeOptions {
  const { values } = line;
  const options = defaultNativeOptions();
  if (values.runs !== undefined) {
    const runs = Number(values.runs);
    if (!/^\d+$/.test(values.runs) || runs < 1) throw new UsageError(`--runs wants a positive integer, not ${values.runs}`);
    options.runs = runs;
  } else if (values.quick) options.runs = QUICK_RUNS;
  options.quick = values.quick === true;
  options.callgrind = lastGiven(line, ["callgrind", "no-callgrind"]) !== "no-callgrind";
  const ids = workloadIds();
  for (const id of values.workload ?? []) {
    if (!ids.includes(id)) throw new UsageError(`unknown workload ${id}`);
    options.only.push(id);
  }
  if (lastGiven(line, ["out", "no-save"]) === "no-save") options.out = null;
  else if (values.out !== undefined) options.out = values.out;
  return options;
}

export function parseNativeOptions(args: string[]): NativeOptions {
  const line = readCommandLine(args, NATIVE_OPTIONS);
  if (line.values.help) {
    console.log(nativeUsage());
    process.exit(0);
  }
  return nativeOptionsFrom(line);
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
  /** Extracts the metric from the benchmark's stdout (or runstat's report); throws if the line is not there. */
  parse(stdout: string, report: RunstatReport): number;
  /** A real program (bench/lib/programs.ts): argv is the job's once the program is found, else the row is skipped. */
  job?: ProgramJob;
}

/** A workload left out, and why (a program that is not installed). */
export interface SkippedWorkload {
  id: string;
  label: string;
  reason: string;
}

const THROUGHPUT: Metric = {
  label: "throughput",
  unit: "ops/s",
  better: "higher",
  format: formatOps,
};

function bin(name: ProgramName): string {
  return join(BUILD, name);
}

function throughput(id: string, label: string, binary: ProgramName, args: (string | number)[]): Workload {
  return { id, label, argv: [bin(binary), ...args.map(String)], metric: THROUGHPUT, parse: parseThroughput };
}

const WALL_TIME: Metric = {
  label: "wall-clock time of the whole program",
  unit: "s",
  better: "lower",
  format: (seconds) => formatNs(seconds * 1e9),
};

function program(job: ProgramJob): Workload {
  return { id: job.id, label: job.label, argv: [job.program], metric: WALL_TIME, parse: (_stdout, report) => report.wallSeconds, job };
}

/**
 * The workloads to run, each with its final command line, and those skipped: a program that is not on PATH.
 * With inputs false (for an estimate) a program keeps its bare name and no input file is written.
 */
function resolveWorkloads(workloads: Workload[], inputs = true): { run: Workload[]; skipped: SkippedWorkload[] } {
  const run: Workload[] = [];
  const skipped: SkippedWorkload[] = [];
  for (const w of workloads) {
    if (w.job === undefined) {
      run.push(w);
      continue;
    }
    const found = Bun.which(w.job.program);
    if (found === null) {
      skipped.push({ id: w.id, label: w.label, reason: `${w.job.program} is not installed: ${w.job.install}` });
      continue;
    }
    if (!inputs) {
      run.push(w);
      continue;
    }
    const path = w.job.program === "python3" ? pythonExecutable(found) : found;
    run.push({ ...w, argv: w.job.argv(path) });
  }
  return { run, skipped };
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
    throughput("server_handoff_2t", "server_handoff 2 threads", "bench_server_handoff", [2, scale(500), 10_000, 5000, 42]),
    throughput("producer_consumer", "producer_consumer 1 pair", "bench_producer_consumer", [1, scale(5_000_000), 42]),
    throughput("pool_replace_1t", "pool_replace 1 thread", "bench_pool_replace", [1, scale(10_000_000), 10_000, 42]),
    throughput("pool_replace_2t", "pool_replace 2 threads", "bench_pool_replace", [2, scale(5_000_000), 10_000, 42]),
    throughput("pass_random_2t", "pass_random 2 threads", "bench_pass_random", [2, scale(1_000_000), 42]),
    throughput("false_sharing_2t", "false_sharing 2 threads", "bench_false_sharing", [2, scale(2_000_000), 100]),
    // realloc growth, writing each new part; one op is one realloc
    throughput("realloc_double_1m", "realloc ×2 to 1 MiB", "bench_realloc_growth", ["double", 1 << 20, scale(2000)]),
    throughput("realloc_double_64m", "realloc ×2 to 64 MiB", "bench_realloc_growth", ["double", 64 << 20, quick ? 1 : 5]),
    throughput("realloc_step64_16k", "realloc +64 B to 16 KiB", "bench_realloc_growth", ["step64", 16 << 10, scale(20_000)]),
    throughput("realloc_step64_1m", "realloc +64 B to 1 MiB", "bench_realloc_growth", ["step64", 1 << 20, scale(200)]),
    throughput("realloc_step64_64m", "realloc +64 B to 64 MiB", "bench_realloc_growth", ["step64", 64 << 20, 1]),
    // 20 live large blocks replaced at random; one op is one free + one allocation
    throughput("large_random_written", "large blocks 256K–8M, written", "bench_large_random", ["written", scale(2000), 256 << 10, 8 << 20, 42]),
    throughput("large_random_calloc", "large blocks 5–25M, calloc", "bench_large_random", ["calloc", scale(2000), 5 << 20, 25 << 20, 42]),
    // 8 live blocks of 64 KiB–1 MiB a thread, replaced at random; one op is one free + one allocation
    throughput("large_mt_1t", "large_mt 64K–1M, 1 thread", "bench_large_mt", [1, scale(1_000_000), 64 << 10, 1 << 20, 42]),
    throughput("large_mt_2t", "large_mt 64K–1M, 2 threads", "bench_large_mt", [2, scale(1_000_000), 64 << 10, 1 << 20, 42]),
    {
      id: "scaling_16b",
      label: `scaling ${formatCount(blocks)} × 16 B`,
      argv: [bin("test_scaling"), String(blocks)],
      metric: {
        label: `anonymous RSS growth (library code excluded) for ${formatCount(blocks)} blocks of 16 bytes (overhead over ${formatBytes(dataBytes)} of data)`,
        unit: "bytes",
        better: "lower",
        format: (rss) => `${formatBytes(rss)} (${formatPercent((100 * (rss - dataBytes)) / dataBytes)})`,
      },
      parse: (stdout) => parseScalingLine(stdout).rssBytes,
    },
    // real programs, each on inputs of its own (bench/lib/programs.ts); skipped when not installed
    ...programJobs(quick).map(program),
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
      id: "callgrind_tiny_hot_16x16",
      label: "tiny_hot 16 B, 16 mallocs then 16 frees",
      argv: (n) => [bin("bench_tiny_hot"), String(n), "16", "16"],
      iters: [160_000, 320_000],
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

/** An argument as a shell reads it back: quoted when it holds anything but plain characters. */
function shellWord(arg: string): string {
  return /^[\w./:=+,%-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** argv as a short command line: the program relative to the repository root, arguments quoted for a shell. */
function commandLine(argv: string[]): string {
  return [displayPath(argv[0]!), ...argv.slice(1).map(shellWord)].join(" ");
}

function describeFailure(argv: string[], allocator: Allocator, why: string, stderr: string): string {
  const output = stderr.trim() === "" ? "(no stderr)" : stderr.trimEnd();
  return `${commandLine(argv)} under ${allocator.name} ${why}\n--- stderr ---\n${output}`;
}

/** Runs one benchmark under build/runstat, which reports the child's own peak RSS and page faults. */
async function runTimed(workload: Workload, allocator: Allocator, statsFile: string): Promise<Sample> {
  const env = childEnv();
  const isHakmem = allocator.name === "hakmem";
  if (isHakmem) {
    rmSync(statsFile, { force: true });
    env.HAKMEM_STATS_FILE = statsFile;
  }
  const run = await measureRun(workload.argv, { runstat: RUNSTAT, preload: allocator.preload, env, cwd: ROOT, timeoutMs: RUN_TIMEOUT_MS });
  const failure = runFailure(run, RUN_TIMEOUT_MS);
  if (failure !== null || run.report === null) throw new BenchmarkFailure(describeFailure(workload.argv, allocator, failure ?? "", run.stderr));
  let value: number;
  try {
    value = workload.parse(run.stdout, run.report);
  } catch (error) {
    const why = `printed an unexpected result: ${(error as Error).message}\n--- stdout ---\n${run.stdout.trimEnd()}`;
    throw new BenchmarkFailure(describeFailure(workload.argv, allocator, why, run.stderr));
  }
  let hakmem: Record<string, number> | null = null;
  if (isHakmem) {
    try {
      hakmem = JSON.parse(readFileSync(statsFile, "utf8")) as Record<string, number>;
    } catch (error) {
      const why = `left no statistics in HAKMEM_STATS_FILE=${statsFile}: ${(error as Error).message}`;
      throw new BenchmarkFailure(describeFailure(workload.argv, allocator, why, run.stderr));
    }
  }
  return { value, maxRssBytes: run.report.peakRssBytes, faults: run.report.pageFaults, hakmem };
}

/** Instructions callgrind counts for a whole process. */
async function countInstructions(argv: string[], allocator: Allocator): Promise<number> {
  const env = childEnv();
  // valgrind passes LD_PRELOAD on to the program it runs, next to its own preloads.
  if (allocator.preload !== null) env.LD_PRELOAD = allocator.preload;
  const proc = await runCaptured(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", ...argv], { cwd: ROOT, env, timeoutMs: RUN_TIMEOUT_MS });
  const { stderr } = proc;
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
  /** hakmem's edge (RATIO_CONVENTION): hakmem's median ÷ this one's for throughput, this ÷ hakmem's for costs. */
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
  /** vs_hakmem: this allocator's instructions per operation ÷ hakmem's (RATIO_CONVENTION). */
  results: Record<string, { instructions: [number, number]; per_op: number; vs_hakmem: number | null; failed?: string }>;
}

export interface NativeResult {
  /** How every ratio reads (the same in every table of the project). */
  ratio_convention: string;
  date: string;
  machine: Machine;
  command: string;
  /** warmup: one uncounted run per allocator and workload came first (absent in files from before warm-ups). */
  options: { runs: number; quick: boolean; warmup?: boolean };
  allocators: { name: string; library: string }[];
  skipped: SkippedAllocator[];
  /** Workloads left out: programs that are not installed (absent in files from before the programs). */
  skipped_workloads?: SkippedWorkload[];
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

/** The allocator with the best median of a workload (null when fewer than two ran). */
function bestOf(results: Record<string, { median?: number; per_op?: number; failed?: string }>, better: "higher" | "lower"): string | null {
  const ran = Object.entries(results).filter(([, c]) => c.failed === undefined);
  if (ran.length < 2) return null;
  const value = ([, c]: (typeof ran)[number]) => (c.median ?? c.per_op) as number;
  return ran.reduce((a, b) => (better === "higher" ? value(b) > value(a) : value(b) < value(a)) ? b : a)[0];
}

const ratioText = (r: number | null) => (r === null ? "n/a" : `${r.toFixed(2)}x`);

/** Half the interquartile range of the runs relative to their median, "±2.1%"; a dash for a single run. */
function spreadText(values: readonly number[]): string {
  if (values.length < 2) return DASH;
  const [q1, q3] = iqr(values);
  const mid = median([...values]);
  return mid === 0 ? DASH : `±${(((q3 - q1) / 2 / Math.abs(mid)) * 100).toFixed(1)}%`;
}

function reportTable(quick: boolean, results: WorkloadResult[], callgrind: CallgrindResult[], allocators: readonly { name: string }[]): string {
  const metrics = new Map(defineWorkloads(quick).map((w) => [w.id, w.metric]));
  const rows: string[][] = [];
  results.forEach((w) => {
    const metric = metrics.get(w.id) as Metric;
    const best = bestOf(w.results, w.better);
    for (const a of allocators) {
      const c = w.results[a.name];
      if (c === undefined) continue;
      if (c.failed !== undefined) {
        rows.push([w.label, a.name, `failed: ${c.failed.split("\n")[0]}`, DASH, DASH, DASH, DASH, DASH]);
        continue;
      }
      const maps = c.os_maps === undefined ? DASH : `${formatCount(c.os_maps)} / ${formatCount(c.os_unmaps!)}`;
      const value = metric.format(c.median);
      rows.push([
        w.label,
        a.name,
        a.name === best ? markBest(value) : value,
        spreadText(c.values),
        ratioText(c.vs_hakmem),
        formatBytes(c.peak_rss_bytes),
        formatCount(c.faults),
        maps,
      ]);
    }
  });
  for (const w of callgrind) {
    const best = bestOf(w.results, "lower");
    for (const a of allocators) {
      const c = w.results[a.name];
      if (c === undefined) continue;
      if (c.failed !== undefined) {
        rows.push([`${w.label}, instructions`, a.name, `failed: ${c.failed.split("\n")[0]}`, DASH, DASH, DASH, DASH, DASH]);
        continue;
      }
      const value = `${c.per_op.toFixed(1)} per ${w.op}`;
      rows.push([`${w.label}, instructions`, a.name, a.name === best ? markBest(value) : value, "exact", ratioText(c.vs_hakmem), DASH, DASH, DASH]);
    }
  }
  return markdownTable(["workload", "allocator", "median", "spread", NATIVE_RATIO_HEADER, "peak RSS", "page faults", "hakmem OS maps / unmaps"], rows, 2);
}

function reportLegend(runs: number, warmup: boolean, results: WorkloadResult[], callgrind: CallgrindResult[], callgrindSkipped: string | null): string {
  const lines = [
    `Median of ${runs} run${runs === 1 ? "" : "s"} per allocator${warmup ? " after one warm-up run each (not counted)" : ""}, allocators alternating; ★ marks the best median of each workload. ` +
      "Spread: half the interquartile range of the runs, relative to the median (instruction counts are exact). " +
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

function reportHeader(
  r: Pick<NativeResult, "date" | "machine" | "command" | "options">,
  allocators: Allocator[],
  skipped: SkippedAllocator[],
  skippedWorkloads: SkippedWorkload[],
): string {
  return [
    `Measured ${r.date.slice(0, 16).replace("T", " ")} UTC on ${describeMachine(r.machine)}${r.options.quick ? " (--quick: a tenth of the iterations)" : ""}.`,
    `Reproduce: \`${r.command}\``,
    "",
    ...allocators.map((a) => `- ${a.name}: ${a.description}`),
    ...skipped.map((s) => `- ${s.name}: skipped, ${s.reason}`),
    ...skippedWorkloads.map((w) => `- workload ${w.label}: skipped, ${w.reason}`),
  ].join("\n");
}

/** Timed runs and callgrind runs that runNative will make with these options (for a time-left estimate). */
export function plannedWork(options: NativeOptions): { runs: number; callgrindJobs: number } {
  const selected = (id: string) => options.only.length === 0 || options.only.includes(id);
  const allocators = discoverAllocators().allocators.length;
  const runs = resolveWorkloads(defineWorkloads(options.quick).filter((w) => selected(w.id)), false).run.length * (options.runs + 1) * allocators;
  const callgrindWanted = options.callgrind || options.only.some((id) => id.startsWith("callgrind_"));
  const callgrind = callgrindWanted && Bun.which("valgrind") !== null ? defineCallgrindWorkloads(options.quick, options.only).length : 0;
  return { runs, callgrindJobs: callgrind * allocators * 2 };
}

/**
 * The summary's rows: per workload, hakmem's median against the best other allocator's, with the ratio
 * (RATIO_CONVENTION) and the better of the two marked.
 */
export function nativeSummaryRows(result: NativeResult): string[][] {
  const formats = new Map(defineWorkloads(result.options.quick).map((w) => [w.id, w.metric.format]));
  const rows: string[][] = [];
  const row = (label: string, cells: Record<string, { median?: number; per_op?: number; vs_hakmem: number | null; failed?: string }>, format: (v: number) => string) => {
    const mine = cells.hakmem;
    const others = Object.entries(cells).filter(([name, c]) => name !== "hakmem" && c.failed === undefined && c.vs_hakmem !== null);
    if (mine === undefined || others.length === 0) return;
    // the best other is the one hakmem's edge is smallest against
    const [name, best] = others.reduce((a, b) => ((b[1].vs_hakmem as number) < (a[1].vs_hakmem as number) ? b : a));
    const value = (c: typeof mine) => format((c.median ?? c.per_op) as number);
    const hakmemWins = (best.vs_hakmem as number) >= 1;
    const theirs = `${name} ${value(best)}`;
    rows.push([label, hakmemWins ? markBest(value(mine)) : value(mine), hakmemWins ? theirs : markBest(theirs), ratioText(best.vs_hakmem)]);
  };
  for (const w of result.workloads) row(w.label, w.results, formats.get(w.id) ?? String);
  for (const w of result.callgrind.workloads) row(`${w.label}, instructions`, w.results, (v) => `${v.toFixed(1)} per ${w.op}`);
  return rows;
}

/** The ratio column's header: the convention in a few words, so that a table copied alone still says it. */
export const NATIVE_RATIO_HEADER = "ratio (>1: hakmem better)";

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
/** Where runNative is: `phase` runs (timed runs) or callgrind, `done` of `total` finished, what runs next. */
export interface NativeProgress {
  phase: "runs" | "callgrind";
  done: number;
  total: number;
  text: string;
}

/** What runNative reports to its caller (bench/run.ts); by default it prints the table and its own progress line. */
export interface NativeHooks {
  /** Print the report on stdout (default true). */
  print?: boolean;
  /** Progress; default: a line on stderr with the time left. */
  onProgress?: (p: NativeProgress) => void;
  /** A warning (a peer that failed); default: on stderr. */
  onWarning?: (text: string) => void;
}

/** runNative's own progress line: `[done/total] what · about Ns left`, the rate measured per phase. */
function defaultNativeProgress(line: ProgressLine): (p: NativeProgress) => void {
  const started = new Map<string, number>();
  return (p) => {
    if (!started.has(p.phase)) started.set(p.phase, performance.now());
    const elapsed = (performance.now() - (started.get(p.phase) as number)) / 1000;
    const prefix = p.phase === "callgrind" ? "callgrind " : "";
    line.show(`${prefix}[${p.done}/${p.total}] ${p.text} · ${formatTimeLeft(timeLeftAtRate(elapsed, p.done, p.total))}`, p.done === 0);
  };
}

export async function runNative(options: NativeOptions, command = nativeCommand(options), hooks: NativeHooks = {}): Promise<NativeResult> {
  const line = new ProgressLine();
  const onProgress = hooks.onProgress ?? defaultNativeProgress(line);
  const warn = hooks.onWarning ?? ((text: string) => line.note(`warning: ${text}`));
  const selected = (id: string) => options.only.length === 0 || options.only.includes(id);
  const { run: workloads, skipped: skippedWorkloads } = resolveWorkloads(defineWorkloads(options.quick).filter((w) => selected(w.id)));
  const callgrindWanted = options.callgrind || options.only.some((id) => id.startsWith("callgrind_"));
  let callgrindWorkloads = callgrindWanted ? defineCallgrindWorkloads(options.quick, options.only) : [];
  let callgrindSkipped: string | null = callgrindWanted ? null : "--no-callgrind";
  if (callgrindWorkloads.length > 0 && Bun.which("valgrind") === null) {
    callgrindSkipped = `valgrind is not installed: ${VALGRIND_INSTALL_HINT}`;
    callgrindWorkloads = [];
  }

  const builtHere = workloads.filter((w) => w.job === undefined).map((w) => w.argv[0]!);
  requireBuilt([RUNSTAT, HAKMEM_PRELOAD, ...new Set([...builtHere, ...callgrindWorkloads.map((w) => w.argv(1)[0]!)])]);
  const { allocators, skipped } = discoverAllocators();
  const header = {
    ratio_convention: RATIO_CONVENTION,
    date: new Date().toISOString(),
    machine: machine(),
    command,
    options: { runs: options.runs, quick: options.quick, warmup: true },
  };
  const peersMissing = skipped.length > 0 ? `; skipped: ${skipped.map((s) => s.name).join(", ")} (${PEER_INSTALL_HINT})` : "";
  line.note(`native comparison: ${allocators.map((a) => a.name).join(", ")}${peersMissing}`);
  for (const w of skippedWorkloads) line.note(`skipped ${w.label}: ${w.reason}`);

  const tmp = mkdtempSync(join(os.tmpdir(), "hakmem-bench-"));
  const statsFile = join(tmp, "hakmem-stats.json");
  const results: WorkloadResult[] = [];
  try {
    // round 0 of every workload is a warm-up (the binary, the libraries and the kernel's caches), not measured
    const total = workloads.length * (options.runs + 1) * allocators.length;
    let done = 0;
    for (const [index, workload] of workloads.entries()) {
      const samples = allocators.map(() => [] as Sample[]);
      const failures = new Map<string, string>();
      for (let run = -1; run < options.runs; run++) {
        for (let k = 0; k < allocators.length; k++) {
          const i = (run + 1 + k) % allocators.length; // each round starts with the next allocator
          const allocator = allocators[i]!;
          const which = run < 0 ? "warm-up" : `run ${run + 1}/${options.runs}`;
          onProgress({ phase: "runs", done, total, text: `${workload.id} (${index + 1}/${workloads.length}) · ${allocator.name} · ${which}` });
          done++;
          if (failures.has(allocator.name)) continue;
          try {
            const sample = await runTimed(workload, allocator, statsFile);
            if (run >= 0) samples[i]!.push(sample);
          } catch (error) {
            // glibc and hakmem must run; a peer that fails is reported and left out.
            if (!(error instanceof BenchmarkFailure) || allocator.preload === null || allocator.name === "hakmem") throw error;
            failures.set(allocator.name, error.message);
            warn(error.message);
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
      for (const c of Object.values(cells)) if (c.failed === undefined) c.vs_hakmem = hakmemEdge(c.median, reference, workload.metric.better);
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
    line.clear();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const callgrind: CallgrindResult[] = [];
  if (callgrindWorkloads.length > 0) {
    const jobs = callgrindWorkloads.flatMap((w) => allocators.flatMap((a) => w.iters.map((n) => ({ w, a, n }))));
    const parallel = Math.max(1, os.cpus().length);
    let finished = 0;
    onProgress({ phase: "callgrind", done: 0, total: jobs.length, text: `${jobs.length} valgrind runs, ${parallel} at a time` });
    const counts = await pool(
      jobs.map(({ w, a, n }) => async (): Promise<number | string> => {
        try {
          return await countInstructions(w.argv(n), a);
        } catch (error) {
          if (!(error instanceof BenchmarkFailure) || a.preload === null || a.name === "hakmem") throw error;
          return error.message;
        } finally {
          finished++;
          onProgress({ phase: "callgrind", done: finished, total: jobs.length, text: `${w.id} · ${a.name} · ${formatCount(n)} iterations` });
        }
      }),
      parallel,
    );
    line.clear();
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
      for (const c of Object.values(entry.results)) if (c.failed === undefined) c.vs_hakmem = hakmemEdge(c.per_op, reference, "lower");
      callgrind.push(entry);
    }
  }

  const tableOnly = `${reportTable(options.quick, results, callgrind, allocators)}\n\n${reportLegend(options.runs, true, results, callgrind, callgrindSkipped)}`;
  // the README shows the table alone, so it carries the convention; the report says it once at its top
  const table = `${RATIO_CONVENTION}\n\n${tableOnly}`;
  const markdown = `## Native comparison\n\n${reportHeader(header, allocators, skipped, skippedWorkloads)}\n\n${tableOnly}\n`;
  if (hooks.print !== false) console.log(`${RATIO_CONVENTION}\n\n${markdown}`);
  return {
    ...header,
    allocators: allocators.map((a) => ({ name: a.name, library: a.preload ?? "(none: system malloc)" })),
    skipped,
    skipped_workloads: skippedWorkloads,
    workloads: results,
    callgrind: { skipped: callgrindSkipped, workloads: callgrind },
    markdown,
    table,
  };
}

/**
 * The README's table (the convention, the table, its legend) of a results file's native part, with the ratios
 * recomputed in RATIO_CONVENTION from the medians (files written before it held value ÷ hakmem's for throughput).
 */
export function nativeTableOfJson(native: Pick<NativeResult, "options" | "workloads" | "callgrind" | "allocators">): string {
  for (const w of native.workloads) {
    const reference = w.results.hakmem?.median as number;
    for (const c of Object.values(w.results)) if (c.failed === undefined) c.vs_hakmem = hakmemEdge(c.median, reference, w.better);
  }
  for (const w of native.callgrind.workloads) {
    const reference = w.results.hakmem?.per_op as number;
    for (const c of Object.values(w.results)) if (c.failed === undefined) c.vs_hakmem = hakmemEdge(c.per_op, reference, "lower");
  }
  const table = reportTable(native.options.quick, native.workloads, native.callgrind.workloads, native.allocators);
  return `${RATIO_CONVENTION}\n\n${table}\n\n${reportLegend(native.options.runs, native.options.warmup === true, native.workloads, native.callgrind.workloads, native.callgrind.skipped)}`;
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
      const paths = writeResults(options.out, options.quick, { kind: "hakmem-bench", native: nativeJson(result) }, `# hakmem native comparison\n\n${RATIO_CONVENTION}\n\n${result.markdown}`);
      const shown = (p: string) => shownPath(p, options.out === DEFAULT_OUT ? null : options.out);
      console.log(`results: ${shown(paths.json)}, ${shown(paths.md)}`);
    }
  } catch (error) {
    if (!(error instanceof BenchmarkFailure)) throw error;
    console.error(`benchmark failed: ${error.message}`);
    process.exit(1);
  }
}

if (import.meta.main) await main();
