/**
 * `npm run bench`: the microbenchmarks (bench/*.bench.ts, mitata), then the native comparison (bench/native.ts),
 * then one results file set with both.
 *
 * Each bench/*.bench.ts runs in its own Bun process (a clean heap and JIT for every suite) and hands its summary
 * back as JSON; its mitata tables are kept for <out>/<stem>.log, and it tells its progress (--progress). The native
 * comparison runs in this process (it only starts children). While they run, stderr shows one progress line with
 * the time left; at the end stdout gets a summary that fits a screen (hakmem against the best other allocator, per
 * group and per workload) and the results go to <out>/<stem>.json, .md (every table) and .log (the benchmarks' own
 * output); bench/lib/report.ts names them. --update-readme also puts the native table into README.md, between the
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
import { type OptionSpecs, readCommandLine, UsageError } from "../src/args.ts";
import { formatTimeLeft, ProgressLine } from "../src/progress.ts";
import { ROOT, withStaticTls } from "./lib/allocators.ts";
import { type MicroSuiteResult, microMarkdown, PROGRESS_PREFIX } from "./lib/micro.ts";
import {
  BenchmarkFailure,
  type NativeOptions,
  type NativeProgress,
  type NativeResult,
  nativeJson,
  nativeSummaryRows,
  lastGiven,
  NATIVE_OPTIONS,
  nativeOptionsFrom,
  nativeUsage,
  plannedWork,
  runNative,
} from "./native.ts";
import {
  describeMachine,
  displayPath,
  formatNs,
  machine,
  markBest,
  markdownTable,
  RATIO_CONVENTION,
  replaceMarkedSection,
  shownPath,
  writeResults,
} from "./lib/report.ts";

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
  /** --out as the user gave it (null: the default), to print the files' paths as they can use them. */
  outGiven: string | null;
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
  --out DIR        write the results files to DIR (default bench/results): <date>.md (every table),
                   .json (every run), .log (the benchmarks' own output)
  --no-save        write no results files
  --micro-only     only the microbenchmarks
  --native-only    only the native comparison
  --filter REGEX   only the microbenchmark groups whose title matches
  --update-readme  put the native table into README.md (not with --quick)

Prints a progress line with the time left on stderr and, at the end, a summary on stdout: hakmem against the best
other allocator per group and workload. ${RATIO_CONVENTION}

The native comparison alone, with all its options: bun bench/native.ts --help

${nativeUsage()}`;
}

/** bench/run.ts's own options and those it passes on to the native comparison. */
const RUN_OPTIONS = {
  quick: NATIVE_OPTIONS.quick,
  runs: NATIVE_OPTIONS.runs,
  "no-callgrind": NATIVE_OPTIONS["no-callgrind"],
  out: NATIVE_OPTIONS.out,
  "no-save": NATIVE_OPTIONS["no-save"],
  "micro-only": { type: "boolean" },
  "native-only": { type: "boolean" },
  filter: { type: "string" },
  "update-readme": { type: "boolean" },
  help: NATIVE_OPTIONS.help,
} as const satisfies OptionSpecs;

function parseArgs(args: string[]): RunOptions {
  const line = readCommandLine(args, RUN_OPTIONS);
  const { values } = line;
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const micro = values["native-only"] !== true;
  const nativeRun = values["micro-only"] !== true;
  if (!micro && !nativeRun) throw new UsageError("--micro-only and --native-only exclude each other");
  const native = nativeOptionsFrom(line);
  const updateReadme = values["update-readme"] === true;
  if (updateReadme && (native.quick || !nativeRun)) throw new UsageError("--update-readme needs a full native comparison (no --quick, no --micro-only)");
  const microArgs = [...(values.quick ? ["--quick"] : []), ...(values.filter === undefined ? [] : ["--filter", values.filter])];
  // the command line as the results show it: what changes the measurements, in the order given
  const shown = line.given.flatMap((g) =>
    g.name === "filter" ? [`--${g.name}`, `'${g.value}'`] : ["out", "no-save", "update-readme"].includes(g.name) ? [] : [`--${g.name}`, ...(g.value === undefined ? [] : [g.value])],
  );
  const command = shown.length === 0 ? "npm run bench" : `npm run bench -- ${shown.join(" ")}`;
  return { native, microArgs, micro, nativeRun, out: native.out, outGiven: lastGiven(line, ["out", "no-save"]) === "out" ? (values.out as string) : null, updateReadme, command };
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

/**
 * The time left of the whole run: the microbenchmarks at the rate measured so far (suites not started yet counted
 * as the mean of those that did), the native runs at theirs once they started, and before that at a rough
 * per-run cost (NATIVE_SECONDS_PER_RUN).
 */
class Estimate {
  private microStart = 0;
  private microDone = 0;
  private readonly suiteTotals: number[] = [];
  private nativeStart = new Map<string, number>();
  private native: NativeProgress | null = null;
  private callgrindTotal = 0;

  constructor(
    private readonly suites: number,
    private readonly nativeRuns: number,
    private readonly quick: boolean,
    private readonly callgrindJobs: number,
  ) {}

  microStep(suiteIndex: number, done: number, total: number): void {
    if (this.microStart === 0) this.microStart = performance.now();
    this.suiteTotals[suiteIndex] = total;
    this.microDone = this.suiteTotals.slice(0, suiteIndex).reduce((a, b) => a + b, 0) + done;
  }

  nativeStep(p: NativeProgress): void {
    if (!this.nativeStart.has(p.phase)) this.nativeStart.set(p.phase, performance.now());
    if (p.phase === "callgrind") this.callgrindTotal = p.total;
    this.native = p;
  }

  secondsLeft(): number | null {
    const now = performance.now();
    const started = this.suiteTotals.filter((t) => t !== undefined);
    const meanTotal = started.length === 0 ? 0 : started.reduce((a, b) => a + b, 0) / started.length;
    const microTotal = started.reduce((a, b) => a + b, 0) + (this.suites - started.length) * meanTotal;
    let left = 0;
    if (this.microDone > 0 && this.native === null) {
      const perBench = (now - this.microStart) / 1000 / this.microDone;
      left += perBench * Math.max(0, microTotal - this.microDone);
    } else if (this.native === null && this.suites > 0) return null;
    const perRun = NATIVE_SECONDS_PER_RUN[this.quick ? "quick" : "full"];
    const p = this.native;
    if (p === null || p.phase === "runs") {
      const done = p?.done ?? 0;
      const rate = p !== null && done > 0 ? (now - (this.nativeStart.get("runs") as number)) / 1000 / done : perRun;
      left += rate * (this.nativeRuns - done) + this.callgrindJobs * CALLGRIND_SECONDS_PER_JOB[this.quick ? "quick" : "full"];
    } else if (p.done > 0) {
      left += ((now - (this.nativeStart.get("callgrind") as number)) / 1000 / p.done) * (this.callgrindTotal - p.done);
    } else return null;
    return left;
  }
}

/** Rough seconds per native run and per callgrind job (2-core machine, measured), until the run measures its own. */
const NATIVE_SECONDS_PER_RUN = { quick: 0.05, full: 0.5 } as const;
const CALLGRIND_SECONDS_PER_JOB = { quick: 1.5, full: 1.5 } as const;

/** Runs every microbenchmark suite in its own process; returns their summaries and their output (for the log). */
async function runMicro(options: RunOptions, line: ProgressLine, estimate: Estimate): Promise<{ results: MicroSuiteResult[]; log: string }> {
  const files = suiteFiles();
  const tmp = mkdtempSync(join(os.tmpdir(), "hakmem-micro-"));
  const env = withStaticTls({ ...process.env });
  delete env.LD_PRELOAD;
  const results: MicroSuiteResult[] = [];
  const log: string[] = [];
  try {
    for (const [i, file] of files.entries()) {
      const json = join(tmp, `${basename(file, ".ts")}.json`);
      const shown = `${displayPath(file)}${options.microArgs.length > 0 ? ` ${options.microArgs.join(" ")}` : ""}`;
      line.show(`micro [suite ${i + 1}/${files.length}] ${shown} · ${formatTimeLeft(estimate.secondsLeft())}`, true);
      const proc = Bun.spawn([process.execPath, file, ...options.microArgs, "--progress", "--json", json], { cwd: ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const stderrLines: string[] = [];
      const readStderr = async () => {
        let rest = "";
        const decoder = new TextDecoder();
        for await (const chunk of proc.stderr) {
          rest += decoder.decode(chunk, { stream: true });
          let nl = rest.indexOf("\n");
          for (; nl !== -1; nl = rest.indexOf("\n")) {
            const text = rest.slice(0, nl);
            rest = rest.slice(nl + 1);
            const m = text.startsWith(PROGRESS_PREFIX) ? /^(\d+)\/(\d+) (.*)$/.exec(text.slice(PROGRESS_PREFIX.length)) : null;
            if (m === null) {
              stderrLines.push(text);
              continue;
            }
            const [done, total] = [Number(m[1]) - 1, Number(m[2])];
            estimate.microStep(i, done, total);
            line.show(`micro [suite ${i + 1}/${files.length}, ${done}/${total}] ${m[3]} · ${formatTimeLeft(estimate.secondsLeft())}`);
          }
        }
        if (rest !== "") stderrLines.push(rest);
      };
      const [stdout] = await Promise.all([new Response(proc.stdout).text(), readStderr()]);
      const code = await proc.exited;
      log.push(`$ bun ${shown}\n${stdout}${stderrLines.length > 0 ? `--- stderr ---\n${stderrLines.join("\n")}\n` : ""}`);
      if (code !== 0) {
        line.clear();
        process.stderr.write(`${stdout.slice(-4000)}${stderrLines.join("\n")}\n`);
        const why = proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with status ${code}`;
        throw new BenchmarkFailure(`bun ${displayPath(file)} ${why}`);
      }
      for (const text of stderrLines) if (text.trim() !== "") line.note(text);
      results.push(JSON.parse(readFileSync(json, "utf8")) as MicroSuiteResult);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { results, log: log.join("\n") };
}

