/**
 * A thin layer over mitata 1.x for the microbenchmarks (bench/*.bench.ts).
 *
 * Every group is a mitata `summary` with hakmem's contender marked as the `baseline`, so mitata ends each table
 * with "hakmem ... N x faster/slower than X" for every other contender. A script registers its groups, calls
 * `run()`, and gets the mitata tables on stdout; with `--json FILE` it also writes a small summary (mean, p50 and
 * p99 per contender, ratios to hakmem) that bench/run.ts puts into the results files.
 *
 * Options of every bench/*.bench.ts:
 *   --quick          about 10 ms of measurement per benchmark instead of mitata's default (~0.7 s): for smoke
 *                    tests; the numbers are rough
 *   --json FILE      write the summary as JSON to FILE
 *   --filter REGEX   only the groups whose title matches
 *   --progress       before each benchmark, a line `PROGRESS_PREFIX K/N group · name` on stderr (bench/run.ts
 *                    reads them to show one progress line with the time left)
 *
 * mitata's `run()` takes no measuring options, so each benchmark's `run` is replaced with one that calls mitata's
 * own `measure()` and returns the same trial shape; the tables and the summaries are printed by mitata as usual.
 * That is where the options go (--quick's short `min_cpu_time`, fewer iterations per sample for slow iterations),
 * and where every benchmark, in every mode, is warmed up first: one discarded measurement of the same function
 * (WARMUP_NS and WARMUP_SAMPLES of it) before the measured one. mitata's own warm-up is two calls, which leaves the JIT's tiering,
 * the allocator's first slabs and the FFI stubs inside the measurement: the first group of a --quick run read
 * 315 ns for a 16-byte malloc+free that costs 19 ns.
 */
import { memoryUsage } from "bun:jsc";
import { bench, do_not_optimize, group, measure, run, summary, type B } from "mitata";
import { readCommandLine, UsageError } from "../../src/args.ts";
import { formatNs, formatRatio, markBest, markdownTable } from "./report.ts";

export { do_not_optimize };

export interface MicroOptions {
  quick: boolean;
  json: string | null;
  filter: RegExp | null;
  progress: boolean;
}

/** Starts the progress lines of --progress on stderr. */
export const PROGRESS_PREFIX = "@@bench-progress ";

const MICRO_OPTIONS = {
  quick: { type: "boolean" },
  json: { type: "string" },
  filter: { type: "string" },
  progress: { type: "boolean" },
} as const;

/** The command line of a bench/*.bench.ts suite; throws a UsageError that lists the options. */
export function parseMicroArgs(argv: string[] = process.argv.slice(2)): MicroOptions {
  let values;
  try {
    ({ values } = readCommandLine(argv, MICRO_OPTIONS));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(`${error.message} (options: --quick, --json FILE, --filter REGEX, --progress)`);
  }
  let filter: RegExp | null = null;
  if (values.filter !== undefined) {
    try {
      filter = new RegExp(values.filter);
    } catch {
      throw new UsageError(`--filter: ${values.filter} is not a regular expression`);
    }
  }
  return { quick: values.quick === true, json: values.json ?? null, filter, progress: values.progress === true };
}

/** Measuring time per benchmark in --quick mode, in nanoseconds (mitata's default is 642 ms). */
const QUICK_MIN_CPU_TIME_NS = 10e6;
/**
 * Warm-up before each benchmark, discarded: at least this long and at least WARMUP_SAMPLES samples (a sample is
 * batch_samples calls of a fast function: 32 with --quick, 4096 otherwise), so that it covers a number of calls
 * (the JIT tiers up by counting calls) even when a loaded machine makes the time run out early.
 */
export const WARMUP_NS = { quick: 20e6, full: 100e6 } as const;
export const WARMUP_SAMPLES = { quick: 64, full: 16 } as const;

export interface MicroRow {
  name: string;
  baseline: boolean;
  /** mitata's mean time per iteration, its median and 99th percentile, in nanoseconds. */
  avg_ns: number;
  p50_ns: number;
  p99_ns: number;
  /** avg_ns / objects */
  per_object_ns: number;
  /** avg_ns / the baseline's avg_ns: above 1, hakmem's baseline is faster (report.ts RATIO_CONVENTION). */
  vs_hakmem: number;
}

