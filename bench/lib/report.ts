/**
 * Formatting, the machine description and the results files shared by the benchmark scripts.
 *
 * Results go to <out>/<stem>.json and <out>/<stem>.md (out defaults to bench/results). The stem is the UTC
 * date, YYYY-MM-DD; when a file of that name exists already the time is added (YYYY-MM-DD-HHMM, then
 * YYYY-MM-DD-HHMMSS), so a day's first full run keeps the plain name and nothing is overwritten. Quick runs
 * get a "-quick" suffix (bench/results/.gitignore keeps them out of git). Files are written to a .tmp name and
 * renamed, so an interrupted run leaves no half-written result.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { describeMachineInfo, type MachineInfo, machineInfo } from "../../src/machine.ts";
import { isAbsolute, join, relative } from "node:path";
import { ROOT } from "./allocators.ts";

export const DEFAULT_OUT = join(ROOT, "bench", "results");

// the toolkit's formatters, for the benchmark scripts
export { formatBytes, formatCount, formatNs, formatPercent, formatRatio } from "../../src/format.ts";
/** Sizes in benchmark names (16 B, 4 KiB, 1 MiB): src/format.ts formatExactSize. */
export { formatExactSize as formatSize } from "../../src/format.ts";

// ---- numbers ----------------------------------------------------------------

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The one ratio convention of every benchmark table and summary, said once at the top of each report. The ratio is
 * hakmem's edge: the other allocator's cost divided by hakmem's, so that above 1.00x hakmem is better everywhere.
 */
export const RATIO_CONVENTION =
  "Ratios: the other allocator's cost ÷ hakmem's — time per operation (for throughput: hakmem's throughput ÷ the other's), " +
  "memory or instructions. Above 1.00x hakmem is better, below 1.00x the other allocator is; hakmem itself is 1.00x. " +
  "★ and bold mark the best of each comparison (a row of a microbenchmark table, a workload of the native table).";

/** The ratio in {@link RATIO_CONVENTION} of `value` against hakmem's `reference`, for a metric where `better` is higher or lower. */
export function hakmemEdge(value: number, reference: number, better: "higher" | "lower"): number {
  return better === "higher" ? reference / value : value / reference;
}

/** The best of a row, marked so that it shows in Markdown (bold) and in a terminal (the star). */
export function markBest(text: string): string {
  return `★ **${text}**`;
}

/** A Markdown table; the first `textColumns` columns are left-aligned, the others (numbers) right-aligned. */
export function markdownTable(header: string[], rows: string[][], textColumns = 1): string {
  const align = header.map((_, i) => (i < textColumns ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/**
 * A file the run wrote, as the user can open it from where they are: under an absolute `--out`, absolute; else
 * relative to the working directory.
 */
export function shownPath(path: string, outGiven: string | null): string {
  if (outGiven !== null && isAbsolute(outGiven)) return path;
  return relative(process.cwd(), path) || path;
}

/** path relative to the repository root when it lies inside it. */
export function displayPath(path: string): string {
  const rel = relative(ROOT, path);
  return rel.startsWith("..") ? path : rel;
}

// ---- the machine ------------------------------------------------------------

export interface Machine extends MachineInfo {
  bun: string;
}

export function machine(): Machine {
  return { ...machineInfo(), bun: Bun.version };
}

export function describeMachine(m: Machine): string {
  return `${describeMachineInfo(m)}, Bun ${m.bun}`;
}

// ---- results files ----------------------------------------------------------

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** The file name stem for a new result in dir: see the module comment. */
export function resultStem(dir: string, quick: boolean, now = new Date()): string {
  const exts = [".json", ".md", ".log"];
  const date = `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())}`;
  const hhmm = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}`;
  const suffix = quick ? "-quick" : "";
  const taken = (stem: string) => exts.some((ext) => existsSync(join(dir, `${stem}${ext}`)));
  for (const stem of [`${date}${suffix}`, `${date}-${hhmm}${suffix}`, `${date}-${hhmm}${pad(now.getUTCSeconds())}${suffix}`]) {
    if (!taken(stem)) return stem;
  }
  for (let i = 2; ; i++) {
    const stem = `${date}-${hhmm}${pad(now.getUTCSeconds())}-${i}${suffix}`;
    if (!taken(stem)) return stem;
  }
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Non-integers to 4 significant digits: the measurements are not more precise than that. */
function round(_key: string, value: unknown): unknown {
  return typeof value === "number" && Number.isFinite(value) && !Number.isInteger(value) ? Number(value.toPrecision(4)) : value;
}

function isLeaf(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  const items = Array.isArray(value) ? value : Object.values(value);
  return items.every((item) => item === null || typeof item !== "object" || (Array.isArray(item) && item.every((x) => typeof x !== "object")));
}

/** JSON with one line per innermost object (a result cell, a benchmark row): small, and readable in a diff. */
export function compactJson(value: unknown, indent = ""): string {
  if (isLeaf(value)) return JSON.stringify(value, round) ?? "null";
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    return `[\n${value.map((item) => inner + compactJson(item, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, inner)}`).join(",\n")}\n${indent}}`;
}

/**
 * Writes <dir>/<stem>.json and .md, and with `log` <stem>.log (the benchmarks' own output, in full); returns their
 * paths.
 */
export function writeResults(dir: string, quick: boolean, json: unknown, markdown: string, log?: string): { json: string; md: string; log: string | null } {
  mkdirSync(dir, { recursive: true });
  const stem = resultStem(dir, quick);
  const paths = { json: join(dir, `${stem}.json`), md: join(dir, `${stem}.md`), log: log === undefined ? null : join(dir, `${stem}.log`) };
  writeAtomically(paths.json, `${compactJson(json)}\n`);
  writeAtomically(paths.md, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
  if (paths.log !== null) writeAtomically(paths.log, log as string);
  return paths;
}

/**
 * text with everything from the `start` marker up to (not including) the `end` marker replaced by `section`, which
 * begins with the start marker again; null when the markers are missing or out of order.
 */
export function replaceMarkedSection(text: string, start: string, end: string, section: string): string | null {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || to < from) return null;
  return text.slice(0, from) + section + text.slice(to);
}