/** Rows of the summary for the microbenchmarks: per group, hakmem's baseline against the fastest other contender. */
function microSummaryRows(suites: MicroSuiteResult[]): string[][] {
  const rows: string[][] = [];
  for (const suite of suites)
    for (const g of suite.groups) {
      const base = g.rows.find((r) => r.baseline);
      // other allocators or other ways to get memory, not hakmem's own variants (raw calls, the TS API)
      const others = g.rows.filter((r) => !r.baseline && !/hak/i.test(r.name));
      if (base === undefined || others.length === 0) continue;
      const best = others.reduce((a, b) => (b.avg_ns < a.avg_ns ? b : a));
      const hakmemWins = base.avg_ns <= best.avg_ns;
      const mine = formatNs(base.avg_ns);
      const theirs = `${best.name} ${formatNs(best.avg_ns)}`;
      rows.push([`${suite.suite}: ${g.title}`, hakmemWins ? markBest(mine) : mine, hakmemWins ? theirs : markBest(theirs), `${(best.avg_ns / base.avg_ns).toFixed(2)}x`]);
    }
  return rows;
}

/** The summary on stdout: hakmem against the best other allocator, one line per group and workload. */
function summary(micro: MicroSuiteResult[], native: NativeResult | null, command: string): string {
  const parts = [`hakmem benchmarks: \`${command}\` on ${describeMachine(machine())}`, "", RATIO_CONVENTION];
  const header = (what: string) => [what, "hakmem", "best other", "ratio (>1: hakmem better)"];
  if (micro.length > 0) parts.push("", markdownTable(header("microbenchmark (mean time per iteration)"), microSummaryRows(micro)));
  if (native !== null) parts.push("", markdownTable(header(`native (median of ${native.options.runs} run${native.options.runs === 1 ? "" : "s"})`), nativeSummaryRows(native)));
  return parts.join("\n");
}

