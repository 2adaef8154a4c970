/**
 * The records of bench/scaling.sh (the thread curve) and the tables made of them.
 *
 * The runner is a shell script so that it runs on a machine with many cores and no Bun; this module only reads what
 * it printed: '#' lines describing the machine, then `run`, `skip` and `fail` lines (the script's header says their
 * fields). Medians are taken over the rounds of each workload, thread count and allocator.
 */
import { formatRatio, markBest, markdownTable, median } from "./report.ts";

export interface ScalingRun {
  workload: string;
  threads: number;
  allocator: string;
  round: number;
  opsPerSecond: number;
  maxRssKb: number;
}

export interface ScalingRecords {
  /** key=value pairs of the '#' lines: cores, kernel, cpu, glibc, date, threads, rounds, quick. */
  machine: Record<string, string>;
  /** The runner's own arguments. */
  args: string;
  /** The library each allocator was preloaded from ("(system)" for glibc). */
  libraries: Record<string, string>;
  runs: ScalingRun[];
  skipped: { allocator: string; reason: string }[];
  failed: { workload: string; threads: number; allocator: string; round: number; why: string }[];
}

/** What each workload is, for the tables' headings. */
export const SCALING_WORKLOADS: Record<string, string> = {
  server_handoff:
    "larson-like: every thread replaces random blocks of 8–1024 B in a table of 5,000, and the tables move on to the next thread every round (1,000 rounds of 10,000 replacements a thread)",
  producer_consumer: "xmalloc-like: threads/2 producer/consumer pairs, every free remote (2,000,000 blocks of 16–256 B a pair)",
  pass_random: "rptest-like: blocks of 16 B–16 KiB passed between the threads at random (1,000,000 replacements a thread)",
  mid_large_mt: "the seeds' workload: 8–34 KiB blocks in 2,048 slots a thread, all frees local (5,000,000 operations a thread)",
};

const KEY_VALUE = /(\w+)=((?:[^\s=]|\s(?!\w+=))*)/g;

/** Reads the runner's output; throws on a line it does not know, since that means the two disagree on the format. */
export function parseScalingRecords(text: string): ScalingRecords {
  const records: ScalingRecords = { machine: {}, args: "", libraries: {}, runs: [], skipped: [], failed: [] };
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    if (line.startsWith("# lib ")) {
      const [, name, ...path] = line.slice(2).split(" ");
      records.libraries[name!] = path.join(" ");
      continue;
    }
    if (line.startsWith("# args")) {
      records.args = line.slice("# args".length).trim();
      continue;
    }
    if (line.startsWith("#")) {
      for (const match of line.slice(1).matchAll(KEY_VALUE)) records.machine[match[1]!] = match[2]!.trim();
      continue;
    }
    const fields = line.split("\t");
    const number = (i: number) => {
      const value = Number(fields[i]);
      if (!Number.isFinite(value)) throw new Error(`scaling records, line ${index + 1}: field ${i + 1} is not a number: ${line}`);
      return value;
    };
    if (fields[0] === "run" && fields.length === 7) {
      records.runs.push({
        workload: fields[1]!,
        threads: number(2),
        allocator: fields[3]!,
        round: number(4),
        opsPerSecond: number(5),
        maxRssKb: number(6),
      });
    } else if (fields[0] === "fail" && fields.length >= 6) {
      records.failed.push({ workload: fields[1]!, threads: number(2), allocator: fields[3]!, round: number(4), why: fields.slice(5).join(" ") });
    } else if (line.startsWith("skip ")) {
      const [, allocator, ...reason] = line.split(" ");
      records.skipped.push({ allocator: allocator!, reason: reason.join(" ") });
    } else {
      throw new Error(`scaling records, line ${index + 1}: not a record of bench/scaling.sh: ${line}`);
    }
  }
  return records;
}

export interface ScalingCell {
  /** Median, lowest and highest throughput over the rounds, operations per second. */
  median: number;
  min: number;
  max: number;
  /** Median peak RSS, KiB. */
  rssKb: number;
  runs: number;
}

export interface ScalingRow {
  threads: number;
  cells: Record<string, ScalingCell>;
  /** The fastest allocator other than hakmem, and hakmem's throughput over its (null without a peer or hakmem). */
  bestPeer: string | null;
  hakmemOverBest: number | null;
}

export interface ScalingTable {
  workload: string;
  allocators: string[];
  rows: ScalingRow[];
}

/** The order of the tables' columns: hakmem, glibc, then the peers as the native table has them, then any other. */
const COLUMN_ORDER = ["hakmem", "glibc", "mimalloc", "jemalloc", "tcmalloc"];

