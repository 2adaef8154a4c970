#!/usr/bin/env bun
/**
 * `bun run tune`: sweeps SuperSlab size and LRU limits over benchmark workloads and writes a report with a
 * recommended configuration per objective. `bun src/tune/cli.ts --help` documents the options; the loop itself is
 * src/tune/index.ts (`import { sweep } from "hakmem/tune"`).
 *
 * Exit status: 0 when every run succeeded; 1 when runs failed (the report still covers the rest) or the build is
 * missing; 2 for bad arguments (before anything runs); 130 when interrupted (resume with --resume).
 *
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { readCommandLine, UsageError } from "../args.ts";
import type { HakmemConfigKey } from "../config.ts";
export { UsageError };
import { formatTimeLeft, ProgressLine } from "../progress.ts";
import { HakmemError } from "../errors.ts";
import {
  BUILTIN_WORKLOADS,
  DEFAULT_WORKLOADS,
  describeBuiltinWorkloads,
  isBuiltinWorkload,
  librarySchema,
  mergeSweeps,
  type Objective,
  OBJECTIVES,
  OBJECTIVE_TEXT,
  parseFlagList,
  planSweep,
  readJournal,
  type RunEvent,
  type RunStartEvent,
  sweep,
  type SweepGrid,
  type SweepOptions,
  type SweepPlan,
  type SweepResult,
  TuneError,
} from "./index.ts";
import { formatMiB, formatOps } from "../format.ts";

/** A grid option of the command line and the flag it sweeps. */
interface GridOption {
  option: string;
  key: HakmemConfigKey;
  /** Default list, or null for the library's own default (one value). */
  defaults: string | null;
}

const GRID_OPTIONS: readonly GridOption[] = [
  { option: "--ss-size", key: "superslabSize", defaults: "512K,1M,2M,4M" },
  { option: "--lru-max-cached", key: "lruMaxCached", defaults: "0,16,64,256" },
  { option: "--lru-max-mb", key: "lruMaxMB", defaults: "64,512" },
  { option: "--lru-ttl-sec", key: "lruTtlSec", defaults: null },
  { option: "--prefault", key: "prefault", defaults: null },
];

const DEFAULT_RUNS = 5;
const DEFAULT_OUT = "tune-results";
/**
 * Wall time of the default sweep (32 configurations × 4 workloads × 5 runs = 640 runs), start to report, measured on
 * a 2-core AMD EPYC virtual machine: 2 min 33 s. For --help.
 */
const DEFAULT_SWEEP_MINUTES = "about 3";

/** Parsed command line. */
export interface CliOptions {
  grid: SweepGrid;
  workloads: string[];
  runs: number;
  quick: boolean;
  out: string;
  objective: Objective;
  resume: boolean;
  force: boolean;
  /** --shard K/N: run the K-th of N slices of the grid. */
  shard: { index: number; count: number } | null;
  allowMixedHardware: boolean;
  help: boolean;
}

function libraryDefault(key: HakmemConfigKey): string {
  const spec = librarySchema().spec(key);
  return spec?.default ?? "?";
}

