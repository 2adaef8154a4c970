/**
 * The tuning loop: grid expansion and argument validation (through the C flag table), the scores and the Pareto
 * front on known data, the journal and resuming an interrupted sweep, and real sweeps of short workloads that
 * write every report file, whose recommendation the preload library reads through HAKMEM_CONFIG.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HakmemError, loadConfig } from "../src/index.ts";
import {
  type ConfigSummary,
  DEFAULT_WORKLOADS,
  expandGrid,
  paretoFront,
  parseFlagList,
  parseThroughput,
  rank,
  readJournal,
  recommend,
  renderChart,
  ticks,
  type RunEvent,
  type RunRecord,
  summarize,
  sweep,
  mergeSweeps,
  topRanked,
  TuneError,
  type Workload,
} from "../src/tune/index.ts";
import { NO_COUNTERS } from "../src/tune/analysis.ts";
import { parseArgs, UsageError } from "../src/tune/cli.ts";
import { BUILD, PRELOAD_LIB, report, ROOT, run } from "./support.ts";

const CLI = join(ROOT, "src", "tune", "cli.ts");
/** For tests that run programs: generous, since a loaded machine is slow (no test asserts a timing). */
const SLOW_MS = 120_000;
const MiB = 1024 * 1024;
let tmp = "";
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "hakmem-tune-"));
});
afterAll(() => {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
});

/** A workload of a few milliseconds: 20,000 malloc+free pairs. */
const TINY: Workload = { name: "tiny", argv: [join(BUILD, "bench_tiny_hot"), "20000", "16"] };

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an exception");
}

function expectBadConfig(fn: () => unknown, ...fragments: string[]): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(HakmemError);
  expect((e as HakmemError).code).toBe("BAD_CONFIG");
  for (const f of fragments) expect(e.message).toContain(f);
}

function expectTuneError(fn: () => unknown, code: TuneError["code"], ...fragments: string[]): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(TuneError);
  expect((e as TuneError).code).toBe(code);
  for (const f of fragments) expect(e.message).toContain(f);
}

describe("the grid", () => {
  test("expands to the cartesian product in flag-table order, the last key fastest, then the library's defaults", () => {
    const configs = expandGrid({ lruMaxCached: [0, 64], superslabSize: ["512K", "2M"] });
    expect(configs.map((c) => c.label)).toEqual(["ss=512K lru=0", "ss=512K lru=64", "ss=2M lru=0", "ss=2M lru=64", "ss=1M lru=256"]);
    expect(configs[0]?.options).toEqual({ superslabSize: 512 * 1024, lruMaxCached: 0 });
    expect(configs[3]?.env).toEqual({ HAKMEM_SS_SIZE: "2M", HAKMEM_SS_LRU_MAX_CACHED: "64" });
    expect(configs[3]?.id).toBe("HAKMEM_SS_SIZE=2M HAKMEM_SS_LRU_MAX_CACHED=64");
    expect(new Set(configs.map((c) => c.id)).size).toBe(5);
    // the baseline: every swept flag at the C table's default
    expect(configs.map((c) => c.baseline)).toEqual([false, false, false, false, true]);
    expect(configs[4]?.env).toEqual({ HAKMEM_SS_SIZE: "1M", HAKMEM_SS_LRU_MAX_CACHED: "256" });
    // a grid that holds the defaults gets no extra point; the one that matches is the baseline
    const holding = expandGrid({ superslabSize: ["1M", "2M"], lruMaxCached: [256] });
    expect(holding.map((c) => [c.label, c.baseline])).toEqual([
      ["ss=1M", true],
      ["ss=2M", false],
    ]);
  });

  test("fixed flags join every point; labels name only what varies", () => {
    const configs = expandGrid({ superslabSize: [1024 * 1024, "4M"], prefault: ["populate"] }, { lruTtlSec: 5 });
    expect(configs.map((c) => c.label)).toEqual(["ss=1M prefault=populate", "ss=4M prefault=populate", "ss=1M prefault=off"]);
    expect(configs[1]?.env).toEqual({ HAKMEM_SS_SIZE: "4M", HAKMEM_SS_LRU_TTL_SEC: "5", HAKMEM_SS_PREFAULT: "populate" });
    expect(configs[2]?.env).toEqual({ HAKMEM_SS_SIZE: "1M", HAKMEM_SS_LRU_TTL_SEC: "5", HAKMEM_SS_PREFAULT: "off" });
    expect(expandGrid({ lruMaxMB: [64] }).map((c) => c.label)).toEqual(["lru-mb=64", "lru-mb=512"]);
    expect(expandGrid({}).map((c) => c.id)).toEqual(["defaults"]);
    expect(expandGrid({}).map((c) => c.baseline)).toEqual([true]);
    expect(expandGrid({ superslabSize: ["512K", "1M", "2M"], lruMaxCached: [0, 1], lruMaxMB: [1, 2], prefault: ["off", "populate", "madvise"] })).toHaveLength(37);
  });

  test("values are checked against the C flag table", () => {
    expectBadConfig(() => expandGrid({ superslabSize: ["3M"] }), "superslabSize", "HAKMEM_SS_SIZE", "512K, 1M, 2M, 4M");
    expectBadConfig(() => expandGrid({ lruMaxCached: [70000] }), "HAKMEM_SS_LRU_MAX_CACHED", "0 to 65536");
    expectBadConfig(() => expandGrid({ lruTtlSec: [-1] }), "0 to 86400");
    expectBadConfig(() => expandGrid({ prefault: ["sometimes" as "off"] }), "populate");
    expectBadConfig(() => expandGrid({ lruTTL: [1] } as never), "lruTTL", "known keys");
    expectBadConfig(() => expandGrid({}, { hugePages: 1 as never }), "hugePages");
  });

  test("lists must be non-empty, without repeats, and leave HAKMEM_STATS_FILE to the sweep", () => {
    expectTuneError(() => expandGrid({ superslabSize: [] }), "BAD_ARGUMENT", "non-empty");
    expectTuneError(() => expandGrid({ superslabSize: ["1M", 1048576] }), "BAD_ARGUMENT", "1M twice");
    expectTuneError(() => expandGrid({ statsFile: ["/tmp/x"] }), "BAD_ARGUMENT", "statsFile");
    expectTuneError(() => expandGrid({}, { statsFile: "/tmp/x" }), "BAD_ARGUMENT", "statsFile");
    expectTuneError(() => expandGrid({ lruMaxCached: [1, 2] }, { lruMaxCached: 3 }), "BAD_ARGUMENT", "both swept");
  });

  test("command-line lists parse as the C side parses the environment", () => {
    expect(parseFlagList("superslabSize", "512K,1m,2MiB", "--ss-size")).toEqual([512 * 1024, MiB, 2 * MiB]);
    expect(parseFlagList("prefault", "OFF,populate", "--prefault")).toEqual(["off", "populate"]);
    expectBadConfig(() => parseFlagList("superslabSize", "512K,3M", "--ss-size"), "--ss-size", "512K, 1M, 2M, 4M", '"3M"');
    expectBadConfig(() => parseFlagList("lruMaxCached", "1.5", "--lru-max-cached"), "--lru-max-cached");
    expectTuneError(() => parseFlagList("lruMaxCached", "0,,1", "--lru-max-cached"), "BAD_ARGUMENT", "empty");
    expectTuneError(() => parseFlagList("lruMaxCached", "16,+16", "--lru-max-cached"), "BAD_ARGUMENT", "16 twice");
  });
});

