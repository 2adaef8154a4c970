/**
 * The journal of a sweep: runs.jsonl, one {@link RunRecord} per line, appended as each run finishes, so that an
 * interrupted sweep can resume where it stopped.
 *
 * @module
 */
import { appendFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import type { RunRecord } from "./analysis.ts";
import { TuneError } from "./errors.ts";

/** What reading a journal found. */
export interface JournalContents {
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
  if (!existsSync(path)) return { records: [], truncatedTail: false };
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const last = lines.pop() as string; // "" when the file ends with a newline
  const records: RunRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new TuneError("BAD_JOURNAL", `${path}:${i + 1} is not JSON; move the file away to start over`);
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
  return { records, truncatedTail };
}

/** Starts an empty journal (replacing any). */
export function resetJournal(path: string): void {
  writeFileSync(path, "");
}

/** Appends one record as a line. */
export function appendRecord(path: string, record: RunRecord): void {
  appendFileSync(path, `${JSON.stringify(record)}\n`);
}

/** The key of one planned run in a journal: configuration, workload, its command line and the run index. */
export function runKey(configId: string, workload: string, argv: readonly string[], run: number): string {
  return JSON.stringify([configId, workload, argv, run]);
}
