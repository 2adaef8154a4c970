/**
 * From runs to decisions: medians per configuration and workload, scores across workloads, the Pareto front of
 * throughput against peak RSS, and the recommended configuration for each objective. Pure functions of the
 * records; nothing here runs anything.
 *
 * @module
 */
import type { HakmemConfig } from "../config.ts";

/** One finished run, as the journal (runs.jsonl) stores it, one JSON object per line. */
export interface RunRecord {
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
  /** From the statistics hakmem wrote at exit (HAKMEM_STATS_FILE): OS mappings, unmappings and decommits. */
  osMaps: number;
  osUnmaps: number;
  osDecommits: number;
  /** LRU cache of empty SuperSlabs: a new SuperSlab taken from it (hit) or not (miss), and evictions. */
  lruHits: number;
  lruMisses: number;
  lruEvicts: number;
  /** Every counter of the statistics file, as written; null when the run failed before writing it. */
  stats: Record<string, number> | null;
  /** ISO time the run finished. */
  finishedAt: string;
}

/** The medians of one configuration on one workload, over its successful runs. */
export interface WorkloadSummary {
  workload: string;
  /** Successful runs (the medians are over these). */
  runs: number;
  /** Failed runs. */
  failed: number;
  /** Median operations per second; null for a memory-only workload or when no run succeeded. */
  throughput: number | null;
  /** Lowest and highest throughput of the runs (the spread of the median). */
  throughputMin: number | null;
  throughputMax: number | null;
  peakRssBytes: number;
  pageFaults: number;
  osMaps: number;
  osUnmaps: number;
  osDecommits: number;
  lruHits: number;
  lruMisses: number;
  lruEvicts: number;
}

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
  /** On the Pareto front of speed against memory: no other configuration is at least as fast and as small, and better in one. */
  pareto: boolean;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
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
  configs: readonly { id: string; label: string; options: Partial<HakmemConfig> }[];
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
        peakRssBytes: med((r) => r.peakRssBytes),
        pageFaults: med((r) => r.pageFaults),
        osMaps: med((r) => r.osMaps),
        osUnmaps: med((r) => r.osUnmaps),
        osDecommits: med((r) => r.osDecommits),
        lruHits: med((r) => r.lruHits),
        lruMisses: med((r) => r.lruMisses),
        lruEvicts: med((r) => r.lruEvicts),
      };
    });
    const complete = workloads.every((w) => w.runs === shape.runs && w.failed === 0);
    return { configId: c.id, label: c.label, config: c.options, workloads, complete, speed: null, memory: null, balanced: null, pareto: false };
  });

  const scored = summaries.filter((s) => s.complete);
  if (scored.length === 0) return summaries;
  const throughputIdx = shape.workloads.flatMap((w, i) => (w.throughput ? [i] : []));
  const best = throughputIdx.map((i) => Math.max(...scored.map((s) => s.workloads[i]?.throughput ?? 0)));
  const least = shape.workloads.map((_, i) => Math.min(...scored.map((s) => s.workloads[i]?.peakRssBytes ?? Number.POSITIVE_INFINITY)));
  for (const s of scored) {
    s.memory = geomean(s.workloads.map((w, i) => w.peakRssBytes / (least[i] as number)));
    s.speed =
      throughputIdx.length === 0
        ? null
        : geomean(throughputIdx.map((i, k) => Math.max((s.workloads[i]?.throughput ?? 0) / (best[k] as number), 1e-12)));
    s.balanced = s.speed === null ? 1 / s.memory : Math.sqrt(s.speed / s.memory);
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
export function recommend(summaries: readonly ConfigSummary[], objective: Objective): ConfigSummary | null {
  const first = rank(summaries, objective)[0];
  if (first === undefined || !first.complete) return null;
  if (objective === "fastest" && first.speed === null) return null;
  return first;
}
