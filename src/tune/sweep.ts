/**
 * The sweep: every configuration × workload × run in a child process under build/runstat with hakmem preloaded and
 * configured through its environment, one at a time, each result appended to the journal as it comes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { HakmemOptions } from "../config.ts";
import { nativeFile } from "../bun-library.ts";
import { buildAdvice, PACKAGE_ROOT } from "../library.ts";
import { hardwareKey, type MachineInfo, machineInfo } from "../machine.ts";
import { measureRun, runFailure } from "../runstat.ts";
import { type ConfigSummary, NO_COUNTERS, type Objective, OBJECTIVES, type Recommendation, recommend, type RunRecord, summarize } from "./analysis.ts";
import { TuneError } from "./errors.ts";
import { librarySchema } from "./flag-table.ts";
import { expandGrid, type SweepGrid, type TuneConfig } from "./grid.ts";
import {
  appendRecord,
  type JournalHeader,
  type LibraryBuild,
  type PlanDescription,
  readJournal,
  resetJournal,
  runKey,
  type Shard,
} from "./journal.ts";
import { writeReport } from "./report.ts";
import type { RunEvent, RunStartEvent, SweepPlan, SweepResult } from "./types.ts";
import { builtinWorkload, checkWorkload, parseThroughput, type Workload } from "./workloads.ts";

/**
 * Where runstat, the benchmark programs and the preload library are: the package's prebuilt folder for this
 * platform when it carries one, else build/ (what `make` and `hakmem build` write).
 */
export const BUILD_DIR: string = dirname(nativeFile("runstat"));

/** Options of {@link sweep}. */
export interface SweepOptions {
  /** Values to sweep per flag; their cartesian product is the set of configurations. */
  grid: SweepGrid;
  /** Flags fixed for every configuration (not swept). */
  base?: HakmemOptions;
  /** Built-in workload names (`"random_mixed"`, ...) or any command line `{ name, argv, parse? }`. */
  workloads: readonly (string | Workload)[];
  /** Runs per configuration and workload (default 3); medians are reported. */
  runs?: number;
  /** Built-in workloads with a tenth of their iterations. */
  quick?: boolean;
  /**
   * Directory for the journal (runs.jsonl) and, at the end, the report files. Without it nothing is written and
   * the results are only returned.
   */
  out?: string;
  /**
   * Continue the journal in `out`: runs it already holds (successful ones) are not run again. Without it the
   * journal is started over.
   */
  resume?: boolean;
  /** The objective the Markdown table is sorted by (default balanced). */
  objective?: Objective;
  /**
   * Run only the `index`-th (1-based) of `count` deterministic slices of the grid: configuration i (in grid order,
   * the baseline included) belongs to slice `i % count + 1`. The journal in `out` then holds that slice alone, and
   * no report is written: `hakmem tune merge` joins the slices' journals into the report of the whole sweep.
   */
  shard?: Shard;
  /** Resume a journal that another machine (CPU model or cores) started; without it that is refused. */
  allowMixedHardware?: boolean;
  /** Stops the sweep: the run in flight is killed and not recorded; the promise rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Progress, the one channel a sweep reports through: called once with the plan, before the warm-up runs. */
  onStart?: (plan: SweepPlan) => void;
  /** Called before each run. */
  onRunStart?: (event: RunStartEvent) => void;
  /** Called after each run, with its record (also when it failed: `event.record.ok`). */
  onRun?: (event: RunEvent) => void;
  /** The preload library (default build/libhakmem_preload.so). */
  preload?: string;
  /** build/runstat, which runs each program and reports its peak RSS and page faults. */
  runstat?: string;
  /** Kill a run after this many milliseconds (default 300000); it then counts as failed. */
  timeoutMs?: number;
  /** Working directory of the programs (default: the package root). */
  cwd?: string;
  /** Extra environment for the programs (not HAKMEM_* or LD_PRELOAD: the sweep sets those). */
  env?: Record<string, string>;
}

