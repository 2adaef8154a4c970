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
import { join, relative } from "node:path";
import { ROOT } from "./allocators.ts";

export const DEFAULT_OUT = join(ROOT, "bench", "results");

// ---- numbers ----------------------------------------------------------------

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** A power-of-two size as it is written in the benchmark names: 16 B, 4 KiB, 1 MiB. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function formatPercent(pct: number): string {
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

/** value / reference as "1.23x"; "n/a" without a reference. */
export function formatRatio(value: number, reference: number | undefined): string {
  if (reference === undefined || reference === 0 || !Number.isFinite(value)) return "n/a";
  return `${(value / reference).toFixed(2)}x`;
}

/** Nanoseconds with three significant digits and a unit. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return "n/a";
  if (ns >= 1e9) return `${(ns / 1e9).toPrecision(3)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${ns.toPrecision(3)} ns`;
}

/** A Markdown table; the first `textColumns` columns are left-aligned, the others (numbers) right-aligned. */
export function markdownTable(header: string[], rows: string[][], textColumns = 1): string {
  const align = header.map((_, i) => (i < textColumns ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
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
  const date = `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())}`;
  const hhmm = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}`;
  const suffix = quick ? "-quick" : "";
  const taken = (stem: string) => existsSync(join(dir, `${stem}.json`)) || existsSync(join(dir, `${stem}.md`));
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

/** Writes <dir>/<stem>.json and .md; returns their paths. */
export function writeResults(dir: string, quick: boolean, json: unknown, markdown: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const stem = resultStem(dir, quick);
  const paths = { json: join(dir, `${stem}.json`), md: join(dir, `${stem}.md`) };
  writeAtomically(paths.json, `${compactJson(json)}\n`);
  writeAtomically(paths.md, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
  return paths;
}

// ---- progress ---------------------------------------------------------------

/** One line on stderr: rewritten in place on a terminal, a new line otherwise. */
export function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(`${text}\n`);
}

export function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
}
