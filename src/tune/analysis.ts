/**
 * From runs to decisions: medians per configuration and workload, scores across workloads, the Pareto front of
 * throughput against peak RSS, and the recommended configuration for each objective. Pure functions of the
 * records; nothing here runs anything.
 *
 * @module
 */
import type { HakmemConfig } from "../config.ts";
import { BOOTSTRAP_COVERAGE, bootstrapOfMedians, hashSeed, type Interval, iqr, median } from "./spread.ts";

export { median };

/**
 * What hakmem's statistics at exit (HAKMEM_STATS_FILE) tell of a run: OS mappings, unmappings and decommits, and the
 * LRU cache of empty SuperSlabs (a new SuperSlab taken from it, a hit, or not, a miss; and evictions). A run records
 * them, a summary gives their medians.
 */
export interface HakmemCounters {
  osMaps: number;
  osUnmaps: number;
  osDecommits: number;
  lruHits: number;
  lruMisses: number;
  lruEvicts: number;
}

/** The counters of a run that wrote no statistics (it failed first). */
export const NO_COUNTERS: HakmemCounters = { osMaps: 0, osUnmaps: 0, osDecommits: 0, lruHits: 0, lruMisses: 0, lruEvicts: 0 };

/** One finished run, as the journal (runs.jsonl) stores it, one JSON object per line. */
export interface RunRecord extends HakmemCounters {
  type: "run";
  /** {@link TuneConfig.id} of the configuration. */
  configId: string;
  /** Its label when it ran. */
  label: string;
  /** The configuration, normalized (sizes in bytes). */
  config: Partial<HakmemConfig>;
  /** Workload name. */
  workload: string;
  /** The command line that ran (the program, then its arguments). */
  argv: string[];
  /** 1-based run index within the configuration and workload. */
  run: number;
  /** False when the program failed, printed no result or wrote no statistics; `error` says why. */
  ok: boolean;
  error?: string;
  /** Operations per second the program reported; null for a memory-only workload or a failed run. */
  throughput: number | null;
  /** Peak resident set of the program in bytes (wait4 ru_maxrss through build/runstat). */
  peakRssBytes: number;
  /** Minor + major page faults of the program. */
  pageFaults: number;
  /** Wall-clock seconds of the program. */
  wallSeconds: number;
  /** Every counter of the statistics file, as written; null when the run failed before writing it. */
  stats: Record<string, number> | null;
  /** ISO time the run finished. */
  finishedAt: string;
}

/** The medians of one configuration on one workload, over its successful runs. */
export interface WorkloadSummary extends HakmemCounters {
  workload: string;
  /** Successful runs (the medians are over these). */
  runs: number;
  /** Failed runs. */
  failed: number;
  /** Median operations per second; null for a memory-only workload or when no run succeeded. */
  throughput: number | null;
  /** Lowest and highest throughput of the runs. */
  throughputMin: number | null;
  throughputMax: number | null;
  /** Interquartile range of the runs' throughput (the spread of the median); null without throughput. */
  throughputIqr: Interval | null;
  peakRssBytes: number;
  /** Interquartile range of the runs' peak RSS. */
  peakRssIqr: Interval;
  pageFaults: number;
  /** Interquartile ranges of the counters above (page faults, OS maps, ... LRU evictions), by field name. */
  countIqr: Record<CounterField, Interval>;
}

/** The counters of a run that the summaries give medians of. */
export const COUNTER_FIELDS = ["pageFaults", "osMaps", "osUnmaps", "osDecommits", "lruHits", "lruMisses", "lruEvicts"] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];

/** The objectives a recommendation is made for. */
export type Objective = "fastest" | "smallest" | "balanced";

/** Every objective, in report order. */
export const OBJECTIVES: readonly Objective[] = ["fastest", "smallest", "balanced"];

