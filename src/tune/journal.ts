/**
 * The journal of a sweep: runs.jsonl. Its first line is a {@link JournalHeader} (what was planned, which slice of
 * it this journal runs, on which machine, with which library build); then one {@link RunRecord} per line, appended
 * as each run finishes, so that an interrupted sweep can resume where it stopped and shards can be merged.
 *
 * @module
 */
import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import type { HakmemConfig } from "../config.ts";
import type { MachineInfo } from "../machine.ts";
import type { RunRecord } from "./analysis.ts";
import { TuneError } from "./errors.ts";

/** The K-th (1-based) of N deterministic slices of a grid. */
export interface Shard {
  index: number;
  count: number;
}

/** The whole plan of a sweep as a journal keeps it (every configuration, also those of other shards). */
export interface PlanDescription {
  configs: { id: string; label: string; options: Partial<HakmemConfig>; baseline: boolean }[];
  workloads: { name: string; argv: string[]; description: string | null }[];
  runs: number;
}

/** The library build that ran: its file and a hash of its contents. */
export interface LibraryBuild {
  path: string;
  sha256: string;
}

/** The first line of a journal. */
export interface JournalHeader {
  type: "sweep";
  /**
   * Identity of the plan: a hash of the configuration ids, the workloads (name, program file name, arguments) and
   * the runs. Journals merge only when it matches.
   */
  planId: string;
  plan: PlanDescription;
  /** The slice this journal runs; null for a whole sweep. */
  shard: Shard | null;
  machine: MachineInfo;
  library: LibraryBuild;
  startedAt: string;
}

/** What reading a journal found. */
export interface JournalContents {
  /** The header line; null in a journal written before headers existed. */
  header: JournalHeader | null;
  records: RunRecord[];
  /** A last line cut short (the sweep was killed while writing it); {@link readJournal} with `repair` drops it. */
  truncatedTail: boolean;
}

function isRecord(v: unknown): v is RunRecord {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    r.type === "run" &&
    typeof r.configId === "string" &&
    typeof r.workload === "string" &&
    Array.isArray(r.argv) &&
    Number.isInteger(r.run) &&
    typeof r.ok === "boolean" &&
    typeof r.peakRssBytes === "number"
  );
}

/**
 * Reads a journal. A missing file is an empty journal. An incomplete last line (no newline at the end, not valid
 * JSON) is what a killed writer leaves: with `repair` the file is cut back to the last complete line, otherwise it
 * is only reported. Any other line that is not a run record throws `BAD_JOURNAL` naming the line.
 */
export function readJournal(path: string, repair = false): JournalContents {
  if (!existsSync(path)) return { header: null, records: [], truncatedTail: false };
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const last = lines.pop() as string; // "" when the file ends with a newline
  const records: RunRecord[] = [];
  let header: JournalHeader | null = null;
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new TuneError("BAD_JOURNAL", `${path}:${i + 1} is not JSON; move the file away to start over`);
    }
    if (isHeader(value)) {
      if (header !== null || records.length > 0) throw new TuneError("BAD_JOURNAL", `${path}:${i + 1}: a sweep header after the first line`);
      header = value;
      return;
    }
    if (!isRecord(value)) throw new TuneError("BAD_JOURNAL", `${path}:${i + 1} is not a run record; move the file away to start over`);
    records.push(value);
  });
  let truncatedTail = false;
  if (last.trim() !== "") {
    let value: unknown;
    try {
      value = JSON.parse(last);
    } catch {
      value = undefined;
    }
    if (isRecord(value)) {
      records.push(value);
      if (repair) appendFileSync(path, "\n");
    } else {
      truncatedTail = true;
      if (repair) truncateSync(path, Buffer.byteLength(text, "utf8") - Buffer.byteLength(last, "utf8"));
    }
  }
  return { header, records, truncatedTail };
}

function isHeader(v: unknown): v is JournalHeader {
  if (typeof v !== "object" || v === null) return false;
  const h = v as Record<string, unknown>;
  return h.type === "sweep" && typeof h.planId === "string" && typeof h.plan === "object" && typeof h.machine === "object" && typeof h.library === "object";
}

/** Starts a journal (replacing any) with its header line. */
export function resetJournal(path: string, header: JournalHeader | null = null): void {
  writeFileSync(path, header === null ? "" : `${JSON.stringify(header)}\n`);
}

/** Appends one record as a line. */
export function appendRecord(path: string, record: RunRecord): void {
  appendFileSync(path, `${JSON.stringify(record)}\n`);
}

/** The key of one planned run in a journal: configuration, workload, its command line and the run index. */
export function runKey(configId: string, workload: string, argv: readonly string[], run: number): string {
  return JSON.stringify([configId, workload, argv, run]);
}
