/**
 * `npm run bench`: the microbenchmarks (bench/*.bench.ts, mitata), then the native comparison (bench/native.ts),
 * then one results file pair with both.
 *
 * Each bench/*.bench.ts runs in its own Bun process (a clean heap and JIT for every suite), its mitata tables
 * going straight to the terminal, and hands its summary back as JSON. The native comparison runs in this
 * process (it only starts children) and prints its table last. The results go to <out>/<stem>.json and .md
 * (bench/lib/report.ts names them); --update-readme also puts the native table into README.md, between the
 * `<!-- bench:results:start -->` and `<!-- bench:results:end -->` markers.
 *
 *   bun bench/run.ts [--quick] [--runs N] [--no-callgrind] [--out DIR] [--no-save] [--micro-only | --native-only]
 *                    [--filter REGEX] [--update-readme]
 *
 * Exit status: 0 when everything ran, 1 when a benchmark failed, 2 for bad arguments.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { basename, join } from "node:path";
import { ROOT, withStaticTls } from "./lib/allocators.ts";
import { type MicroSuiteResult, microMarkdown } from "./lib/micro.ts";
import {
  BenchmarkFailure,
  type NativeOptions,
  type NativeResult,
  nativeJson,
  nativeUsage,
  parseNativeOptions,
  runNative,
  UsageError,
} from "./native.ts";
import { DEFAULT_OUT, describeMachine, displayPath, machine, writeResults } from "./lib/report.ts";

/** Suites run in this order; any other bench/*.bench.ts after them, by name. */
const SUITE_ORDER = ["ffi", "batch", "buffer", "workload"];

const README = join(ROOT, "README.md");
const README_START = "<!-- bench:results:start -->";
const README_END = "<!-- bench:results:end -->";

interface RunOptions {
  native: NativeOptions;
  /** Arguments passed on to every bench/*.bench.ts. */
  microArgs: string[];
  micro: boolean;
  nativeRun: boolean;
  out: string | null;
  updateReadme: boolean;
  /** The command line, for the results. */
  command: string;
}

function usage(): string {
  return `usage: bun bench/run.ts [--quick] [--runs N] [--no-callgrind] [--out DIR] [--no-save]
                        [--micro-only | --native-only] [--filter REGEX] [--update-readme]

  --quick          short microbenchmarks and a short native comparison: under a minute in all
  --runs N         native runs per allocator and workload (default 5, 3 with --quick)
  --no-callgrind   no instruction counts in the native comparison
  --out DIR        write the results files to DIR (default bench/results)
  --no-save        write no results files
  --micro-only     only the microbenchmarks
  --native-only    only the native comparison
  --filter REGEX   only the microbenchmark groups whose title matches
  --update-readme  put the native table into README.md (not with --quick)

The native comparison alone, with all its options: bun bench/native.ts --help

${nativeUsage()}`;
}

function parseArgs(args: string[]): RunOptions {
  const nativeArgs: string[] = [];
  const microArgs: string[] = [];
  let micro = true;
  let nativeRun = true;
  let updateReadme = false;
  let out: string | null = DEFAULT_OUT;
  const shown: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case "--quick":
        nativeArgs.push(arg);
        microArgs.push(arg);
        shown.push(arg);
        break;
      case "--runs": {
        const n = value();
        nativeArgs.push(arg, n);
        shown.push(arg, n);
        break;
      }
      case "--no-callgrind":
        nativeArgs.push(arg);
        shown.push(arg);
        break;
      case "--out":
        out = value();
        break;
      case "--no-save":
        out = null;
        break;
      case "--micro-only":
        nativeRun = false;
        shown.push(arg);
        break;
      case "--native-only":
        micro = false;
        shown.push(arg);
        break;
      case "--filter": {
        const re = value();
        microArgs.push(arg, re);
        shown.push(arg, `'${re}'`);
        break;
      }
      case "--update-readme":
        updateReadme = true;
        break;
      case "--help":
      case "-h":
        console.log(usage());
        process.exit(0);
      default:
        throw new UsageError(`unknown argument ${arg}`);
    }
  }
  if (!micro && !nativeRun) throw new UsageError("--micro-only and --native-only exclude each other");
  const native = parseNativeOptions(nativeArgs);
  if (updateReadme && (native.quick || !nativeRun)) throw new UsageError("--update-readme needs a full native comparison (no --quick, no --micro-only)");
  native.out = out;
  const command = shown.length === 0 ? "npm run bench" : `npm run bench -- ${shown.join(" ")}`;
  return { native, microArgs, micro, nativeRun, out, updateReadme, command };
}

