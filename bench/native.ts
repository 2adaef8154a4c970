/**
 * Native allocator comparison.
 *
 * The seed benchmarks in bench/native/ call plain malloc/free; each allocator is
 * swapped in with LD_PRELOAD. For every workload the allocators take turns
 * (round-robin), each runs R times, and the report gives medians and ratios
 * against hakmem as Markdown on stdout. Progress goes to stderr.
 *
 * Peak RSS and page faults come from build/runstat, which waits for the
 * benchmark with wait4(): Bun's own resourceUsage() of a direct child reports
 * at least Bun's RSS, because Linux carries the peak RSS across exec.
 *
 *   bun bench/native.ts [--runs N] [--quick] [--callgrind] [--workload ID]...
 *
 * Exit status: 0 when every benchmark ran (missing peers are skipped), 1 when a
 * benchmark failed, 2 for bad arguments.
 */
import { existsSync } from "node:fs";
import os from "node:os";
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BUILD = join(ROOT, "build");
const RUNSTAT = join(BUILD, "runstat");
const HAKMEM_PRELOAD = join(BUILD, "libhakmem_preload.so");
const PEER_INSTALL_HINT = "apt-get install libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4";
const RUN_TIMEOUT_MS = 10 * 60 * 1000;

// ---- options ----------------------------------------------------------------

interface Options {
  runs: number;
  quick: boolean;
  callgrind: boolean;
  only: string[];
}

class UsageError extends Error {}

function parseOptions(args: string[], workloadIds: string[]): Options {
  const options: Options = { runs: 5, quick: false, callgrind: false, only: [] };
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
        break;
      }
      case "--quick":
        options.quick = true;
        break;
      case "--callgrind":
        options.callgrind = true;
        break;
      case "--workload": {
        const id = value();
        if (!workloadIds.includes(id)) throw new UsageError(`unknown workload ${id}`);
        options.only.push(id);
        break;
      }
      case "--help":
      case "-h":
        console.log(usage(workloadIds));
        process.exit(0);
      default:
        throw new UsageError(`unknown argument ${arg}`);
    }
  }
  return options;
}

function usage(workloadIds: string[]): string {
  return `usage: bun bench/native.ts [--runs N] [--quick] [--callgrind] [--workload ID]...

  --runs N        runs per allocator and workload (default 5); the median is reported
  --quick         divide every workload's iteration count by 10
  --callgrind     also count instructions per malloc+free pair under valgrind
  --workload ID   run only this workload (repeatable): ${workloadIds.join(", ")}
  --help          show this text`;
}

// ---- allocators -------------------------------------------------------------

interface Allocator {
  name: string;
  /** Library given to LD_PRELOAD; null for the system malloc. */
  preload: string | null;
}

interface SkippedAllocator {
  name: string;
  reason: string;
}

const PEERS = [
  { name: "mimalloc", pattern: "libmimalloc.so.2*" },
  { name: "jemalloc", pattern: "libjemalloc.so.2" },
  { name: "tcmalloc", pattern: "libtcmalloc_minimal.so.4*" },
];

function libraryDirs(): string[] {
  const multiarch = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  return [`/usr/lib/${multiarch}`, "/usr/local/lib", "/usr/lib"];
}

/** The first library matching pattern, shortest name first (the soname link before the versioned file). */
function findLibrary(pattern: string): string | null {
  const glob = new Bun.Glob(pattern);
  for (const dir of libraryDirs()) {
    if (!existsSync(dir)) continue;
    const names = [...glob.scanSync({ cwd: dir, onlyFiles: false })];
    names.sort((a, b) => a.length - b.length || a.localeCompare(b));
    if (names.length > 0) return join(dir, names[0]!);
  }
  return null;
}

function discoverAllocators(): { allocators: Allocator[]; skipped: SkippedAllocator[] } {
  const allocators: Allocator[] = [
    { name: "glibc", preload: null },
    { name: "hakmem", preload: HAKMEM_PRELOAD },
  ];
  const skipped: SkippedAllocator[] = [];
  for (const peer of PEERS) {
    const path = findLibrary(peer.pattern);
    if (path === null) skipped.push({ name: peer.name, reason: `${peer.pattern} not found; ${PEER_INSTALL_HINT}` });
    else allocators.push({ name: peer.name, preload: path });
  }
  return { allocators, skipped };
}

// ---- workloads --------------------------------------------------------------

interface Metric {
  /** What the value is, for the table legend. */
  label: string;
  better: "higher" | "lower";
  format(value: number): string;
}