describe("command-line arguments", () => {
  test("defaults cover SuperSlab size × LRU limits on the default workloads", () => {
    const o = parseArgs([]);
    expect(o.grid).toEqual({ superslabSize: [512 * 1024, MiB, 2 * MiB, 4 * MiB], lruMaxCached: [0, 16, 64, 256], lruMaxMB: [64, 512] });
    expect(o.workloads).toEqual([...DEFAULT_WORKLOADS]);
    expect(o.runs).toBeGreaterThanOrEqual(3);
    const p = parseArgs(["--ss-size=2M", "--lru-ttl-sec", "1,60", "--prefault", "off,madvise", "--workload", "scaling", "--runs", "2", "--resume"]);
    expect(p.grid).toMatchObject({ superslabSize: [2 * MiB], lruTtlSec: [1, 60], prefault: ["off", "madvise"] });
    expect(p.workloads).toEqual(["scaling"]);
    expect(p.runs).toBe(2);
    expect(p.resume).toBe(true);
  });

  test("bad arguments are usage errors or BAD_CONFIG naming the option", () => {
    const usage: Array<[string[], string]> = [
      [["--bogus"], "unknown option --bogus"],
      [["stray"], "unexpected argument"],
      [["--workload", "random_mixed,nope"], 'unknown workload "nope"'],
      [["--workload", "scaling,scaling"], "twice"],
      [["--runs", "0"], "--runs"],
      [["--runs", "two"], "--runs"],
      [["--runs"], "--runs needs a value"],
      [["--ss-size", "--runs", "2"], "--ss-size needs a value"],
      [["--objective", "cheapest"], "--objective"],
      [["--resume", "--force"], "contradict"],
      [["--quick=1"], "takes no value"],
      [["--runs", "2", "--runs", "3"], "twice"],
    ];
    for (const [args, fragment] of usage) {
      const e = thrown(() => parseArgs(args));
      expect(e, args.join(" ")).toBeInstanceOf(UsageError);
      expect(e.message).toContain(fragment);
    }
    expectBadConfig(() => parseArgs(["--lru-max-cached", "0,70000"]), "--lru-max-cached", "0 to 65536");
    expectBadConfig(() => parseArgs(["--lru-max-mb", "-1"]), "--lru-max-mb", "0 to 1048576");
    expectBadConfig(() => parseArgs(["--prefault", "always"]), "--prefault");
  });

  test("the command exits 2 with a clear message before anything runs", async () => {
    const out = join(tmp, "never");
    const cases: Array<[string[], string]> = [
      [["--lru-max-cached", "70000"], "0 to 65536"],
      [["--ss-size", "3M"], "512K, 1M, 2M, 4M"],
      [["--workload", "nope"], "unknown workload"],
      [["--frobnicate"], "unknown option"],
    ];
    for (const [args, fragment] of cases) {
      const r = await run([process.execPath, CLI, ...args, "--out", out]);
      expect(r.exitCode, report(r)).toBe(2);
      expect(r.stderr).toContain(fragment);
      expect(r.stderr).toContain("--help");
      expect(r.stdout).toBe("");
    }
    expect(existsSync(out)).toBe(false);
  }, SLOW_MS);

  test("--help documents every option, the defaults and how long the default sweep takes", async () => {
    const r = await run([process.execPath, CLI, "--help"]);
    expect(r.exitCode, report(r)).toBe(0);
    for (const option of ["--ss-size", "--lru-max-cached", "--lru-max-mb", "--lru-ttl-sec", "--prefault", "--workload", "--runs", "--out", "--resume", "--objective", "--quick", "--force"])
      expect(r.stdout).toContain(option);
    for (const w of ["random_mixed", "mid_large_mt", "scaling", "remote_free", "tiny_hot"]) expect(r.stdout).toContain(w);
    expect(r.stdout).toContain("0 to 65536"); // ranges from the C table
    expect(r.stdout).toMatch(/default sweep is \d+ configurations × \d+ workloads × \d+ runs = \d+ runs, about \d+/);
  }, SLOW_MS);
});