function suiteFiles(): string[] {
  const glob = new Bun.Glob("*.bench.ts");
  const names = [...glob.scanSync({ cwd: join(ROOT, "bench") })];
  const rank = (name: string) => {
    const i = SUITE_ORDER.indexOf(basename(name, ".bench.ts"));
    return i === -1 ? SUITE_ORDER.length : i;
  };
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return names.map((name) => join(ROOT, "bench", name));
}

/** Runs every microbenchmark suite in its own process; their output goes straight to the terminal. */
function runMicro(options: RunOptions): MicroSuiteResult[] {
  const files = suiteFiles();
  const tmp = mkdtempSync(join(os.tmpdir(), "hakmem-micro-"));
  const env = withStaticTls({ ...process.env });
  delete env.LD_PRELOAD;
  const results: MicroSuiteResult[] = [];
  try {
    files.forEach((file, i) => {
      const json = join(tmp, `${basename(file, ".ts")}.json`);
      console.error(`[${i + 1}/${files.length}] ${displayPath(file)}${options.microArgs.length > 0 ? ` ${options.microArgs.join(" ")}` : ""}`);
      const proc = Bun.spawnSync([process.execPath, file, ...options.microArgs, "--json", json], {
        cwd: ROOT,
        env,
        stdio: ["ignore", "inherit", "inherit"],
      });
      if (proc.exitCode !== 0) {
        const why = proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with status ${proc.exitCode}`;
        throw new BenchmarkFailure(`bun ${displayPath(file)} ${why}`);
      }
      results.push(JSON.parse(readFileSync(json, "utf8")) as MicroSuiteResult);
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}

function microReport(suites: MicroSuiteResult[]): string {
  const parts = [
    "## Microbenchmarks (mitata, through bun:ffi)",
    "",
    "Mean time per iteration; in parentheses the contender's time ÷ hakmem's baseline (the first column): above 1.00x hakmem is faster.",
  ];
  for (const suite of suites) {
    parts.push("", `### ${suite.title}${suite.quick ? " (--quick)" : ""}`, "");
    for (const note of suite.notes) parts.push(`- ${note}`);
    if (suite.notes.length > 0) parts.push("");
    parts.push(microMarkdown(suite, suite.groups.some((g) => g.objects > 1)));
  }
  return `${parts.join("\n")}\n`;
}

function updateReadme(native: NativeResult): void {
  const text = readFileSync(README, "utf8");
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start === -1 || end < start) throw new BenchmarkFailure(`README.md has no ${README_START} ... ${README_END} section`);
  const section = [
    README_START,
    `Measured ${native.date.slice(0, 10)} on ${describeMachine(native.machine)}, with \`${native.command}\`` +
      ` (the machine was shared: compare the ratios, not the absolute figures, with another run).`,
    "",
    native.table,
    "",
  ].join("\n");
  writeFileSync(README, text.slice(0, start) + section + text.slice(end));
}

async function main(): Promise<void> {
  let options: RunOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${usage()}`);
    process.exit(2);
  }

  const date = new Date().toISOString();
  try {
    const micro = options.micro ? runMicro(options) : [];
    const native = options.nativeRun ? await runNative(options.native, options.command) : null;

    if (options.out !== null) {
      const json = {
        kind: "hakmem-bench",
        date,
        machine: machine(),
        command: options.command,
        native: native === null ? null : nativeJson(native),
        micro,
      };
      // The native part carries the machine and the command; without it, say them here.
      const markdown = [
        `# hakmem benchmarks, ${date.slice(0, 10)}`,
        native === null ? `${describeMachine(json.machine)}. Reproduce: \`${options.command}\`` : native.markdown.trimEnd(),
        micro.length === 0 ? "" : microReport(micro).trimEnd(),
      ]
        .filter((part) => part !== "")
        .join("\n\n");
      const paths = writeResults(options.out, options.native.quick, json, markdown);
      console.log(`results: ${displayPath(paths.json)}, ${displayPath(paths.md)}`);
    }
    if (options.updateReadme && native !== null) {
      updateReadme(native);
      console.log("README.md: benchmark table updated");
    }
  } catch (error) {
    if (!(error instanceof BenchmarkFailure)) throw error;
    console.error(`benchmark failed: ${error.message}`);
    process.exit(1);
  }
}

await main();