export interface MicroGroup {
  title: string;
  /** Objects allocated per iteration (per-object cost = time per iteration / objects). */
  objects: number;
  rows: MicroRow[];
}

export interface MicroSuiteResult {
  suite: string;
  title: string;
  quick: boolean;
  notes: string[];
  groups: MicroGroup[];
}

interface Contender {
  group: string;
  objects: number;
  name: string;
  baseline: boolean;
}

/** What mitata measures: a function, or a generator function that yields it (setup before, cleanup after). */
type BenchFn = (() => unknown) | ((state: never) => Generator<unknown, void, unknown>);

export class MicroSuite {
  private readonly contenders: Contender[] = [];
  private current: { title: string; objects: number; measureOptions: MeasureOptions } | null = null;
  private readonly notes: string[] = [];
  private readonly footnotes: string[] = [];

  constructor(
    readonly id: string,
    readonly title: string,
    readonly options: MicroOptions,
  ) {}

  /** A line printed before the tables and kept in the results (skipped allocators, what is measured). */
  note(text: string): void {
    this.notes.push(text);
  }

  /** A line printed after the tables and kept in the results (what a benchmark observed while it ran). */
  footnote(text: string): void {
    this.footnotes.push(text);
  }

  /**
   * A mitata group with a summary. `objects`: how many objects one iteration allocates (default 1).
   * `batchSamples`: iterations per timed sample when mitata batches a fast function (mitata's default is 4096,
   * and it takes at least 12 samples: too many for an iteration that costs a millisecond).
   */
  group(title: string, body: () => void, opts: { objects?: number; batchSamples?: number } = {}): void {
    if (this.options.filter !== null && !this.options.filter.test(title)) return;
    const objects = opts.objects ?? 1;
    const measureOptions: MeasureOptions = {};
    if (opts.batchSamples !== undefined) measureOptions.batch_samples = opts.batchSamples;
    if (this.options.quick) {
      measureOptions.min_cpu_time = QUICK_MIN_CPU_TIME_NS;
      measureOptions.min_samples = 4;
      measureOptions.batch_samples = Math.min(measureOptions.batch_samples ?? 32, 32);
    }
    group(title, () =>
      summary(() => {
        this.current = { title, objects, measureOptions };
        try {
          body();
        } finally {
          this.current = null;
        }
      }),
    );
  }

  /** A contender in the current group; exactly one per group is hakmem's `baseline`. */
  bench(name: string, fn: BenchFn, baseline = false): void {
    if (this.current === null) throw new Error(`bench(${name}) outside a group`);
    const b = bench(name, fn as () => unknown);
    if (baseline) b.baseline(true);
    const index = this.contenders.length + 1;
    const group = this.current.title;
    const announce = this.options.progress ? () => process.stderr.write(`${PROGRESS_PREFIX}${index}/${this.contenders.length} ${group} · ${name}\n`) : null;
    const mode = this.options.quick ? "quick" : "full";
    const warmup = { min_cpu_time: WARMUP_NS[mode], min_samples: WARMUP_SAMPLES[mode] };
    measureWith(b, name, fn, baseline, this.current.measureOptions, warmup, announce);
    this.contenders.push({ group: this.current.title, objects: this.current.objects, name, baseline });
  }