/** The parent's environment without anything that configures an allocator. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === "LD_PRELOAD" || k.startsWith("HAKMEM_")) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function requireFile(path: string, what: string): void {
  if (!existsSync(path)) throw new TuneError("MISSING_BUILD", `${what} ${path} does not exist: ${buildAdvice("libs bench")}`);
}

function resolveProgram(program: string, cwd: string, workload: string): void {
  if (program.includes("/")) {
    if (!existsSync(resolve(cwd, program))) throw new TuneError("MISSING_BUILD", `workload ${workload}: ${program} does not exist${program.includes("/build/") ? " (run `make`)" : ""}`);
  } else if (Bun.which(program) === null) {
    throw new TuneError("MISSING_BUILD", `workload ${workload}: ${program} is not on PATH`);
  }
}

function tail(text: string, max = 2000): string {
  const t = text.trimEnd();
  return t.length <= max ? t : `…${t.slice(-max)}`;
}

interface RunContext {
  runstat: string;
  preload: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  statsDir: string;
  signal?: AbortSignal;
}

let statsSeq = 0;

/** Runs one program once under one configuration; never throws for the program's failures (they are recorded). */
async function runOnce(config: TuneConfig, workload: Workload, run: number, ctx: RunContext): Promise<RunRecord> {
  const statsFile = join(ctx.statsDir, `stats-${process.pid}-${++statsSeq}.json`);
  const env = { ...ctx.env, ...librarySchema().toEnv({ ...(config.options as HakmemOptions), statsFile }) };
  const argv = [...workload.argv];
  const base = {
    type: "run" as const,
    configId: config.id,
    label: config.label,
    config: config.options,
    workload: workload.name,
    argv,
    run,
  };
  const measured = await measureRun(argv, { runstat: ctx.runstat, preload: ctx.preload, env, cwd: ctx.cwd, timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  if (ctx.signal?.aborted) {
    rmSync(statsFile, { force: true });
    throw new TuneError("ABORTED", "the sweep was stopped");
  }
  const { stdout, stderr: programStderr, report } = measured;
  const figures = {
    peakRssBytes: report?.peakRssBytes ?? 0,
    pageFaults: report?.pageFaults ?? 0,
    wallSeconds: report?.wallSeconds ?? 0,
  };
  const fail = (why: string): RunRecord => {
    rmSync(statsFile, { force: true });
    const out = stdout.trim() === "" ? "" : `\n--- stdout ---\n${tail(stdout)}`;
    const err = programStderr.trim() === "" ? "" : `\n--- stderr ---\n${tail(programStderr)}`;
    return {
      ...base,
      ok: false,
      error: `${argv.join(" ")} ${why}${out}${err}`,
      throughput: null,
      ...figures,
      ...NO_COUNTERS,
      stats: null,
      finishedAt: new Date().toISOString(),
    };
  };
  const failure = runFailure(measured, ctx.timeoutMs);
  if (failure !== null) return fail(failure);
  let throughput: number | null;
  try {
    throughput = (workload.parse ?? parseThroughput)(stdout);
    if (throughput !== null && !(Number.isFinite(throughput) && throughput >= 0)) throw new Error(`parse returned ${throughput}`);
  } catch (e) {
    return fail(`printed an unexpected result: ${(e as Error).message}`);
  }
  let stats: Record<string, number>;
  try {
    stats = JSON.parse(readFileSync(statsFile, "utf8")) as Record<string, number>;
  } catch (e) {
    return fail(
      `left no hakmem statistics in HAKMEM_STATS_FILE (${(e as Error).message}): hakmem writes them at exit from a library ` +
        "destructor, which a statically linked program, or one that ends with _exit() (as dash does), never runs",
    );
  }
  rmSync(statsFile, { force: true });
  const n = (k: string) => (typeof stats[k] === "number" ? stats[k] : 0);
  return {
    ...base,
    ok: true,
    throughput,
    ...figures,
    osMaps: n("os_maps"),
    osUnmaps: n("os_unmaps"),
    osDecommits: n("os_decommits"),
    lruHits: n("lru_hit"),
    lruMisses: n("lru_miss"),
    lruEvicts: n("lru_evict"),
    stats,
    finishedAt: new Date().toISOString(),
  };
}

/** Validates the options and builds the plan; throws before anything runs. */
export function planSweep(options: SweepOptions): { plan: Omit<SweepPlan, "alreadyDone">; runs: number } {
  if (typeof options !== "object" || options === null) throw new TuneError("BAD_ARGUMENT", "sweep() wants an options object");
  const runs = options.runs ?? 3;
  if (!Number.isInteger(runs) || runs < 1 || runs > 1000) throw new TuneError("BAD_ARGUMENT", `runs must be an integer from 1 to 1000; got ${runs}`);
  if (options.objective !== undefined && !OBJECTIVES.includes(options.objective))
    throw new TuneError("BAD_ARGUMENT", `objective must be one of ${OBJECTIVES.join(", ")}; got ${JSON.stringify(options.objective)}`);
  if (!Array.isArray(options.workloads) || options.workloads.length === 0)
    throw new TuneError("BAD_ARGUMENT", "workloads must be a non-empty array of built-in names or {name, argv, parse?}");
  const workloads = options.workloads.map((w, i) =>
    typeof w === "string" ? builtinWorkload(w, BUILD_DIR, options.quick ?? false) : checkWorkload(w, i),
  );
  const names = new Set<string>();
  for (const w of workloads) {
    if (names.has(w.name)) throw new TuneError("BAD_ARGUMENT", `workload ${w.name} is listed twice`);
    names.add(w.name);
  }
  for (const k of Object.keys(options.env ?? {}))
    if (k === "LD_PRELOAD" || k.startsWith("HAKMEM_"))
      throw new TuneError("BAD_ARGUMENT", `env must not set ${k}: the sweep sets LD_PRELOAD and the HAKMEM_* flags (use grid or base)`);
  const configs = expandGrid(options.grid, options.base ?? {});
  const shard = options.shard ?? null;
  if (shard !== null) {
    const { index, count } = shard;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 1 || index > count)
      throw new TuneError("BAD_ARGUMENT", `shard must be K/N with 1 <= K <= N; got ${index}/${count}`);
    if (count > configs.length)
      throw new TuneError("BAD_ARGUMENT", `shard ${index}/${count}: the grid has only ${configs.length} configurations, so some shards would be empty`);
  }
  const shardConfigs = shard === null ? configs : configs.filter((_, i) => i % shard.count === shard.index - 1);
  return { plan: { configs, workloads, runs, shard, shardConfigs, total: shardConfigs.length * workloads.length * runs }, runs };
}

/** The plan as a journal keeps it. */
export function describePlan(plan: Pick<SweepPlan, "configs" | "workloads" | "runs">): PlanDescription {
  return {
    configs: plan.configs.map((c) => ({ id: c.id, label: c.label, options: c.options, baseline: c.baseline })),
    workloads: plan.workloads.map((w) => ({ name: w.name, argv: [...w.argv], description: w.description ?? null })),
    runs: plan.runs,
  };
}

/**
 * The identity of a plan: what must match for journals to merge. Programs count by file name, so the same sweep
 * from a checkout in another directory (another machine) matches.
 */
export function planIdOf(plan: PlanDescription): string {
  const key = {
    configs: plan.configs.map((c) => c.id),
    workloads: plan.workloads.map((w) => [w.name, basename(w.argv[0] as string), ...w.argv.slice(1)]),
    runs: plan.runs,
  };
  return createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16);
}