/** A run record with the given metrics (the rest zero). */
function rec(configId: string, workload: string, runIndex: number, throughput: number | null, rss: number, ok = true): RunRecord {
  return {
    type: "run",
    configId,
    label: configId,
    config: {},
    workload,
    argv: [workload],
    run: runIndex,
    ok,
    throughput,
    peakRssBytes: rss,
    pageFaults: 0,
    wallSeconds: 0,
    ...NO_COUNTERS,
    stats: null,
    finishedAt: "",
  };
}

describe("scores and the Pareto front on known data", () => {
  test("paretoFront keeps exactly the non-dominated points, cheapest first", () => {
    const points = [
      { cost: 10, gain: 5 }, // 0: front
      { cost: 12, gain: 4 }, // 1: dominated by 0
      { cost: 8, gain: 3 }, // 2: front (cheapest)
      { cost: 15, gain: 9 }, // 3: front (best gain)
      { cost: 10, gain: 5 }, // 4: equal to 0: front too
      { cost: 15, gain: 8 }, // 5: dominated by 3 (same cost, less gain)
      { cost: 9, gain: 3 }, // 6: dominated by 2 (same gain, more cost)
    ];
    expect(paretoFront(points)).toEqual([2, 0, 4, 3]);
    expect(paretoFront([])).toEqual([]);
    expect(paretoFront([{ cost: 1, gain: 1 }])).toEqual([0]);
  });

  const shape = {
    configs: ["A", "B", "C", "D"].map((id) => ({ id, label: id, options: {} })),
    workloads: [
      { name: "w1", throughput: true },
      { name: "mem", throughput: false },
    ],
    runs: 3,
  };
  // medians: w1 throughput A 100, B 60, C 80, D 100; w1 peak RSS A 40, B 10, C 20, D 50 MiB; mem peak RSS 100 MiB, C 200
  const data: Record<string, [number[], number, number]> = {
    A: [[90, 100, 120], 40 * MiB, 100 * MiB],
    B: [[60, 50, 70], 10 * MiB, 100 * MiB],
    C: [[80, 80, 80], 20 * MiB, 200 * MiB],
    D: [[100, 70, 200], 50 * MiB, 100 * MiB],
  };
  const records: RunRecord[] = [];
  for (const [id, [thr, rss, memRss]] of Object.entries(data))
    thr.forEach((t, i) => {
      records.push(rec(id, "w1", i + 1, t, rss));
      records.push(rec(id, "mem", i + 1, null, memRss));
    });

  test("medians, speed and memory scores, Pareto flags", () => {
    const s = summarize(shape, records);
    const by = Object.fromEntries(s.map((x) => [x.configId, x])) as Record<string, ConfigSummary>;
    expect(by.A?.workloads[0]).toMatchObject({ runs: 3, failed: 0, throughput: 100, throughputMin: 90, throughputMax: 120, peakRssBytes: 40 * MiB });
    expect(by.D?.workloads[0]?.throughput).toBe(100);
    expect(by.A?.workloads[1]?.throughput).toBeNull();
    expect(by.A?.speed).toBeCloseTo(1, 12);
    expect(by.B?.speed).toBeCloseTo(0.6, 12);
    expect(by.C?.speed).toBeCloseTo(0.8, 12);
    // memory: geometric mean of (w1 RSS / 10 MiB, mem RSS / 100 MiB)
    expect(by.A?.memory).toBeCloseTo(Math.sqrt(4 * 1), 12);
    expect(by.B?.memory).toBeCloseTo(1, 12);
    expect(by.C?.memory).toBeCloseTo(Math.sqrt(2 * 2), 12);
    expect(by.D?.memory).toBeCloseTo(Math.sqrt(5 * 1), 12);
    expect(by.A?.balanced).toBeCloseTo(Math.sqrt(1 / 2), 12);
    expect(by.B?.balanced).toBeCloseTo(Math.sqrt(0.6 / 1), 12);
    // A (fast, 2×) and B (small) are on the front; C (0.8, 2×) is dominated by A; D (1.0, 2.24×) by A
    expect(s.filter((x) => x.pareto).map((x) => x.configId)).toEqual(["A", "B"]);
  });

  test("recommendations and ranking per objective", () => {
    const s = summarize(shape, records);
    expect(topRanked(s, "fastest")?.configId).toBe("A"); // A and D tie on speed; A is smaller
    expect(topRanked(s, "smallest")?.configId).toBe("B");
    expect(topRanked(s, "balanced")?.configId).toBe("B"); // sqrt(0.6 / 1) = 0.775 beats A's sqrt(1 / 2) = 0.707
    // no baseline among them: the best is recommended, and the reason says it was not compared
    expect(recommend(s, "fastest")).toMatchObject({ change: true, baseline: null });
    expect(recommend(s, "fastest")?.config.configId).toBe("A");
    expect(rank(s, "fastest").map((x) => x.configId)).toEqual(["A", "D", "C", "B"]);
    expect(rank(s, "smallest").map((x) => x.configId)).toEqual(["B", "A", "C", "D"]);
  });

  test("a configuration with a failed or missing run is not scored; a rerun replaces the failure", () => {
    const failed = [...records, rec("C", "w1", 2, null, 0, false)];
    const s = summarize(shape, failed);
    const c = s.find((x) => x.configId === "C") as ConfigSummary;
    expect(c.complete).toBe(false);
    expect(c.speed).toBeNull();
    expect(c.workloads[0]).toMatchObject({ runs: 2, failed: 1 });
    expect(rank(s, "fastest").at(-1)?.configId).toBe("C");
    const rerun = summarize(shape, [...failed, rec("C", "w1", 2, 80, 20 * MiB)]);
    expect(rerun.find((x) => x.configId === "C")?.complete).toBe(true);
    const missing = summarize(shape, records.filter((r) => !(r.configId === "D" && r.run === 3)));
    expect(missing.find((x) => x.configId === "D")?.complete).toBe(false);
    expect(recommend(summarize(shape, []), "balanced")).toBeNull();
  });

  test("without throughput workloads only memory counts", () => {
    const memShape = { ...shape, workloads: [{ name: "mem", throughput: false }] };
    const s = summarize(memShape, records);
    expect(s.every((x) => x.speed === null)).toBe(true);
    expect(recommend(s, "fastest")).toBeNull();
    expect(["A", "B", "D"]).toContain(recommend(s, "smallest")?.config.configId as string);
    expect(s.filter((x) => x.pareto).map((x) => x.configId).sort()).toEqual(["A", "B", "D"]);
  });

  test("every figure has its spread: IQR per workload, bootstrap intervals around the scores", () => {
    const s = summarize(shape, records);
    const a = s.find((x) => x.configId === "A") as ConfigSummary;
    expect(a.workloads[0]?.throughputIqr).toEqual([95, 110]);
    expect(a.workloads[0]?.peakRssIqr).toEqual([40 * MiB, 40 * MiB]);
    for (const x of s) {
      for (const [v, i] of [
        [x.speed, x.speedInterval],
        [x.memory, x.memoryInterval],
        [x.balanced, x.balancedInterval],
      ] as const) {
        expect(i).not.toBeNull();
        expect(i![0]).toBeLessThanOrEqual(v as number);
        expect(i![1]).toBeGreaterThanOrEqual(v as number);
      }
    }
    // C's runs are all equal: no spread; D's spread wide (70..200)
    const c = s.find((x) => x.configId === "C") as ConfigSummary;
    expect(c.speedInterval![0]).toBeCloseTo(0.8, 12);
    expect(c.speedInterval![1]).toBeCloseTo(0.8, 12);
    const d = s.find((x) => x.configId === "D") as ConfigSummary;
    expect(d.speedInterval![1] - d.speedInterval![0]).toBeGreaterThan(0.2);
    // seeded: the same records give the same intervals
    expect(summarize(shape, records).map((x) => x.speedInterval)).toEqual(s.map((x) => x.speedInterval));
  });

  test("a recommendation must beat the defaults by more than the spread, else no change", () => {
    const base = { id: "DEF", label: "defaults", options: {}, baseline: true };
    const oneWorkload = { configs: [base, { id: "X", label: "x", options: {} }], workloads: [{ name: "w", throughput: true }], runs: 5 };
    const recs = (def: number[], x: number[]) => [
      ...def.map((t, i) => rec("DEF", "w", i + 1, t, 10 * MiB)),
      ...x.map((t, i) => rec("X", "w", i + 1, t, 10 * MiB)),
    ];
    // X 20% faster, runs tight: a change
    const clear = recommend(summarize(oneWorkload, recs([100, 101, 99, 100, 102], [120, 121, 119, 120, 122])), "fastest");
    expect(clear).toMatchObject({ change: true });
    expect(clear?.config.configId).toBe("X");
    expect(clear?.baseline?.configId).toBe("DEF");
    // X ranks first by 1%, but the runs spread over ±20%: no change, the defaults stay
    const noisy = recommend(summarize(oneWorkload, recs([80, 120, 100, 90, 110], [81, 121, 101, 91, 111])), "fastest");
    expect(noisy).toMatchObject({ change: false });
    expect(noisy?.best.configId).toBe("X");
    expect(noisy?.config.configId).toBe("DEF");
    expect(noisy?.reason).toContain("no change recommended");
    // the defaults rank first: no change
    const first = recommend(summarize(oneWorkload, recs([120, 121, 119, 120, 122], [100, 101, 99, 100, 102])), "fastest");
    expect(first).toMatchObject({ change: false });
    expect(first?.reason).toContain("the defaults rank first");
  });

  test("chart scales: ticks that differ in value differ in text; legends run low to high with the better end marked", () => {
    for (const [lo, hi] of [
      [0.998, 1.012],
      [99.2, 100.1],
      [12.2, 12.6],
      [0, 140],
      [1, 1.0004],
    ] as const) {
      const t = ticks(lo, hi, 6);
      const labels = t.values.map((v) => v.toFixed(t.decimals));
      expect(new Set(labels).size, `${lo}..${hi}: ${labels.join(" ")}`).toBe(labels.length);
      expect(t.values.length).toBeGreaterThan(1);
    }
    const s = summarize(shape, records).map((x, i) => ({ ...x, config: { superslabSize: [MiB, 2 * MiB][i % 2] as number, lruMaxCached: i < 2 ? 0 : 64 } }));
    const recs = Object.fromEntries((["fastest", "smallest", "balanced"] as const).map((o) => [o, recommend(s, o)])) as Parameters<typeof renderChart>[0]["recommendations"];
    const svg = renderChart({ title: "t", subtitle: "s", summaries: s, workloads: shape.workloads, recommendations: recs });
    expect(svg).not.toContain("NaN");
    expect(svg).toContain('fill="url(#viridis-reversed)"'); // peak RSS: lower is better, so the light end is on the left
    expect(svg).toContain("← better");
    expect(svg).toContain("better →");
    expect(svg).toContain("bootstrap intervals");
    // every colour scale's numbers grow from left to right
    const scales = [...svg.matchAll(/fill="url\(#viridis(?:-reversed)?\)"\/>\n<text[^>]*>([^<]+)<\/text>\n<text[^>]*>([^<]+)<\/text>/g)];
    expect(scales.length).toBeGreaterThan(1);
    for (const [, left, right] of scales) expect(Number.parseFloat(left!), `${left} .. ${right}`).toBeLessThan(Number.parseFloat(right!));
  });

  test("parseThroughput reads the seed benchmarks' line", () => {
    expect(parseThroughput("x\nThroughput = 12345 ops/s [iter=1] time=0.1s\n")).toBe(12345);
    expect(() => parseThroughput("Scaling: blocks=1")).toThrow("Throughput");
  });
});