/** One configuration over every workload, with its scores. */
export interface ConfigSummary {
  configId: string;
  label: string;
  config: Partial<HakmemConfig>;
  /** Per workload, in the sweep's workload order. */
  workloads: WorkloadSummary[];
  /** Every planned run of every workload succeeded: only complete configurations are scored. */
  complete: boolean;
  /** The library's defaults for every swept flag: what a recommendation has to beat. */
  baseline: boolean;
  /**
   * Geometric mean over the throughput workloads of this configuration's median divided by the best median of any
   * complete configuration: 1 is the fastest on every workload. Null when incomplete or no workload measures
   * throughput.
   */
  speed: number | null;
  /**
   * Geometric mean over all workloads of the median peak RSS divided by the smallest of any complete configuration:
   * 1 is the smallest on every workload, 1.25 is 25% more memory. Null when incomplete.
   */
  memory: number | null;
  /** `sqrt(speed / memory)` (or `1 / memory` without throughput workloads): higher is better. Null when incomplete. */
  balanced: number | null;
  /**
   * 90% bootstrap intervals of the three scores: the runs of every workload resampled, the medians and the score
   * recomputed (the best and smallest medians they are relative to held fixed). Null when the score is.
   */
  speedInterval: Interval | null;
  memoryInterval: Interval | null;
  balancedInterval: Interval | null;
  /** On the Pareto front of speed against memory: no other configuration is at least as fast and as small, and better in one. */
  pareto: boolean;
}

function geomean(values: readonly number[]): number {
  return Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
}

/**
 * Indices of the Pareto-optimal points when `cost` is to be minimised and `gain` maximised: a point is on the front
 * when no other point has a cost at most its cost and a gain at least its gain, with one of the two strictly
 * better. Equal points are all on the front. Returned in order of increasing cost (then decreasing gain).
 */
export function paretoFront(points: readonly { cost: number; gain: number }[]): number[] {
  const front: number[] = [];
  points.forEach((p, i) => {
    const dominated = points.some((q, j) => j !== i && q.cost <= p.cost && q.gain >= p.gain && (q.cost < p.cost || q.gain > p.gain));
    if (!dominated) front.push(i);
  });
  return front.sort((a, b) => {
    const pa = points[a] as { cost: number; gain: number };
    const pb = points[b] as { cost: number; gain: number };
    return pa.cost - pb.cost || pb.gain - pa.gain;
  });
}

/** What {@link summarize} needs to know about the sweep. */
export interface SweepShape {
  /** Configurations in sweep order. */
  configs: readonly { id: string; label: string; options: Partial<HakmemConfig>; baseline?: boolean }[];
  /** Workload names in sweep order, and whether each measures throughput (false: memory only). */
  workloads: readonly { name: string; throughput: boolean }[];
  /** Planned runs per configuration and workload. */
  runs: number;
}

/**
 * Summaries of every configuration of the sweep from its run records (the last record of each run counts, so a
 * run repeated after a failure replaces it). Records of other configurations or workloads are ignored.
 */