/** The library file and a hash of its contents. */
export function libraryBuild(path: string): LibraryBuild {
  return { path, sha256: createHash("sha256").update(readFileSync(path)).digest("hex") };
}

/** Checks that a journal being resumed belongs to this sweep, machine and build; throws `BAD_ARGUMENT`. */
function checkResumable(path: string, header: JournalHeader, mine: JournalHeader, allowMixedHardware: boolean): void {
  const shardText = (s: Shard | null) => (s === null ? "the whole grid" : `shard ${s.index}/${s.count}`);
  const refuse = (why: string) => {
    throw new TuneError("BAD_ARGUMENT", `cannot resume ${path}: ${why}; start over with --force or choose another --out`);
  };
  if (header.planId !== mine.planId) refuse("it is a sweep of another grid, workloads or number of runs");
  if (shardText(header.shard) !== shardText(mine.shard)) refuse(`it runs ${shardText(header.shard)}, not ${shardText(mine.shard)}`);
  if (header.library.sha256 !== mine.library.sha256) refuse(`the library ${mine.library.path} was rebuilt since it started`);
  if (!allowMixedHardware && hardwareKey(header.machine) !== hardwareKey(mine.machine))
    refuse(`it started on ${hardwareKey(header.machine)}, this is ${hardwareKey(mine.machine)} (--allow-mixed-hardware to mix them)`);
}