  /** Runs mitata (tables on stdout), then writes the JSON summary when asked. */
  async run(): Promise<MicroSuiteResult> {
    console.log(`# ${this.title}${this.options.quick ? " (--quick: short measurements, rough numbers)" : ""}\n`);
    for (const note of this.notes) console.log(`- ${note}`);
    if (this.notes.length > 0) console.log("");

    const { benchmarks } = await run({ colors: process.stdout.isTTY === true, throw: true });
    if (benchmarks.length !== this.contenders.length) {
      throw new Error(`mitata ran ${benchmarks.length} benchmarks, ${this.contenders.length} were registered`);
    }

    const groups: MicroGroup[] = [];
    benchmarks.forEach((trial, i) => {
      const contender = this.contenders[i]!;
      const stats = trial.runs[0]?.stats;
      if (trial.alias !== contender.name || stats === undefined) {
        throw new Error(`mitata's result ${i} (${trial.alias}) does not match ${contender.name}`);
      }
      let g = groups[groups.length - 1];
      if (g === undefined || g.title !== contender.group) {
        g = { title: contender.group, objects: contender.objects, rows: [] };
        groups.push(g);
      }
      g.rows.push({
        name: contender.name,
        baseline: contender.baseline,
        avg_ns: stats.avg,
        p50_ns: stats.p50,
        p99_ns: stats.p99,
        per_object_ns: stats.avg / contender.objects,
        vs_hakmem: Number.NaN,
      });
    });
    for (const g of groups) {
      const bases = g.rows.filter((r) => r.baseline);
      if (bases.length !== 1) throw new Error(`group ${g.title} has ${bases.length} baselines, not one`);
      const base = bases[0];
      for (const row of g.rows) row.vs_hakmem = base === undefined ? Number.NaN : row.avg_ns / base.avg_ns;
    }

    const notes = [...this.notes, ...this.footnotes];
    const result: MicroSuiteResult = { suite: this.id, title: this.title, quick: this.options.quick, notes, groups };
    if (groups.some((g) => g.objects > 1)) {
      console.log(`\n## ${this.title}: time per object\n\n${microMarkdown(result, true)}\n`);
    }
    if (this.footnotes.length > 0) console.log(`\n${this.footnotes.map((f) => `- ${f}`).join("\n")}\n`);
    if (this.options.json !== null) await Bun.write(this.options.json, JSON.stringify(result));
    return result;
  }
}

/** mitata's measure() options that this layer sets (see k_options in mitata's types). */
type MeasureOptions = { min_cpu_time?: number; min_samples?: number; batch_samples?: number };

/** JavaScript heap in use, as mitata's own run() reads it in Bun (for the heap row of its tables). */
const heap = () => memoryUsage().current;

/**
 * Replaces a benchmark's run() with one that warms it up (`warmup`: a measurement thrown away), then calls
 * mitata's measure() with `options` and returns the trial shape mitata's own run() returns (see the module comment).
 */
function measureWith(
  b: B,
  name: string,
  fn: BenchFn,
  baseline: boolean,
  options: MeasureOptions,
  warmup: { min_cpu_time: number; min_samples: number },
  announce: (() => void) | null,
): void {
  (b as unknown as { run: (thrw?: boolean) => Promise<unknown> }).run = async (thrw = false) => {
    announce?.();
    let stats: unknown;
    let error: unknown;
    try {
      await measure(fn as () => unknown, { ...options, ...warmup });
      stats = await measure(fn as () => unknown, { heap, ...options });
    } catch (err) {
      error = err;
      if (thrw) throw err;
    }
    return {
      kind: "static",
      args: {},
      alias: name,
      group: 0,
      baseline,
      runs: [{ stats, error, args: {}, name }],
      style: { highlight: false, compact: false },
    };
  };
}

/**
 * One table per suite: a row per group, a column per contender, each cell the mean time (per object when
 * `perObject`) and the ratio to hakmem's baseline (contender's time / hakmem's: above 1, hakmem is faster), the
 * fastest of the row marked.
 */
export function microMarkdown(result: MicroSuiteResult, perObject = false): string {
  const names: string[] = [];
  for (const g of result.groups) for (const r of g.rows) if (!names.includes(r.name)) names.push(r.name);
  const rows = result.groups.map((g) => {
    const base = g.rows.find((r) => r.baseline);
    const fastest = Math.min(...g.rows.map((r) => r.avg_ns));
    return [
      perObject && g.objects > 1 ? `${g.title} (per object)` : g.title,
      ...names.map((name) => {
        const row = g.rows.find((r) => r.name === name);
        if (row === undefined) return "–";
        const t = formatNs(perObject ? row.per_object_ns : row.avg_ns);
        const shown = row.avg_ns === fastest && g.rows.length > 1 ? markBest(t) : t;
        return row.baseline ? shown : `${shown} (${formatRatio(row.avg_ns, base?.avg_ns)})`;
      }),
    ];
  });
  return markdownTable(["", ...names], rows);
}