export function summarize(shape: SweepShape, records: readonly RunRecord[]): ConfigSummary[] {
  const latest = new Map<string, RunRecord>();
  for (const r of records) latest.set(`${r.configId}\n${r.workload}\n${r.run}`, r);
  const summaries: ConfigSummary[] = shape.configs.map((c) => {
    const workloads = shape.workloads.map((w): WorkloadSummary => {
      const rs: RunRecord[] = [];
      for (let run = 1; run <= shape.runs; run++) {
        const r = latest.get(`${c.id}\n${w.name}\n${run}`);
        if (r) rs.push(r);
      }
      const ok = rs.filter((r) => r.ok);
      const med = (f: (r: RunRecord) => number) => (ok.length === 0 ? Number.NaN : median(ok.map(f)));
      const thr = w.throughput ? ok.map((r) => r.throughput).filter((t): t is number => t !== null) : [];
      return {
        workload: w.name,
        runs: ok.length,
        failed: rs.length - ok.length,
        throughput: thr.length > 0 ? median(thr) : null,
        throughputMin: thr.length > 0 ? Math.min(...thr) : null,
        throughputMax: thr.length > 0 ? Math.max(...thr) : null,
        throughputIqr: thr.length > 0 ? iqr(thr) : null,
        peakRssBytes: med((r) => r.peakRssBytes),
        peakRssIqr: iqr(ok.map((r) => r.peakRssBytes)),
        pageFaults: med((r) => r.pageFaults),
        osMaps: med((r) => r.osMaps),
        osUnmaps: med((r) => r.osUnmaps),
        osDecommits: med((r) => r.osDecommits),
        lruHits: med((r) => r.lruHits),
        lruMisses: med((r) => r.lruMisses),
        lruEvicts: med((r) => r.lruEvicts),
        countIqr: Object.fromEntries(COUNTER_FIELDS.map((f) => [f, iqr(ok.map((r) => r[f]))])) as Record<CounterField, Interval>,
      };
    });
    const complete = workloads.every((w) => w.runs === shape.runs && w.failed === 0);
    const none = { speed: null, memory: null, balanced: null, speedInterval: null, memoryInterval: null, balancedInterval: null };
    return { configId: c.id, label: c.label, config: c.options, workloads, complete, baseline: c.baseline === true, ...none, pareto: false };
  });

  const scored = summaries.filter((s) => s.complete);
  if (scored.length === 0) return summaries;
  const throughputIdx = shape.workloads.flatMap((w, i) => (w.throughput ? [i] : []));
  const best = throughputIdx.map((i) => Math.max(...scored.map((s) => s.workloads[i]?.throughput ?? 0)));
  const least = shape.workloads.map((_, i) => Math.min(...scored.map((s) => s.workloads[i]?.peakRssBytes ?? Number.POSITIVE_INFINITY)));
  // the scores as functions of the medians: [throughput medians of throughputIdx..., peak RSS medians of every workload...]
  const nt = throughputIdx.length;
  const speedOf = (m: readonly number[]) =>
    nt === 0 ? null : geomean(throughputIdx.map((_, k) => Math.max((m[k] as number) / (best[k] as number), 1e-12)));
  const memoryOf = (m: readonly number[]) => geomean(shape.workloads.map((_, i) => (m[nt + i] as number) / (least[i] as number)));
  const balancedOf = (m: readonly number[]) => {
    const speed = speedOf(m);
    return speed === null ? 1 / memoryOf(m) : Math.sqrt(speed / memoryOf(m));
  };
  for (const s of scored) {
    const medians = [...throughputIdx.map((i) => s.workloads[i]?.throughput ?? 0), ...s.workloads.map((w) => w.peakRssBytes)];
    s.speed = speedOf(medians);
    s.memory = memoryOf(medians);
    s.balanced = balancedOf(medians);
    // the samples behind the medians, in the same order
    const okRuns = (wi: number) => {
      const rs: RunRecord[] = [];
      for (let run = 1; run <= shape.runs; run++) {
        const r = latest.get(`${s.configId}\n${shape.workloads[wi]?.name}\n${run}`);
        if (r?.ok) rs.push(r);
      }
      return rs;
    };
    const samples = [
      ...throughputIdx.map((i) => okRuns(i).map((r) => r.throughput ?? 0)),
      ...shape.workloads.map((_, i) => okRuns(i).map((r) => r.peakRssBytes)),
    ];
    const seed = hashSeed(s.configId);
    if (s.speed !== null) s.speedInterval = bootstrapOfMedians(samples, (m) => speedOf(m) as number, seed);
    s.memoryInterval = bootstrapOfMedians(samples, memoryOf, seed + 1);
    s.balancedInterval = bootstrapOfMedians(samples, balancedOf, seed + 2);
  }
  const front = paretoFront(scored.map((s) => ({ cost: s.memory as number, gain: s.speed ?? 0 })));
  for (const i of front) (scored[i] as ConfigSummary).pareto = true;
  return summaries;
}