function microReport(suites: MicroSuiteResult[]): string {
  const parts = [
    "## Microbenchmarks (mitata, through bun:ffi)",
    "",
    "Mean time per iteration; in parentheses the ratio to hakmem's baseline (the first column).",
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
  const section = [
    README_START,
    `Measured ${native.date.slice(0, 10)} on ${describeMachine(native.machine)}, with \`${native.command}\`` +
      ` (the machine was shared: compare the ratios, not the absolute figures, with another run).`,
    "",
    native.table,
    "",
  ].join("\n");
  const text = replaceMarkedSection(readFileSync(README, "utf8"), README_START, README_END, section);
  if (text === null) throw new BenchmarkFailure(`README.md has no ${README_START} ... ${README_END} section`);
  writeFileSync(README, text);
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
  const line = new ProgressLine();
  const suites = options.micro ? suiteFiles().length : 0;
  const { runs: nativeRuns, callgrindJobs } = options.nativeRun ? plannedWork(options.native) : { runs: 0, callgrindJobs: 0 };
  const estimate = new Estimate(suites, nativeRuns, options.native.quick, callgrindJobs);
  try {
    const { results: micro, log } = options.micro ? await runMicro(options, line, estimate) : { results: [], log: "" };
    const native = options.nativeRun
      ? await runNative(options.native, options.command, {
          print: false,
          onProgress: (p) => {
            estimate.nativeStep(p);
            const prefix = p.phase === "callgrind" ? "callgrind" : "native";
            line.show(`${prefix} [${p.done}/${p.total}] ${p.text} · ${formatTimeLeft(estimate.secondsLeft())}`, p.done === 0);
          },
          onWarning: (text) => line.note(`warning: ${text}`),
        })
      : null;
    line.clear();
    console.log(summary(micro, native, options.command));

    if (options.out !== null) {
      const json = {
        kind: "hakmem-bench",
        ratio_convention: RATIO_CONVENTION,
        date,
        machine: machine(),
        command: options.command,
        native: native === null ? null : nativeJson(native),
        micro,
      };
      // The native part carries the machine and the command; without it, say them here.
      const markdown = [
        `# hakmem benchmarks, ${date.slice(0, 10)}`,
        RATIO_CONVENTION,
        native === null ? `${describeMachine(json.machine)}. Reproduce: \`${options.command}\`` : native.markdown.trimEnd(),
        micro.length === 0 ? "" : microReport(micro).trimEnd(),
      ]
        .filter((part) => part !== "")
        .join("\n\n");
      const nativeLog = native === null ? "" : `\n$ ${options.command} (native comparison)\n${native.markdown}`;
      const paths = writeResults(options.out, options.native.quick, json, markdown, `${log}${nativeLog}`);
      const shown = (p: string) => shownPath(p, options.outGiven);
      console.log(`\nresults: ${shown(paths.json)}, ${shown(paths.md)} (every table); the benchmarks' own output: ${shown(paths.log as string)}`);
    }
    if (options.updateReadme && native !== null) {
      updateReadme(native);
      console.log("README.md: benchmark table updated");
    }
  } catch (error) {
    line.clear();
    if (!(error instanceof BenchmarkFailure)) throw error;
    console.error(`benchmark failed: ${error.message}`);
    process.exit(1);
  }
}

await main();