interface Workload {
  id: string;
  argv: string[];
  metric: Metric;
  /** Extracts the metric from the benchmark's stdout; throws if the line is not there. */
  parse(stdout: string): number;
}

const THROUGHPUT: Metric = {
  label: "throughput",
  better: "higher",
  format: (opsPerSec) => `${(opsPerSec / 1e6).toFixed(1)} M ops/s`,
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

function defineWorkloads(quick: boolean): Workload[] {
  const scale = (n: number) => String(quick ? n / 10 : n);
  const blocks = quick ? 100_000 : 1_000_000;
  const dataBytes = blocks * 16;
  return [
    {
      id: "random_mixed_ws256",
      argv: [bin("bench_random_mixed"), scale(10_000_000), "256", "42"],
      metric: THROUGHPUT,
      parse: throughputParser("bench_random_mixed"),
    },
    {
      id: "random_mixed_ws8192",
      argv: [bin("bench_random_mixed"), scale(10_000_000), "8192", "42"],
      metric: THROUGHPUT,
      parse: throughputParser("bench_random_mixed"),
    },
    {
      id: "tiny_hot_16",
      argv: [bin("bench_tiny_hot"), scale(20_000_000), "16"],
      metric: THROUGHPUT,
      parse: throughputParser("bench_tiny_hot"),
    },
    {
      id: "scaling_16b",
      argv: [bin("test_scaling"), String(blocks)],
      metric: {
        label: `RSS growth for ${formatCount(blocks)} blocks of 16 bytes (overhead over ${formatBytes(dataBytes)} of data)`,
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

const CALLGRIND_ITERS = 200_000;
const CALLGRIND_ID = "callgrind_tiny_hot_16";
const CALLGRIND_ARGV = [bin("bench_tiny_hot"), String(CALLGRIND_ITERS), "16"];

// ---- running ----------------------------------------------------------------

interface Sample {
  value: number;
  maxRssBytes: number;
  faults: number;
}

class BenchmarkFailure extends Error {}

function childEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  return env;
}

/** path relative to the repository root when it lies inside it. */
function displayPath(path: string): string {
  const rel = relative(ROOT, path);
  return rel.startsWith("..") ? path : rel;
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
function runTimed(workload: Workload, allocator: Allocator): Sample {
  const preload = allocator.preload === null ? [] : ["--preload", allocator.preload];
  const proc = Bun.spawnSync([RUNSTAT, ...preload, ...workload.argv], {
    cwd: ROOT,
    env: childEnv(),
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
  return { value, maxRssBytes: maxRssKb! * 1024, faults: minorFaults! + majorFaults! };
}

/** Instructions counted by callgrind for the whole bench_tiny_hot process. */
function runCallgrind(allocator: Allocator): number {
  const argv = CALLGRIND_ARGV;
  const env = childEnv();
  // valgrind passes LD_PRELOAD on to the program it runs, next to its own preloads.
  if (allocator.preload !== null) env.LD_PRELOAD = allocator.preload;
  const proc = Bun.spawnSync(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", ...argv], {
    cwd: ROOT,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: RUN_TIMEOUT_MS,
  });
  const stderr = proc.stderr.toString();
  if (proc.exitedDueToTimeout) throw new BenchmarkFailure(describeFailure(argv, allocator, "timed out under callgrind", stderr));
  if (!proc.success) {
    const why = proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with status ${proc.exitCode}`;
    throw new BenchmarkFailure(describeFailure(argv, allocator, `${why} under callgrind`, stderr));
  }
  const match = /Collected\s*:\s*(\d+)/.exec(stderr);
  if (match === null) throw new BenchmarkFailure(describeFailure(argv, allocator, "gave no callgrind summary", stderr));
  return Number(match[1]);
}

// ---- statistics and formatting ----------------------------------------------

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function formatPercent(pct: number): string {
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

function formatRatio(value: number, reference: number | undefined): string {
  if (reference === undefined || reference === 0) return "n/a";
  return `${(value / reference).toFixed(2)}x`;
}

function markdownTable(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i === 0 ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

// ---- report -----------------------------------------------------------------

interface Row {
  allocator: string;
  samples: Sample[];
}

function workloadReport(workload: Workload, rows: Row[], runs: number): string {
  const medians = new Map(rows.map((row) => [row.allocator, median(row.samples.map((s) => s.value))]));
  const reference = medians.get("hakmem");
  const legend =
    `${workload.metric.label}, ${workload.metric.better} is better; median of ${runs} run${runs === 1 ? "" : "s"}; ` +
    "ratio = allocator / hakmem; peak RSS and faults (minor + major) of the benchmark process";
  const table = markdownTable(
    ["allocator", "median", "ratio vs hakmem", "peak RSS", "faults"],
    rows.map((row) => {
      const value = medians.get(row.allocator)!;
      return [
        row.allocator,
        workload.metric.format(value),
        formatRatio(value, reference),
        formatBytes(median(row.samples.map((s) => s.maxRssBytes))),
        formatCount(median(row.samples.map((s) => s.faults))),
      ];
    }),
  );
  return `## ${commandLine(workload.argv)}\n\n${legend}\n\n${table}\n`;
}

function callgrindReport(counts: Map<string, number>): string {
  const perPair = (name: string) => counts.get(name)! / CALLGRIND_ITERS;
  const reference = counts.has("hakmem") ? perPair("hakmem") : undefined;
  const table = markdownTable(
    ["allocator", "instructions per malloc+free", "ratio vs hakmem"],
    [...counts.keys()].map((name) => [name, perPair(name).toFixed(1), formatRatio(perPair(name), reference)]),
  );
  const legend =
    `Instructions of the whole process (loop, start-up and exit included) / ${formatCount(CALLGRIND_ITERS)}, ` +
    "counted by valgrind --tool=callgrind; lower is better";
  return `## ${commandLine(CALLGRIND_ARGV)} under callgrind\n\n${legend}\n\n${table}\n`;
}

function headerReport(options: Options, allocators: Allocator[], skipped: SkippedAllocator[]): string {
  const cpus = os.cpus();
  const lines = [
    "# hakmem native comparison",
    "",
    `${new Date().toISOString()} · ${cpus[0]?.model.trim() ?? "unknown CPU"} × ${cpus.length} · Linux ${os.release()}` +
      ` · ${options.runs} run${options.runs === 1 ? "" : "s"} per allocator, round-robin${options.quick ? " · --quick" : ""}`,
    "",
    ...allocators.map((a) => `- ${a.name}: ${a.preload === null ? "system malloc, no preload" : displayPath(a.preload)}`),
    ...skipped.map((s) => `- ${s.name}: skipped (${s.reason})`),
  ];
  return `${lines.join("\n")}\n`;
}

// ---- main -------------------------------------------------------------------

function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(`${text}\n`);
}

function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
}

function requireBuilt(paths: string[]): void {
  const missing = paths.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    console.error(`missing ${missing.map((p) => relative(ROOT, p)).join(", ")}: run make first (npm run bench does)`);
    process.exit(1);
  }
}

function main(): void {
  const allIds = [...defineWorkloads(false).map((w) => w.id), CALLGRIND_ID];
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2), allIds);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${usage(allIds)}`);
    process.exit(2);
  }

  const selected = (id: string) => options.only.length === 0 || options.only.includes(id);
  const workloads = defineWorkloads(options.quick).filter((w) => selected(w.id));
  const callgrind = options.callgrind || options.only.includes(CALLGRIND_ID);

  const binaries = workloads.map((w) => w.argv[0]!);
  if (callgrind) binaries.push(CALLGRIND_ARGV[0]!);
  requireBuilt([RUNSTAT, HAKMEM_PRELOAD, ...new Set(binaries)]);
  const { allocators, skipped } = discoverAllocators();
  console.log(headerReport(options, allocators, skipped));

  const total = workloads.length * options.runs * allocators.length;
  let done = 0;
  for (const workload of workloads) {
    const rows: Row[] = allocators.map((a) => ({ allocator: a.name, samples: [] }));
    for (let run = 1; run <= options.runs; run++) {
      allocators.forEach((allocator, i) => {
        progress(`[${++done}/${total}] ${workload.id} · ${allocator.name} · run ${run}/${options.runs}`);
        rows[i]!.samples.push(runTimed(workload, allocator));
      });
    }
    endProgress();
    console.log(workloadReport(workload, rows, options.runs));
  }

  if (callgrind) {
    if (Bun.which("valgrind") === null) {
      console.log("## callgrind\n\nskipped: valgrind is not installed (apt-get install valgrind)\n");
    } else {
      const counts = new Map<string, number>();
      for (const allocator of allocators) {
        progress(`callgrind · ${allocator.name}`);
        counts.set(allocator.name, runCallgrind(allocator));
      }
      endProgress();
      console.log(callgrindReport(counts));
    }
  }
}

try {
  main();
} catch (error) {
  endProgress();
  if (!(error instanceof BenchmarkFailure)) throw error;
  console.error(`benchmark failed: ${error.message}`);
  process.exit(1);
}