function allocatorOrder(runs: ScalingRun[]): string[] {
  const names = [...new Set(runs.map((r) => r.allocator))];
  const rank = (n: string) => (COLUMN_ORDER.includes(n) ? COLUMN_ORDER.indexOf(n) : COLUMN_ORDER.length);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function summarizeScaling(records: ScalingRecords): ScalingTable[] {
  const workloads = [...new Set(records.runs.map((r) => r.workload))];
  return workloads.map((workload) => {
    const runs = records.runs.filter((r) => r.workload === workload);
    const allocators = allocatorOrder(runs);
    const threads = [...new Set(runs.map((r) => r.threads))].sort((a, b) => a - b);
    const rows = threads.map((t) => {
      const cells: Record<string, ScalingCell> = {};
      for (const name of allocators) {
        const mine = runs.filter((r) => r.threads === t && r.allocator === name);
        if (mine.length === 0) continue;
        const ops = mine.map((r) => r.opsPerSecond);
        cells[name] = { median: median(ops), min: Math.min(...ops), max: Math.max(...ops), rssKb: median(mine.map((r) => r.maxRssKb)), runs: mine.length };
      }
      const peers = Object.keys(cells).filter((n) => n !== "hakmem");
      const bestPeer = peers.length === 0 ? null : peers.reduce((a, b) => (cells[b]!.median > cells[a]!.median ? b : a));
      const hakmem = cells.hakmem;
      const hakmemOverBest = bestPeer !== null && hakmem !== undefined ? hakmem.median / cells[bestPeer]!.median : null;
      return { threads: t, cells, bestPeer, hakmemOverBest };
    });
    return { workload, allocators, rows };
  });
}

/** Operations per second as millions, one decimal (the tables' unit). */
export function millions(opsPerSecond: number): string {
  return (opsPerSecond / 1e6).toFixed(1);
}

/** KiB as MiB, one decimal. */
export function mib(kb: number): string {
  return (kb / 1024).toFixed(1);
}

/** One workload's throughput: median and range over the rounds, one row per thread count, and hakmem's edge. */
export function scalingThroughputTable(table: ScalingTable): string {
  const header = ["threads", ...table.allocators, "hakmem vs fastest peer"];
  const rows = table.rows.map((row) => {
    const fastest = Math.max(...Object.values(row.cells).map((c) => c.median));
    const speed = table.allocators.map((a) => {
      const c = row.cells[a];
      if (c === undefined) return "–";
      const text = `${millions(c.median)} (${millions(c.min)}–${millions(c.max)})`;
      return c.median === fastest ? markBest(text) : text;
    });
    const edge = row.hakmemOverBest === null ? "–" : `${formatRatio(row.hakmemOverBest, 1)} (${row.bestPeer})`;
    return [String(row.threads), ...speed, edge];
  });
  return markdownTable(header, rows);
}

/** One workload's median peak RSS, MiB, one row per thread count. */
export function scalingRssTable(table: ScalingTable): string {
  const rows = table.rows.map((row) => {
    const smallest = Math.min(...Object.values(row.cells).map((c) => c.rssKb));
    const rss = table.allocators.map((a) => {
      const c = row.cells[a];
      if (c === undefined) return "–";
      return c.rssKb === smallest ? markBest(mib(c.rssKb)) : mib(c.rssKb);
    });
    return [String(row.threads), ...rss];
  });
  return markdownTable(["threads", ...table.allocators], rows);
}

/** The whole report: the machine, how to read it, a table per workload, what was skipped or failed. */
export function scalingMarkdown(records: ScalingRecords, command: string): string {
  const m = records.machine;
  const parts = [
    `# Thread scaling, ${m.date ?? "undated"}`,
    "",
    `Machine: ${m.cores ?? "?"} cores (${m.cpu || "unknown CPU"}), Linux ${m.kernel ?? "?"}, glibc ${m.glibc ?? "?"}. ` +
      `Command: \`${command}\`. Rounds: ${m.rounds ?? "?"}${m.quick === "1" ? " (quick: a tenth of the work)" : ""}.`,
    "",
    "Each thread (each pair for producer_consumer) does the same work at every thread count, so perfect scaling is " +
      "throughput rising in proportion to the threads. Throughput: the median over the rounds (lowest–highest); peak " +
      "RSS: the median of the process's. hakmem vs fastest peer: hakmem's median throughput ÷ the fastest other " +
      "allocator's; above 1.00x hakmem is faster. ★ and bold mark the fastest and the smallest of each row.",
    "",
  ];
  for (const table of summarizeScaling(records)) {
    parts.push(`## ${table.workload}`, "", SCALING_WORKLOADS[table.workload] ?? "", "");
    parts.push("Throughput, M ops/s:", "", scalingThroughputTable(table), "", "Peak RSS, MiB:", "", scalingRssTable(table), "");
  }
  const libraries = Object.entries(records.libraries).map(([name, path]) => `${name}: ${path}`);
  if (libraries.length > 0) parts.push(`Libraries: ${libraries.join("; ")}.`, "");
  for (const s of records.skipped) parts.push(`- skipped ${s.allocator}: ${s.reason}`);
  for (const f of records.failed) parts.push(`- FAILED ${f.workload} ${f.threads} threads ${f.allocator} round ${f.round}: ${f.why}`);
  return `${parts.join("\n").trimEnd()}\n`;
}

/** The JSON results: the machine, the summary per workload and thread count, and every run. */
export function scalingJson(records: ScalingRecords, command: string): unknown {
  return {
    command,
    machine: records.machine,
    libraries: records.libraries,
    skipped: records.skipped,
    failed: records.failed,
    workloads: summarizeScaling(records).map((t) => ({
      workload: t.workload,
      rows: t.rows.map((r) => ({ threads: r.threads, bestPeer: r.bestPeer, hakmemOverBest: r.hakmemOverBest, ...r.cells })),
    })),
    runs: records.runs.map((r) => [r.workload, r.threads, r.allocator, r.round, r.opsPerSecond, r.maxRssKb]),
  };
}