describe("sweeps", () => {
  test("a library sweep runs any command line and reports its plan and each run through its callbacks", async () => {
    const seen: string[] = [];
    const started: number[] = [];
    const memOnly: Workload = { name: "mem-only", argv: [join(BUILD, "bench_tiny_hot"), "1000", "16"], parse: () => null };
    const result = await sweep({
      grid: { superslabSize: ["512K", "2M"] },
      base: { lruMaxCached: 8 },
      workloads: [TINY, memOnly],
      runs: 1,
      onStart: (plan) => started.push(plan.total),
      onRunStart: (e) => seen.push(`start:${e.done}`),
      onRun: (e) => seen.push(`${e.done}/${e.total} ${e.config.label} ${e.workload.name} ${e.record.ok}`),
    });
    expect(started).toEqual([6]);
    expect(seen.filter((s) => !s.startsWith("start:"))).toEqual([
      "1/6 ss=512K tiny true",
      "2/6 ss=2M tiny true",
      "3/6 ss=1M tiny true", // the library's default: the baseline
      "4/6 ss=512K mem-only true",
      "5/6 ss=2M mem-only true",
      "6/6 ss=1M mem-only true",
    ]);
    expect(seen.filter((s) => s.startsWith("start:"))).toEqual(["start:0", "start:1", "start:2", "start:3", "start:4", "start:5"]);
    expect(result.failures).toEqual([]);
    expect(result.files).toBeNull();
    const tiny = result.records.find((r) => r.workload === "tiny") as RunRecord;
    expect(tiny.throughput).toBeGreaterThan(0);
    expect(tiny.peakRssBytes).toBeGreaterThan(0);
    expect(tiny.stats?.allocs).toBeGreaterThanOrEqual(20000); // statistics from the child's HAKMEM_STATS_FILE
    expect(tiny.stats?.superslab_bytes).toBe(512 * 1024); // the configuration reached the child
    expect(result.records.find((r) => r.workload === "mem-only")?.throughput).toBeNull();
    expect(result.summaries.every((s) => s.complete && s.speed !== null)).toBe(true);
  }, SLOW_MS);

  test("a failing run is recorded with its reason and leaves its configuration unscored", async () => {
    const flaky: Workload = { name: "flaky", argv: ["sh", "-c", `test "$HAKMEM_SS_SIZE" = 2M && exit 3; exec ${TINY.argv.join(" ")}`] };
    const result = await sweep({ grid: { superslabSize: ["1M", "2M"] }, workloads: [flaky], runs: 1 });
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.error).toContain("exited with status 3");
    expect(result.summaries.map((s) => s.complete)).toEqual([true, false]);
    expect(result.recommendations.fastest?.config.label).toBe("ss=1M");
    const noLine: Workload = { name: "silent", argv: ["true"] };
    const r2 = await sweep({ grid: {}, workloads: [noLine], runs: 1 });
    expect(r2.failures[0]?.error).toContain("Throughput");
  }, SLOW_MS);

  test("bad options are refused before anything runs", async () => {
    const rejects = async (options: Parameters<typeof sweep>[0], code: string, fragment: string) => {
      let caught: unknown;
      await sweep(options).catch((e: unknown) => {
        caught = e;
      });
      expect((caught as { code?: string }).code).toBe(code);
      expect((caught as Error).message).toContain(fragment);
    };
    await rejects({ grid: {}, workloads: ["nope"] }, "BAD_ARGUMENT", "unknown workload");
    await rejects({ grid: {}, workloads: [] }, "BAD_ARGUMENT", "non-empty");
    await rejects({ grid: {}, workloads: [TINY, TINY] }, "BAD_ARGUMENT", "twice");
    await rejects({ grid: {}, workloads: [TINY], runs: 0 }, "BAD_ARGUMENT", "runs");
    await rejects({ grid: {}, workloads: [{ name: "x", argv: [] }] }, "BAD_ARGUMENT", "argv");
    await rejects({ grid: {}, workloads: [TINY], env: { HAKMEM_SS_SIZE: "2M" } }, "BAD_ARGUMENT", "HAKMEM_SS_SIZE");
    await rejects({ grid: { superslabSize: ["3M"] }, workloads: [TINY] }, "BAD_CONFIG", "512K, 1M, 2M, 4M");
    await rejects({ grid: {}, workloads: [{ name: "x", argv: [join(tmp, "missing-program")] }] }, "MISSING_BUILD", "missing-program");
    await rejects({ grid: {}, workloads: [TINY], runstat: join(tmp, "no-runstat") }, "MISSING_BUILD", "make");
  }, SLOW_MS);

  test("an interrupted sweep resumes where it stopped", async () => {
    const out = join(tmp, "resume");
    const controller = new AbortController();
    const options = { grid: { superslabSize: ["512K", "2M"] as const }, workloads: [TINY], runs: 3, out };
    let first = 0;
    let caught: unknown;
    await sweep({
      ...options,
      signal: controller.signal,
      onRun: () => {
        if (++first === 2) controller.abort();
      },
    }).catch((e: unknown) => {
      caught = e;
    });
    expect((caught as TuneError).code).toBe("ABORTED");
    const journal = join(out, "runs.jsonl");
    expect(readJournal(journal).records).toHaveLength(2);
    // a writer killed in the middle of a line leaves half a record
    appendFileSync(journal, '{"type":"run","configId":"HAKMEM_SS');
    expect(readJournal(journal).truncatedTail).toBe(true);

    const resumed: RunEvent[] = [];
    const result = await sweep({ ...options, resume: true, onRun: (e) => resumed.push(e) });
    expect(resumed).toHaveLength(7);
    expect(resumed[0]?.done).toBe(3);
    expect(resumed.at(-1)?.done).toBe(9);
    const { header, records, truncatedTail } = readJournal(journal);
    expect(truncatedTail).toBe(false);
    expect(header?.plan.configs.map((c) => c.label)).toEqual(["ss=512K", "ss=2M", "ss=1M"]);
    expect(header?.machine.cores).toBeGreaterThan(0);
    expect(header?.machine.cpu).not.toBe("");
    expect(header?.machine.kernel).toContain("Linux");
    expect(records).toHaveLength(9);
    const keys = records.map((r) => `${r.configId} ${r.run}`);
    expect(new Set(keys).size).toBe(9);
    expect(result.records).toHaveLength(9);
    expect(result.summaries.every((s) => s.complete)).toBe(true);
    // resuming a finished sweep runs nothing and rewrites the report
    const again: RunEvent[] = [];
    const final = await sweep({ ...options, resume: true, onRun: (e) => again.push(e) });
    expect(again).toHaveLength(0);
    expect(final.plan.alreadyDone).toBe(9);
    expect(existsSync(join(out, "report.md"))).toBe(true);
    // without resume the journal starts over
    await sweep({ ...options, runs: 1 });
    expect(readJournal(journal).records).toHaveLength(3);
    // resuming with another grid is refused, naming the way out
    let refused: unknown;
    await sweep({ ...options, grid: { superslabSize: ["4M"] }, runs: 1, resume: true }).catch((e: unknown) => {
      refused = e;
    });
    expect((refused as TuneError).code).toBe("BAD_ARGUMENT");
    expect((refused as Error).message).toContain("another grid");
  }, SLOW_MS);

  test("the command stops on SIGINT with status 130 and --resume finishes the sweep", async () => {
    const out = join(tmp, "cli-resume");
    const args = [CLI, "--ss-size", "512K,1M,2M,4M", "--lru-max-cached", "0,64", "--lru-max-mb", "512", "--workload", "random_mixed", "--quick", "--runs", "3", "--out", out];
    const proc = Bun.spawn([process.execPath, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const decoder = new TextDecoder();
    let stderr = "";
    const reader = proc.stderr.getReader();
    while (!/\[1\/27\]/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value);
    }
    proc.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += decoder.decode(value);
    }
    expect(await proc.exited, stderr).toBe(130);
    expect(stderr).toContain("--resume");
    const saved = readJournal(join(out, "runs.jsonl")).records.length;
    expect(saved).toBeGreaterThanOrEqual(1);
    expect(saved).toBeLessThan(27);

    const refused = await run([process.execPath, ...args]);
    expect(refused.exitCode, report(refused)).toBe(2);
    expect(refused.stderr).toContain("--resume");

    const r = await run([process.execPath, ...args, "--resume"]);
    expect(r.exitCode, report(r)).toBe(0);
    expect(r.stderr).toContain(`${saved} already in the journal`);
    expect(readJournal(join(out, "runs.jsonl")).records).toHaveLength(27);
  }, SLOW_MS);

  test("a real two-configuration sweep writes every report file; the preload reads the recommendation", async () => {
    const out = join(tmp, "real");
    const r = await run([process.execPath, CLI, "--ss-size", "512K,2M", "--lru-max-cached", "64", "--lru-max-mb", "512", "--workload", "random_mixed", "--quick", "--runs", "2", "--out", out]);
    expect(r.exitCode, report(r)).toBe(0);
    expect(r.stdout).toContain("Recommendations");
    const files = ["runs.jsonl", "report.md", "runs.csv", "results.json", "chart.svg", "hakmem.config.json"].concat(
      ["fastest", "smallest", "balanced"].map((o) => `hakmem.config.${o}.json`),
    );
    for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);

    const md = readFileSync(join(out, "report.md"), "utf8");
    for (const s of ["## Recommendations", "## Configurations, by balanced", "| 512K | 64 |", "| 2M | 64 |", "| 1M | 256 | defaults |", "fixed `HAKMEM_SS_LRU_MAX_MB`: 512", "random_mixed", "LRU hits", "OS maps"]) expect(md).toContain(s);
    // one line says how to read every figure; each recommendation is a ★ or "no change recommended"
    expect(md).toContain("How to read the figures: every figure is a median over the runs, with its spread");
    for (const o of ["fastest", "smallest", "balanced"]) expect(md).toMatch(new RegExp(`^\\| ${o} \\| (\\*\\*[^|]+\\*\\* ★|no change recommended \\(defaults: ss=1M lru=256\\)) \\| [\\d.]+% \\[[\\d.]+–[\\d.]+%\\] \\|`, "m"));
    // the quick run's workloads say the counts they ran
    expect(md).toContain("1,000,000 random malloc/free");

    const csv = readFileSync(join(out, "runs.csv"), "utf8").trim().split("\n");
    expect(csv).toHaveLength(1 + 6);
    expect(csv[0]).toContain("throughput_ops_s");
    expect(csv[0]).toContain("HAKMEM_SS_SIZE");

    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(json.records).toHaveLength(6);
    expect(json.summaries).toHaveLength(3);
    expect(json.pareto.length).toBeGreaterThanOrEqual(1);

    const svg = readFileSync(join(out, "chart.svg"), "utf8");
    expect(svg.startsWith("<?xml")).toBe(true);
    expect(svg).toContain("<svg");
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("Pareto front");
    expect(svg).toContain("SuperSlab size");
    expect(svg).not.toContain("NaN");
    expect(svg).not.toContain("<script");

    // the recommendation is a HAKMEM_CONFIG file: loadConfig and the preload library read it
    const balanced = JSON.parse(readFileSync(join(out, "hakmem.config.json"), "utf8"));
    expect(Object.keys(balanced).every((k) => k.startsWith("HAKMEM_"))).toBe(true);
    expect(["512K", "2M", "1M"]).toContain(balanced.HAKMEM_SS_SIZE);
    expect(balanced.HAKMEM_SS_LRU_MAX_CACHED).toBe(balanced.HAKMEM_SS_SIZE === "1M" ? 256 : 64);
    expect(json.recommendations.balanced.change).toBe(balanced.HAKMEM_SS_SIZE !== "1M");
    const loaded = loadConfig(join(out, "hakmem.config.json"));
    const sizes: Record<string, number> = { "512K": 512 * 1024, "1M": MiB, "2M": 2 * MiB };
    expect(loaded).toEqual({ superslabSize: sizes[balanced.HAKMEM_SS_SIZE], lruMaxCached: balanced.HAKMEM_SS_LRU_MAX_CACHED, lruMaxMB: 512 });
    const statsFile = join(tmp, "config-stats.json");
    const env = { HAKMEM_CONFIG: join(out, "hakmem.config.json"), HAKMEM_STATS_FILE: statsFile, LD_PRELOAD: PRELOAD_LIB };
    const child = await run([join(BUILD, "bench_tiny_hot"), "1000", "16"], { env });
    expect(child.exitCode, report(child, env)).toBe(0);
    expect(child.stderr).toBe("");
    expect(JSON.parse(readFileSync(statsFile, "utf8")).superslab_bytes).toBe(loaded.superslabSize as number);
  }, SLOW_MS);

  test("a tiny grid run whole and as two shards merged gives the same configurations and recommendations", async () => {
    const grid = { superslabSize: ["512K", "2M"] as const };
    const options = { grid, workloads: [TINY], runs: 2 };
    const whole = await sweep({ ...options, out: join(tmp, "whole") });
    const shards = [1, 2].map((index) => join(tmp, `shard-${index}`));
    const parts = await Promise.all(shards.map((out, i) => sweep({ ...options, out, shard: { index: i + 1, count: 2 } })));
    // deterministic slices: configuration i goes to shard i % 2 + 1; a shard writes its journal and no report
    expect(parts.map((p) => p.plan.shardConfigs.map((c) => c.label))).toEqual([["ss=512K", "ss=1M"], ["ss=2M"]]);
    expect(parts.every((p) => p.files === null)).toBe(true);
    expect(existsSync(join(shards[0]!, "report.md"))).toBe(false);
    expect(readJournal(join(shards[1]!, "runs.jsonl")).header?.shard).toEqual({ index: 2, count: 2 });

    const merged = mergeSweeps(shards, { out: join(tmp, "merged") });
    expect(merged.summaries.map((s) => [s.configId, s.baseline, s.complete])).toEqual(whole.summaries.map((s) => [s.configId, s.baseline, s.complete]));
    expect(merged.records).toHaveLength(whole.records.length);
    const shapeOf = (r: typeof whole) =>
      Object.fromEntries(Object.entries(r.recommendations).map(([o, x]) => [o, x === null ? null : { change: typeof x.change, baseline: x.baseline?.configId }]));
    expect(shapeOf(merged)).toEqual(shapeOf(whole));
    const files = (dir: string) => readdirSync(dir).sort();
    expect(files(join(tmp, "merged"))).toEqual(files(join(tmp, "whole")));
    const headings = (dir: string) => readFileSync(join(dir, "report.md"), "utf8").split("\n").filter((l) => l.startsWith("#"));
    expect(headings(join(tmp, "merged"))).toEqual(headings(join(tmp, "whole")));
    expect(readFileSync(join(tmp, "merged", "report.md"), "utf8")).toContain("Merged from 2 journals");
    expect(readJournal(join(tmp, "merged", "runs.jsonl")).records).toHaveLength(whole.records.length);

    // what does not merge: a shard missing, a shard twice, another grid, the output over an input
    const refuses = (fn: () => unknown, code: string, fragment: string) => expectTuneError(fn, code as TuneError["code"], fragment);
    refuses(() => mergeSweeps([shards[0]!], { out: join(tmp, "m1") }), "BAD_ARGUMENT", "shard 2/2 missing");
    refuses(() => mergeSweeps([shards[0]!, shards[0]!], { out: join(tmp, "m1") }), "BAD_ARGUMENT", "both hold shard 1/2");
    refuses(() => mergeSweeps([shards[0]!, join(tmp, "whole")], { out: join(tmp, "m1") }), "BAD_ARGUMENT", "share N");
    refuses(() => mergeSweeps(shards, { out: shards[0]! }), "BAD_ARGUMENT", "one of the journals");
    refuses(() => mergeSweeps([join(tmp, "nothing-here")], { out: join(tmp, "m1") }), "BAD_JOURNAL", "no sweep header");
    const other = join(tmp, "other-grid");
    await sweep({ ...options, grid: { superslabSize: ["4M"] }, runs: 1, out: other, shard: { index: 2, count: 2 } });
    refuses(() => mergeSweeps([shards[0]!, other], { out: join(tmp, "m1") }), "BAD_ARGUMENT", "another grid");

    // a shard from other hardware is refused unless asked for, and the report then says so
    const foreign = join(tmp, "foreign");
    mkdirSync(foreign);
    const lines = readFileSync(join(shards[1]!, "runs.jsonl"), "utf8").split("\n");
    const header = JSON.parse(lines[0]!);
    header.machine = { ...header.machine, cpu: "Some Other CPU", cores: 64 };
    writeFileSync(join(foreign, "runs.jsonl"), [JSON.stringify(header), ...lines.slice(1)].join("\n"));
    refuses(() => mergeSweeps([shards[0]!, foreign], { out: join(tmp, "m2") }), "MIXED_HARDWARE", "Some Other CPU × 64");
    const mixed = mergeSweeps([shards[0]!, foreign], { out: join(tmp, "m2"), allowMixedHardware: true });
    expect(mixed.machines).toHaveLength(2);
    expect(readFileSync(join(tmp, "m2", "report.md"), "utf8")).toContain("the shards ran on different hardware");
  }, SLOW_MS);

  test("the command line: --shard K/N and merge", async () => {
    const args = ["--ss-size", "512K,2M", "--lru-max-cached", "256", "--lru-max-mb", "512", "--workload", "tiny_hot", "--quick", "--runs", "1"];
    const outs = [1, 2].map((k) => join(tmp, `cli-shard-${k}`));
    for (const [i, out] of outs.entries()) {
      const r = await run([process.execPath, CLI, ...args, "--shard", `${i + 1}/2`, "--out", out]);
      expect(r.exitCode, report(r)).toBe(0);
      expect(r.stdout).toContain(`Shard ${i + 1}/2 done`);
    }
    const merged = join(tmp, "cli-merged");
    const m = await run([process.execPath, CLI, "merge", ...outs, "--out", merged]);
    expect(m.exitCode, report(m)).toBe(0);
    expect(m.stdout).toContain("merged 2 journals: 3 runs of 3 configurations");
    expect(m.stdout).toContain(join(merged, "report.md")); // an absolute --out is printed as given
    const bad = await run([process.execPath, CLI, "merge", outs[0]!, "--out", join(tmp, "cli-m2")]);
    expect(bad.exitCode, report(bad)).toBe(2);
    expect(bad.stderr).toContain("shard 2/2 missing");
    for (const shard of ["0/2", "3/2", "x"]) expect(thrown(() => parseArgs(["--shard", shard])).message).toContain("--shard wants K/N");
  }, SLOW_MS);

  test("hakmem/tune is the package's library entry", async () => {
    const mod = await import("hakmem/tune");
    expect(mod.sweep).toBe(sweep);
  });
});