/**
 * Runs a sweep: every configuration of the grid on every workload, `runs` times, round-robin (run 1 of everything,
 * then run 2, ...) so that slow drifts of a shared machine spread over all configurations, after one discarded
 * warm-up run of each workload. Each program runs under
 * build/runstat with LD_PRELOAD=build/libhakmem_preload.so, the configuration's `HAKMEM_*` variables (from
 * `toEnv`) and `HAKMEM_STATS_FILE`; the parent's own `HAKMEM_*` variables and LD_PRELOAD are not passed on.
 *
 * Validates everything first (`HakmemError` `BAD_CONFIG` for flag values, {@link TuneError} `BAD_ARGUMENT`,
 * `MISSING_BUILD`). A failing run is recorded (`ok: false`) and the sweep goes on; its configuration is then left
 * out of the scores and recommendations.
 */
export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const { plan: base, runs } = planSweep(options);
  const runstat = options.runstat ?? join(BUILD_DIR, "runstat");
  const preload = options.preload ?? join(BUILD_DIR, "libhakmem_preload.so");
  const cwd = options.cwd ?? PACKAGE_ROOT;
  requireFile(runstat, "build/runstat (it measures each run)");
  requireFile(preload, "the preload library");
  for (const w of base.workloads) resolveProgram(w.argv[0] as string, cwd, w.name);
  const timeoutMs = options.timeoutMs ?? 300_000;
  if (!(timeoutMs > 0)) throw new TuneError("BAD_ARGUMENT", `timeoutMs must be positive; got ${timeoutMs}`);

  const journal = options.out === undefined ? null : join(options.out, "runs.jsonl");
  const machine = machineInfo();
  const description = describePlan(base);
  const header: JournalHeader = {
    type: "sweep",
    planId: planIdOf(description),
    plan: description,
    shard: base.shard,
    machine,
    library: libraryBuild(preload),
    startedAt: new Date().toISOString(),
  };
  let previous: RunRecord[] = [];
  let machines = [machine];
  if (journal !== null) {
    mkdirSync(options.out as string, { recursive: true });
    if (options.resume) {
      const found = readJournal(journal, true);
      previous = found.records;
      if (found.header === null) {
        // a journal from before headers: give it this one
        writeFileSync(journal, [header, ...previous].map((r) => `${JSON.stringify(r)}\n`).join(""));
      } else {
        checkResumable(journal, found.header, header, options.allowMixedHardware === true);
        if (hardwareKey(found.header.machine) !== hardwareKey(machine)) machines = [found.header.machine, machine];
      }
    } else resetJournal(journal, header);
  }
  const done = new Set(previous.filter((r) => r.ok).map((r) => runKey(r.configId, r.workload, r.argv, r.run)));
  const keyOf = (c: TuneConfig, w: Workload, run: number) => runKey(c.id, w.name, w.argv, run);
  const todo: { c: TuneConfig; w: Workload; run: number }[] = [];
  let alreadyDone = 0;
  for (let run = 1; run <= runs; run++)
    for (const w of base.workloads)
      for (const c of base.shardConfigs) {
        if (done.has(keyOf(c, w, run))) alreadyDone++;
        else todo.push({ c, w, run });
      }
  const plan: SweepPlan = { ...base, alreadyDone };
  options.onStart?.(plan);

  const statsDir = mkdtempSync(join(tmpdir(), "hakmem-tune-"));
  const ctx: RunContext = { runstat, preload, cwd, env: cleanEnv(options.env ?? {}), timeoutMs, statsDir, signal: options.signal };
  const records: RunRecord[] = [];
  // time left: runs still to do per workload × the mean duration of that workload's runs so far
  const seconds = new Map<string, { sum: number; n: number }>();
  const remaining = new Map<string, number>();
  for (const t of todo) remaining.set(t.w.name, (remaining.get(t.w.name) ?? 0) + 1);
  const estimate = (): number | null => {
    let sum = 0;
    let n = 0;
    for (const s of seconds.values()) {
      sum += s.sum;
      n += s.n;
    }
    if (n === 0) return null;
    let left = 0;
    for (const [name, count] of remaining) {
      const s = seconds.get(name);
      left += count * (s ? s.sum / s.n : sum / n);
    }
    return left;
  };
  try {
    // Warm-up: one run of each workload still to run, thrown away, so that the first configuration in line does
    // not pay for cold caches (the program, the library, the kernel's page cache).
    for (const w of new Set(todo.map((t) => t.w))) {
      const first = todo.find((t) => t.w === w) as (typeof todo)[number];
      await runOnce(first.c, w, 0, ctx);
    }
    for (let i = 0; i < todo.length; i++) {
      if (options.signal?.aborted) throw new TuneError("ABORTED", "the sweep was stopped");
      const { c, w, run } = todo[i] as (typeof todo)[number];
      const startEvent: RunStartEvent = { config: c, workload: w, run, runs, done: alreadyDone + i, total: plan.total, secondsLeft: estimate() };
      options.onRunStart?.(startEvent);
      const t0 = performance.now();
      const record = await runOnce(c, w, run, ctx);
      const s = seconds.get(w.name) ?? { sum: 0, n: 0 };
      s.sum += (performance.now() - t0) / 1000;
      s.n += 1;
      seconds.set(w.name, s);
      remaining.set(w.name, (remaining.get(w.name) ?? 1) - 1);
      records.push(record);
      if (journal !== null) appendRecord(journal, record);
      const event: RunEvent = { ...startEvent, done: alreadyDone + i + 1, secondsLeft: estimate(), record };
      options.onRun?.(event);
    }
  } finally {
    rmSync(statsDir, { recursive: true, force: true });
  }
  return finishSweep(plan, [...previous, ...records], { ...options, machines });
}