/** The --help text; ranges and defaults come from the loaded library's flag table. */
export function usage(): string {
  const schema = librarySchema();
  const gridLines = GRID_OPTIONS.map((g) => {
    const spec = schema.spec(g.key);
    const allowed = spec ? schema.allowed(spec).replace(/ \(bytes, or a string like "[^"]*"\)/, "") : "";
    const def = g.defaults ?? `${libraryDefault(g.key)} (the library's default)`;
    return `  ${`${g.option} LIST`.padEnd(24)}${spec?.env ?? g.key}: ${allowed}\n${"".padEnd(26)}default: ${def}`;
  }).join("\n");
  const workloads = describeBuiltinWorkloads()
    .map((w) => `${"".padEnd(26)}${w.name.padEnd(14)}${w.description}`)
    .join("\n");
  const defaultConfigs = GRID_OPTIONS.reduce((n, g) => n * (g.defaults === null ? 1 : g.defaults.split(",").length), 1);
  const defaultRuns = defaultConfigs * DEFAULT_WORKLOADS.length * DEFAULT_RUNS;
  return `usage: npm run tune -- [options]        (or: bun src/tune/cli.ts [options] after make)

Runs every combination of the listed SuperSlab size and LRU limits, plus the library's defaults as the baseline,
on each workload, in a child process with LD_PRELOAD=build/libhakmem_preload.so and the configuration's HAKMEM_*
variables, several times, and writes a report: medians of throughput, peak RSS, page faults, OS maps/unmaps/
decommits and LRU hits/misses, each with its spread; the Pareto front of throughput against peak RSS; and per
objective a HAKMEM_CONFIG file: a configuration that beats the defaults by more than the spread, or "no change
recommended" (the file then holds the defaults).

Grid (comma-separated lists, checked against the library's flag table; sizes take K/M/G):
${gridLines}

Workloads and runs:
  --workload LIST         workloads to run (default: ${DEFAULT_WORKLOADS.join(",")}):
${workloads}
  --runs N                runs per configuration and workload, 1 to 1000 (default ${DEFAULT_RUNS}); the report
                          gives medians. Runs go round-robin over the configurations.
  --quick                 a tenth of each workload's iterations (a rough look; noisier)

Output:
  --out DIR               report directory (default ${DEFAULT_OUT}):
                            runs.jsonl    every run, appended as it finishes (what --resume reads)
                            report.md     recommendations and every configuration sorted by --objective
                            runs.csv      every run; results.json: every run and the summaries
                            chart.svg     throughput against peak RSS (Pareto front), heat maps of throughput
                                          over SuperSlab size × LRU max cached
                            hakmem.config.{fastest,smallest,balanced}.json   one recommendation each;
                            hakmem.config.json = the balanced one. Use: HAKMEM_CONFIG=FILE
                            LD_PRELOAD=build/libhakmem_preload.so cmd, or configure(loadConfig(FILE)).
  --objective NAME        order of report.md's table (default balanced):
${OBJECTIVES.map((o) => `${"".padEnd(26)}${o.padEnd(10)}${OBJECTIVE_TEXT[o]}`).join("\n")}
  --resume                continue the sweep in DIR: runs already in DIR/runs.jsonl are not run again
  --force                 start over even though DIR already holds a sweep

Several machines (see README "Tuning on several machines"):
  --shard K/N             run only the K-th of N deterministic slices of the grid (configuration i goes to slice
                          i mod N + 1); DIR then holds that slice's journal and no report
  merge DIR... --out DIR  join the shards' journals into the report of the whole sweep (merge --help)
  --allow-mixed-hardware  with --resume: continue a journal that another kind of machine started
  --help                  this text

Time: the default sweep is ${defaultConfigs} configurations × ${DEFAULT_WORKLOADS.length} workloads × ${DEFAULT_RUNS} runs = ${defaultRuns} runs, ${DEFAULT_SWEEP_MINUTES}
minutes on a 2-core machine. Each run costs about 0.1-1 s; the progress bar shows the time left. Ctrl-C stops
after saving every finished run; the same command with --resume continues.

Exit status: 0 all runs succeeded; 1 some runs failed (reported) or the build is missing; 2 bad arguments;
130 interrupted.`;
}

/**
 * Parses the command line (node:util `parseArgs`); throws {@link UsageError}, or `HakmemError` `BAD_CONFIG` for a
 * flag value.
 */
export function parseArgs(args: readonly string[]): CliOptions {
  const given = new Map<string, string>();
  const opts: CliOptions = {
    grid: {},
    workloads: [...DEFAULT_WORKLOADS],
    runs: DEFAULT_RUNS,
    quick: false,
    out: DEFAULT_OUT,
    objective: "balanced",
    resume: false,
    force: false,
    shard: null,
    allowMixedHardware: false,
    help: false,
  };
  const valued = ["workload", "runs", "out", "objective", "shard", ...GRID_OPTIONS.map((g) => g.option.slice(2))];
  const flags = ["quick", "resume", "force", "allow-mixed-hardware"];
  const options = Object.fromEntries([
    ...valued.map((name) => [name, { type: "string" as const }]),
    ...flags.map((name) => [name, { type: "boolean" as const }]),
    ["help", { type: "boolean" as const, short: "h" }],
  ]);
  const parsed = readCommandLine(args, options);
  for (const t of parsed.given) {
    if (!valued.includes(t.name)) continue;
    if (given.has(`--${t.name}`)) throw new UsageError(`--${t.name} is given twice; give one comma-separated list`);
    given.set(`--${t.name}`, t.value as string);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  opts.help = values.help === true;
  opts.quick = values.quick === true;
  opts.resume = values.resume === true;
  opts.force = values.force === true;
  opts.allowMixedHardware = values["allow-mixed-hardware"] === true;
  if (opts.help) return opts;
  if (opts.resume && opts.force) throw new UsageError("--resume and --force contradict each other");
  const grid: Record<string, unknown> = {};
  for (const g of GRID_OPTIONS) {
    const text = given.get(g.option) ?? g.defaults;
    if (text !== null) grid[g.key] = parseFlagList(g.key, text, g.option);
  }
  opts.grid = grid as SweepGrid;
  const w = given.get("--workload");
  if (w !== undefined) {
    const names = w.split(",").map((s) => s.trim());
    for (const n of names) {
      if (n === "") throw new UsageError(`--workload wants a comma-separated list with no empty items; got ${JSON.stringify(w)}`);
      if (!isBuiltinWorkload(n)) throw new UsageError(`unknown workload ${JSON.stringify(n)}; the workloads are: ${BUILTIN_WORKLOADS.join(", ")}`);
    }
    if (new Set(names).size !== names.length) throw new UsageError("--workload lists a workload twice");
    opts.workloads = names;
  }
  const runs = given.get("--runs");
  if (runs !== undefined) {
    if (!/^\d+$/.test(runs) || Number(runs) < 1 || Number(runs) > 1000) throw new UsageError(`--runs wants an integer from 1 to 1000; got ${JSON.stringify(runs)}`);
    opts.runs = Number(runs);
  }
  const objective = given.get("--objective");
  if (objective !== undefined) {
    if (!OBJECTIVES.includes(objective as Objective)) throw new UsageError(`--objective wants one of ${OBJECTIVES.join(", ")}; got ${JSON.stringify(objective)}`);
    opts.objective = objective as Objective;
  }
  const out = given.get("--out");
  if (out !== undefined) {
    if (out === "") throw new UsageError("--out wants a directory");
    opts.out = out;
  }
  const shard = given.get("--shard");
  if (shard !== undefined) opts.shard = parseShard(shard);
  return opts;
}

/** "2/4" → { index: 2, count: 4 }; throws {@link UsageError}. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || count < 1 || index < 1 || index > count) throw new UsageError(`--shard wants K/N with 1 <= K <= N (the K-th of N slices); got ${JSON.stringify(text)}`);
  return { index, count };
}

/** A path as the user can use it from here: absolute when they gave an absolute --out, else relative to the working directory. */
function shownPath(out: string, path: string): string {
  return isAbsolute(out) ? path : relative(process.cwd(), path) || path;
}

/** The progress display on stderr: a redrawn bar on a terminal, a line every few seconds otherwise. */
class Progress {
  private readonly line = new ProgressLine();
  private readonly tty = this.line.interactive;

  start(e: RunStartEvent): void {
    if (!this.tty) return;
    const width = Math.max(20, (process.stderr.columns || 100) - 1);
    const frac = e.total === 0 ? 1 : e.done / e.total;
    const info = `${e.done}/${e.total} ${(frac * 100).toFixed(0)}% · ${formatTimeLeft(e.secondsLeft)} · ${e.config.label} · ${e.workload.name} (run ${e.run}/${e.runs})`;
    const barW = Math.min(24, width - info.length - 1);
    const filled = Math.round(frac * barW);
    this.line.show(barW >= 8 ? `${"█".repeat(filled)}${"░".repeat(barW - filled)} ${info}` : info);
  }

  finished(e: RunEvent): void {
    const r = e.record;
    const result = r.ok
      ? `${r.throughput === null ? "" : `${formatOps(r.throughput)}, `}${formatMiB(r.peakRssBytes)} peak RSS`
      : `FAILED: ${(r.error ?? "").split("\n")[0]}`;
    if (this.tty) {
      if (!r.ok) this.line.note(`${e.config.label} · ${e.workload.name} run ${e.run}: ${result}`);
      return;
    }
    // off a terminal: a line now and then (the first, the last and every failure always), not one per run
    const text = `[${e.done}/${e.total}] ${e.config.label} · ${e.workload.name} run ${e.run}/${e.runs}: ${result} · ${formatTimeLeft(e.secondsLeft)}`;
    this.line.show(text, !r.ok || e.done === e.total);
  }

  clear(): void {
    this.line.clear();
  }
}

function summaryText(result: SweepResult, out: string): string {
  const rel = (p: string) => shownPath(out, p);
  if (result.plan.shard !== null) {
    const { index, count } = result.plan.shard;
    return [
      "",
      `Shard ${index}/${count} done: ${result.records.length} runs of ${result.plan.shardConfigs.length} configuration${result.plan.shardConfigs.length === 1 ? "" : "s"} in ${rel(resolve(out, "runs.jsonl"))}.`,
      `When every shard is done: hakmem tune merge DIR1 DIR2 ... --out DIR (bun src/tune/cli.ts merge ...) writes the report.`,
    ].join("\n");
  }
  const lines = ["", "Recommendations (HAKMEM_CONFIG files):"];
  for (const o of OBJECTIVES) {
    const r = result.recommendations[o];
    const file = result.files?.configs[o];
    if (r === null || file === undefined) {
      lines.push(`  ${o.padEnd(9)} none: no configuration completed every run`);
      continue;
    }
    const s = r.config;
    const what = r.change ? `★ ${s.label}` : "no change recommended";
    const score = o === "fastest" ? `speed ${((s.speed as number) * 100).toFixed(1)}%` : o === "smallest" ? `memory ${(s.memory as number).toFixed(3)}×` : `balanced ${(s.balanced as number).toFixed(3)}`;
    const best = r.change ? "" : r.best === r.config ? " (the defaults rank first)" : ` (best: ${r.best.label}, within the spread of the defaults)`;
    lines.push(`  ${o.padEnd(9)} ${what.padEnd(24)} ${score}${best}  ${rel(file)}`);
  }
  if (result.files?.config) lines.push(`  default   ${rel(result.files.config)} (= balanced)`);
  const front = result.summaries.filter((s) => s.pareto).map((s) => s.label);
  lines.push("", `Pareto front (throughput vs peak RSS): ${front.join(" | ") || "—"}`);
  if (result.files) {
    lines.push(
      `Report: ${rel(result.files.markdown)}   chart: ${rel(result.files.chart)}   data: ${rel(result.files.csv)}, ${rel(result.files.json)}, ${rel(result.files.journal)}`,
    );
  }
  if (result.failures.length > 0) lines.push("", `${result.failures.length} run(s) failed; see "Failed runs" in ${rel(resolve(out, "report.md"))}`);
  return lines.join("\n");
}

const MERGE_USAGE = `usage: npm run tune -- merge DIR... --out DIR [--objective NAME] [--allow-mixed-hardware]
       (hakmem tune merge ...)

Joins the journals (DIR/runs.jsonl) of the shards of one sweep (--shard K/N) into DIR of --out: one journal of
every run and the report the unsplit sweep would have written. The journals must come from the same grid,
workloads, runs and library build, and hold every shard once. Shards that ran on different hardware (CPU model or
cores) are refused unless --allow-mixed-hardware is given (the report then says so).

Exit status: 0 merged; 1 the merged sweep has failed runs; 2 bad arguments or journals that do not merge.`;

/** \`merge DIR... --out DIR\`: resolves to the exit status. */
export function mergeMain(args: readonly string[]): number {
  let parsed;
  try {
    parsed = readCommandLine(
      args,
      {
        out: { type: "string" },
        objective: { type: "string" },
        "allow-mixed-hardware": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      "any",
    );
  } catch (e) {
    console.error(`tune merge: ${(e as Error).message}\n(see merge --help)`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(MERGE_USAGE);
    return 0;
  }
  const fail = (message: string) => {
    console.error(`tune merge: ${message}\n(see merge --help)`);
    return 2;
  };
  if (values.out === undefined || values.out === "") return fail("--out DIR is required");
  if (positionals.length === 0) return fail("name the shards' directories");
  const objective = values.objective ?? "balanced";
  if (!OBJECTIVES.includes(objective as Objective)) return fail(`--objective wants one of ${OBJECTIVES.join(", ")}; got ${JSON.stringify(objective)}`);
  try {
    const result = mergeSweeps(positionals, { out: values.out, objective: objective as Objective, allowMixedHardware: values["allow-mixed-hardware"] === true });
    console.log(`merged ${positionals.length} journals: ${result.records.length} runs of ${result.plan.configs.length} configurations`);
    console.log(summaryText(result, values.out));
    return result.failures.length > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof TuneError && e.code !== "ABORTED") return fail(e.message);
    throw e;
  }
}

/** Runs the command line; resolves to the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  let opts: CliOptions;
  let sweepOptions: SweepOptions;
  try {
    if (args[0] === "merge") return mergeMain(args.slice(1));
    opts = parseArgs(args);
    if (opts.help) {
      console.log(usage());
      return 0;
    }
    sweepOptions = {
      grid: opts.grid,
      workloads: opts.workloads,
      runs: opts.runs,
      quick: opts.quick,
      out: resolve(opts.out),
      resume: opts.resume,
      objective: opts.objective,
      shard: opts.shard ?? undefined,
      allowMixedHardware: opts.allowMixedHardware,
    };
    planSweep(sweepOptions); // validates everything the sweep will use, before anything runs
    const journal = resolve(opts.out, "runs.jsonl");
    if (existsSync(opts.out) && !statSync(opts.out).isDirectory()) throw new UsageError(`--out ${opts.out} is not a directory`);
    if (!opts.resume && !opts.force && existsSync(journal) && statSync(journal).size > 0) {
      const n = readJournal(journal).records.length;
      throw new UsageError(`${opts.out} already holds a sweep (${n} runs in runs.jsonl): pass --resume to continue it, --force to start over, or choose another --out`);
    }
    if (opts.resume) readJournal(journal); // a corrupt journal is a bad argument too
  } catch (e) {
    if (e instanceof UsageError || (e instanceof HakmemError && e.code === "BAD_CONFIG") || (e instanceof TuneError && (e.code === "BAD_ARGUMENT" || e.code === "BAD_JOURNAL"))) {
      console.error(`tune: ${e.message}\n(see --help)`);
      return 2;
    }
    throw e;
  }

  const progress = new Progress();
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let finished = 0;
  let total = 0;
  try {
    const result = await sweep({
      ...sweepOptions,
      signal: controller.signal,
      onStart: (plan) => {
        total = plan.total;
        finished = plan.alreadyDone;
        const resumed = plan.alreadyDone > 0 ? `; ${plan.alreadyDone} already in the journal` : "";
        const n = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
        process.stderr.write(
          `tune: ${plan.shard === null ? "" : `shard ${plan.shard.index}/${plan.shard.count}: `}${n(plan.shardConfigs.length, "configuration")} (the library's defaults included) × ${n(plan.workloads.length, "workload")} × ${n(plan.runs, "run")} = ${n(plan.total, "run")}${resumed} → ${shownPath(opts.out, sweepOptions.out as string) || "."}/\n`,
        );
      },
      onRunStart: (e) => progress.start(e),
      onRun: (e) => {
        finished = e.done;
        progress.finished(e);
      },
    });
    progress.clear();
    console.log(summaryText(result, opts.out));
    return result.failures.length > 0 ? 1 : 0;
  } catch (e) {
    progress.clear();
    if (e instanceof TuneError && e.code === "ABORTED" && interrupted) {
      console.error(`tune: interrupted after ${finished} of ${total} runs; they are saved in ${join(opts.out, "runs.jsonl")}. Continue with the same command and --resume.`);
      return 130;
    }
    if (e instanceof TuneError && e.code === "MISSING_BUILD") {
      console.error(`tune: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
