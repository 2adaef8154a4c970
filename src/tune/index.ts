/**
 * The tuning loop as a library: sweep SuperSlab size, LRU limits (or any flags) over workloads, each run in a child
 * process with hakmem preloaded, and get medians, the Pareto front of throughput against peak RSS, and a
 * recommended configuration per objective (measured against the library's defaults, always in the sweep). A sweep
 * splits into shards (`shard`) whose journals `mergeSweeps` joins. `bun run tune` (src/tune/cli.ts) is this plus a
 * progress bar.
 *
 * @example
 * ```ts
 * import { sweep } from "hakmem/tune";
 * const result = await sweep({
 *   grid: { superslabSize: ["512K", "2M"], lruMaxCached: [0, 64] },
 *   workloads: ["random_mixed", { name: "sort", argv: ["sort", "big.txt"], parse: () => null }],
 *   runs: 3,
 *   out: "tune-results",                      // runs.jsonl, report.md, runs.csv, results.json, chart.svg, hakmem.config*.json
 *   onRun: (e) => console.log(`${e.done}/${e.total}`, e.config.label, e.workload.name, e.record.throughput),
 * });
 * const r = result.recommendations.balanced;     // the defaults unless something beats them by more than the spread
 * console.log(r?.change ? r.config.label : "no change recommended");
 * ```
 *
 * @module
 */
export {
  median,
  OBJECTIVES,
  paretoFront,
  rank,
  recommend,
  summarize,
  topRanked,
  type ConfigSummary,
  type HakmemCounters,
  type Recommendation,
  type Objective,
  type RunRecord,
  type SweepShape,
  type WorkloadSummary,
} from "./analysis.ts";
export { renderChart, ticks, type ChartInput } from "./chart.ts";
export { TuneError, type TuneErrorCode } from "./errors.ts";
export { librarySchema } from "./flag-table.ts";
export { PACKAGE_ROOT } from "../library.ts";
export { expandGrid, normalizeGrid, parseFlagList, type FlagValue, type SweepGrid, type TuneConfig } from "./grid.ts";
export { appendRecord, readJournal, type JournalContents, type JournalHeader, type PlanDescription, type Shard } from "./journal.ts";
export { mergeSweeps, type MergeOptions } from "./merge.ts";
export { bootstrapOfMedians, iqr, type Interval } from "./spread.ts";
export { configFileName, configFileText, DEFAULT_CONFIG_FILE, OBJECTIVE_TEXT, writeReport } from "./report.ts";
export {
  BUILD_DIR,
  describePlan,
  finishSweep,
  planIdOf,
  planSweep,
  sweep,
  type SweepOptions,
} from "./sweep.ts";
export type { ReportFiles, RunEvent, RunStartEvent, SweepPlan, SweepResult } from "./types.ts";
export {
  BUILTIN_WORKLOADS,
  builtinWorkload,
  DEFAULT_WORKLOADS,
  describeBuiltinWorkloads,
  isBuiltinWorkload,
  parseScaling,
  parseThroughput,
  type BuiltinWorkloadName,
  type Workload,
} from "./workloads.ts";