/**
 * Summaries, recommendations and (with `out`, for a whole grid) the report files for a finished plan. `machines`:
 * where the runs ran (default: this machine).
 */
export function finishSweep(
  plan: SweepPlan,
  allRecords: readonly RunRecord[],
  options: Pick<SweepOptions, "out" | "objective"> & { machines?: MachineInfo[]; mergedFrom?: string[] },
): SweepResult {
  const ids = new Set(plan.shardConfigs.map((c) => c.id));
  const wanted = new Map(plan.workloads.map((w) => [w.name, JSON.stringify(w.argv)]));
  const records = allRecords.filter(
    (r) => ids.has(r.configId) && wanted.get(r.workload) === JSON.stringify(r.argv) && r.run >= 1 && r.run <= plan.runs,
  );
  const shape = {
    configs: plan.shardConfigs,
    workloads: plan.workloads.map((w) => ({ name: w.name, throughput: records.some((r) => r.workload === w.name && r.ok && r.throughput !== null) })),
    runs: plan.runs,
  };
  const summaries = summarize(shape, records);
  const recommendations = Object.fromEntries(OBJECTIVES.map((o) => [o, recommend(summaries, o)])) as Record<Objective, Recommendation | null>;
  // a run that failed and later succeeded is not a failure of the sweep
  const latest = new Map<string, RunRecord>();
  for (const r of records) latest.set(runKey(r.configId, r.workload, r.argv, r.run), r);
  const failures = [...latest.values()].filter((r) => !r.ok);
  const machines = options.machines ?? [machineInfo()];
  const result: SweepResult = { plan, records, summaries, recommendations, machines, mergedFrom: options.mergedFrom ?? null, failures, files: null };
  if (options.out !== undefined && plan.shard === null) result.files = writeReport(options.out, result, options.objective ?? "balanced", librarySchema());
  return result;
}
