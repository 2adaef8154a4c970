/**
 * The thread curve: bench/scaling.sh (the runner, no Bun needed) and bench/scaling.ts with bench/lib/scaling.ts (its
 * tables). The runner is run for real at 1 and 2 threads with a tenth of the work and without peers
 * (BENCH_PEER_DIRS empty), so the test never depends on a peer being installed.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseScalingRecords, scalingMarkdown, summarizeScaling } from "../bench/lib/scaling.ts";
import { report, ROOT, run } from "./support.ts";

const TIMEOUT_MS = 120_000;
const RUNNER = join(ROOT, "bench", "scaling.sh");
const NO_PEERS = { BENCH_PEER_DIRS: "" };

const SAMPLE = [
  "skip jemalloc not installed; apt-get install libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4",
  "# cores=16 kernel=6.1.0 cpu=Some CPU Model 9000",
  "# glibc=2.39 date=2026-12-04T17:45:28Z threads=1,2 rounds=3 quick=0",
  "# args --rounds 3",
  "# lib hakmem /x/build/libhakmem_preload.so",
  "# lib glibc (system)",
  "# lib tcmalloc /usr/lib/libtcmalloc_minimal.so.4",
  ...[
    ["server_handoff", 1, "hakmem", [10e6, 30e6, 20e6], [5000, 5100, 5200]],
    ["server_handoff", 1, "tcmalloc", [25e6, 26e6, 24e6], [9000, 9000, 9000]],
    ["server_handoff", 1, "glibc", [5e6, 6e6, 7e6], [7000, 7000, 7000]],
    ["server_handoff", 2, "hakmem", [50e6, 40e6, 45e6], [9000, 9000, 9000]],
    ["server_handoff", 2, "tcmalloc", [30e6, 30e6, 30e6], [8000, 8000, 8000]],
  ].flatMap(([w, t, a, ops, rss]) =>
    (ops as number[]).map((o, i) => ["run", w, t, a, i + 1, o, (rss as number[])[i]].join("\t")),
  ),
  "fail\tserver_handoff\t2\tglibc\t1\texit 139: Segmentation fault",
].join("\n");

describe("bench/lib/scaling.ts", () => {
  test("reads the records: machine, libraries, runs, skips and failures", () => {
    const r = parseScalingRecords(SAMPLE);
    expect(r.machine.cores).toBe("16");
    expect(r.machine.cpu).toBe("Some CPU Model 9000");
    expect(r.machine.rounds).toBe("3");
    expect(r.args).toBe("--rounds 3");
    expect(r.libraries).toEqual({ hakmem: "/x/build/libhakmem_preload.so", glibc: "(system)", tcmalloc: "/usr/lib/libtcmalloc_minimal.so.4" });
    expect(r.runs.length).toBe(15);
    expect(r.skipped).toEqual([{ allocator: "jemalloc", reason: expect.stringContaining("not installed") }]);
    expect(r.failed).toEqual([{ workload: "server_handoff", threads: 2, allocator: "glibc", round: 1, why: "exit 139: Segmentation fault" }]);
  });

  test("medians, ranges and hakmem against the fastest peer, per thread count", () => {
    const [table] = summarizeScaling(parseScalingRecords(SAMPLE));
    expect(table!.allocators).toEqual(["hakmem", "glibc", "tcmalloc"]);
    const [one, two] = table!.rows;
    expect(one!.cells.hakmem).toEqual({ median: 20e6, min: 10e6, max: 30e6, rssKb: 5100, runs: 3 });
    expect(one!.bestPeer).toBe("tcmalloc");
    expect(one!.hakmemOverBest).toBeCloseTo(20 / 25, 10);
    // glibc's failed run at 2 threads leaves it out of that row
    expect(Object.keys(two!.cells).sort()).toEqual(["hakmem", "tcmalloc"]);
    expect(two!.hakmemOverBest).toBeCloseTo(45 / 30, 10);
  });

  test("the report shows each table, the spread, the edge and what failed", () => {
    const md = scalingMarkdown(parseScalingRecords(SAMPLE), "bench/scaling.sh --rounds 3");
    expect(md).toContain("16 cores (Some CPU Model 9000)");
    expect(md).toContain("## server_handoff");
    expect(md).toContain("| 1 | 20.0 (10.0–30.0) | 6.0 (5.0–7.0) | ★ **25.0 (24.0–26.0)** | 0.80x (tcmalloc) |");
    expect(md).toContain("| 2 | ★ **45.0 (40.0–50.0)** | – | 30.0 (30.0–30.0) | 1.50x (tcmalloc) |");
    expect(md).toContain("| 1 | ★ **5.0** | 6.8 | 8.8 |");
    expect(md).toContain("- skipped jemalloc: not installed");
    expect(md).toContain("- FAILED server_handoff 2 threads glibc round 1: exit 139: Segmentation fault");
  });

  test("a line the runner never prints is an error, not a silent gap", () => {
    expect(() => parseScalingRecords("run\tserver_handoff\t1\thakmem\t1\tfast\t100")).toThrow(/not a number/);
    expect(() => parseScalingRecords("Throughput = 5 ops/s")).toThrow(/not a record/);
  });
});

describe("bench/scaling.sh", () => {
  test(
    "runs each workload at each thread count that applies, for hakmem and glibc, and says which peers it skipped",
    async () => {
      const args = [RUNNER, "--threads", "1,2", "--rounds", "2", "--quick", "--workloads", "producer_consumer,mid_large_mt,pass_random"];
      const result = await run(["bash", ...args], { env: NO_PEERS, timeoutMs: TIMEOUT_MS });
      expect(result.exitCode, report(result, NO_PEERS)).toBe(0);
      const records = parseScalingRecords(result.stdout);
      expect(records.skipped.map((s) => s.allocator).sort()).toEqual(["jemalloc", "mimalloc", "tcmalloc"]);
      expect(records.failed).toEqual([]);
      const seen = records.runs.map((r) => `${r.workload}/${r.threads}/${r.allocator}/${r.round}`).sort();
      const expected: string[] = [];
      for (const round of [1, 2])
        for (const allocator of ["glibc", "hakmem"]) {
          // producer_consumer and pass_random need two threads; mid_large_mt runs alone too
          expected.push(`mid_large_mt/1/${allocator}/${round}`, `mid_large_mt/2/${allocator}/${round}`);
          expected.push(`producer_consumer/2/${allocator}/${round}`, `pass_random/2/${allocator}/${round}`);
        }
      expect(seen).toEqual(expected.sort());
      for (const r of records.runs) {
        expect(r.opsPerSecond).toBeGreaterThan(0);
        expect(r.maxRssKb).toBeGreaterThan(0);
      }
      expect(records.machine.threads).toBe("1,2");
      expect(records.libraries.hakmem).toEndWith("build/libhakmem_preload.so");
    },
    TIMEOUT_MS,
  );

  test("bad arguments exit with status 2 and say what is wrong", async () => {
    const cases: [string[], RegExp][] = [
      [["--threads", "0"], /--threads wants whole numbers from 1 to 64, not '0'/],
      [["--threads", "1,x"], /not 'x'/],
      [["--threads", "65"], /not '65'/],
      [["--rounds", "0"], /--rounds wants a whole number of at least 1/],
      [["--workloads", "larson"], /unknown workload 'larson'/],
      [["--bogus"], /unknown argument '--bogus'/],
      [["--build", "/nonexistent"], /missing; run make first/],
    ];
    for (const [args, message] of cases) {
      const result = await run(["bash", RUNNER, ...args], { env: NO_PEERS });
      expect(result.exitCode, report(result)).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).not.toMatch(/^run\t/m);
    }
  });
});

describe("bench/scaling.ts", () => {
  test("--from turns records made elsewhere into the results files, and exits 1 for a failed run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hakmem-scaling-"));
    try {
      const records = join(dir, "records.tsv");
      writeFileSync(records, SAMPLE);
      const out = join(dir, "out");
      const result = await run([process.execPath, "bench/scaling.ts", "--from", records, "--out", out]);
      expect(result.exitCode, report(result)).toBe(1); // the sample has a failed run
      expect(result.stdout).toContain("## server_handoff");
      const files = readdirSync(out).sort();
      expect(files.length).toBe(2);
      const stem = files[0]!.replace(/\.json$/, "");
      expect(files).toEqual([`${stem}.json`, `${stem}.md`]);
      expect(result.stdout.startsWith(readFileSync(join(out, files[1]!), "utf8"))).toBe(true);
      const json = JSON.parse(readFileSync(join(out, files[0]!), "utf8"));
      expect(json.command).toBe("bench/scaling.sh --rounds 3");
      expect(json.runs.length).toBe(15);
      expect(json.workloads[0].rows[0].bestPeer).toBe("tcmalloc");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--from with the runner's own options is refused with status 2", async () => {
    const result = await run([process.execPath, "bench/scaling.ts", "--from", "x.tsv", "--rounds", "2"]);
    expect(result.exitCode, report(result)).toBe(2);
    expect(result.stderr).toContain("--from reads records made elsewhere");
  });
});