/**
 * Orders configurations for an objective, best first; incomplete ones last (in sweep order). Ties go to the other
 * score: fastest breaks ties by memory, smallest by speed, balanced by speed.
 */
export function rank(summaries: readonly ConfigSummary[], objective: Objective): ConfigSummary[] {
  const speed = (s: ConfigSummary) => s.speed ?? 0;
  const memory = (s: ConfigSummary) => s.memory ?? Number.POSITIVE_INFINITY;
  const compare: Record<Objective, (a: ConfigSummary, b: ConfigSummary) => number> = {
    fastest: (a, b) => speed(b) - speed(a) || memory(a) - memory(b),
    smallest: (a, b) => memory(a) - memory(b) || speed(b) - speed(a),
    balanced: (a, b) => (b.balanced ?? 0) - (a.balanced ?? 0) || speed(b) - speed(a),
  };
  const complete = summaries.filter((s) => s.complete).sort(compare[objective]);
  return [...complete, ...summaries.filter((s) => !s.complete)];
}

/** The best complete configuration for an objective, or null when none is complete (or none measures throughput, for fastest). */
export function topRanked(summaries: readonly ConfigSummary[], objective: Objective): ConfigSummary | null {
  const first = rank(summaries, objective)[0];
  if (first === undefined || !first.complete) return null;
  if (objective === "fastest" && first.speed === null) return null;
  return first;
}

/** What a sweep recommends for one objective. */
export interface Recommendation {
  objective: Objective;
  /** The configuration to use: the best one when it beats the defaults by more than the spread, else the defaults. */
  config: ConfigSummary;
  /** True when `config` is not the defaults: the best configuration beat them by more than the spread. */
  change: boolean;
  /** The best-ranked configuration (the same as `config` when `change`). */
  best: ConfigSummary;
  /** The defaults (null when the sweep has no complete baseline to compare with). */
  baseline: ConfigSummary | null;
  /** One sentence: why. */
  reason: string;
}

/** Coverage of the score intervals, as a percentage for reports ("90%"). */
export const INTERVAL_TEXT = `${Math.round(BOOTSTRAP_COVERAGE * 100)}%`;

function scoreOf(s: ConfigSummary, objective: Objective): { value: number; interval: Interval } | null {
  const [value, interval] =
    objective === "fastest" ? [s.speed, s.speedInterval] : objective === "smallest" ? [s.memory, s.memoryInterval] : [s.balanced, s.balancedInterval];
  return value === null || interval === null ? null : { value, interval };
}

/**
 * The recommendation for an objective: the best complete configuration when its score's interval lies wholly on
 * the better side of the defaults' interval (it beats them by more than the spread of either), else "no change"
 * (the defaults). Null when no configuration is complete (or, for fastest, none measures throughput). When the
 * defaults did not complete, the best configuration is recommended and the reason says it was not compared.
 */
export function recommend(summaries: readonly ConfigSummary[], objective: Objective): Recommendation | null {
  const top = topRanked(summaries, objective);
  if (top === null) return null;
  const baseline = summaries.find((s) => s.baseline && s.complete) ?? null;
  if (baseline === null)
    return { objective, config: top, change: true, best: top, baseline: null, reason: "the defaults are not in the sweep or did not complete: not compared" };
  if (top === baseline)
    return { objective, config: baseline, change: false, best: top, baseline, reason: "no change recommended: the defaults rank first" };
  const a = scoreOf(top, objective);
  const b = scoreOf(baseline, objective);
  const lowerIsBetter = objective === "smallest";
  const clear = a !== null && b !== null && (lowerIsBetter ? a.interval[1] < b.interval[0] : a.interval[0] > b.interval[1]);
  if (clear) return { objective, config: top, change: true, best: top, baseline, reason: `${top.label} beats the defaults by more than the spread` };
  return {
    objective,
    config: baseline,
    change: false,
    best: top,
    baseline,
    reason: `no change recommended: the best, ${top.label}, is within the spread (${INTERVAL_TEXT} intervals overlap) of the defaults`,
  };
}
