/**
 * What a sweep produces, shared by the modules that make it (sweep.ts, merge.ts) and the one that writes it out
 * (report.ts), so that none of them imports another for its types.
 *
 * @module
 */
import type { MachineInfo } from "../machine.ts";
import type { ConfigSummary, Objective, Recommendation, RunRecord } from "./analysis.ts";
import type { TuneConfig } from "./grid.ts";
import type { Shard } from "./journal.ts";
import type { Workload } from "./workloads.ts";

/** What a sweep is about to do. */
export interface SweepPlan {
  /** Every configuration of the grid, the baseline (library defaults) included. */
  configs: TuneConfig[];
  workloads: Workload[];
  runs: number;
  /** The slice of the grid this sweep runs; null for all of it. */
  shard: Shard | null;
  /** The configurations this sweep runs: all of them, or the shard's. */
  shardConfigs: TuneConfig[];
  /** shardConfigs × workloads × runs */
  total: number;
  /** Runs already in the journal (resume), not run again. */
  alreadyDone: number;
}

/** Before a run. */
export interface RunStartEvent {
  config: TuneConfig;
  workload: Workload;
  /** 1-based run index and runs per configuration and workload. */
  run: number;
  runs: number;
  /** Runs finished so far (including resumed ones) and in all. */
  done: number;
  total: number;
  /** Estimated seconds left for the runs not yet finished (this one included); null before any measurement. */
  secondsLeft: number | null;
}

/** After a run. */
export interface RunEvent extends RunStartEvent {
  record: RunRecord;
}

/** What `sweep()` returns. */
export interface SweepResult {
  plan: SweepPlan;
  /** Every record of the sweep's configurations and workloads (resumed ones included), in journal order. */
  records: RunRecord[];
  /** One per configuration, in sweep order, with scores and the Pareto flag. */
  summaries: ConfigSummary[];
  /**
   * Per objective: the configuration to use and whether it is a change from the defaults (null when no
   * configuration completed every run).
   */
  recommendations: Record<Objective, Recommendation | null>;
  /** The machines the runs ran on (one, unless merged shards ran on different hardware). */
  machines: MachineInfo[];
  /** For a merged sweep: the journals it joined, one line each. */
  mergedFrom: string[] | null;
  /** Runs that failed (their records have `ok: false`). */
  failures: RunRecord[];
  /** The files written (with `out`). */
  files: ReportFiles | null;
}

/** Paths of the files a report was written to (report.ts `writeReport`). */
export interface ReportFiles {
  journal: string;
  markdown: string;
  csv: string;
  json: string;
  chart: string;
  /** One configuration file per objective that has a recommendation. */
  configs: Partial<Record<Objective, string>>;
  /** hakmem.config.json (the balanced recommendation), when there is one. */
  config: string | null;
}
