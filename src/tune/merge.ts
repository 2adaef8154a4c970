/**
 * Joins the journals of a sweep's shards (`sweep({ shard })`, `hakmem tune --shard K/N`) into the report the
 * unsplit sweep would have written. The journals must come from the same plan (grid, workloads, runs) and the same
 * library build, and together hold every shard exactly once. Shards that ran on different hardware (CPU model or
 * cores) are not ranked together unless that is asked for: their timings do not compare.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { hardwareKey, type MachineInfo } from "../machine.ts";
import type { Objective, RunRecord } from "./analysis.ts";
import { TuneError } from "./errors.ts";
import { librarySchema } from "./flag-table.ts";
import { type JournalHeader, readJournal } from "./journal.ts";
import { finishSweep } from "./sweep.ts";
import type { SweepPlan, SweepResult } from "./types.ts";
import type { Workload } from "./workloads.ts";

/** Options of {@link mergeSweeps}. */
export interface MergeOptions {
  /** Where the merged journal and the report go; must not be one of the inputs. */
  out: string;
  objective?: Objective;
  /** Rank together shards that ran on different hardware (the report says so). */
  allowMixedHardware?: boolean;
}

/** One journal to merge. */
interface Part {
  dir: string;
  header: JournalHeader;
  records: RunRecord[];
}

function readPart(dir: string): Part {
  const path = join(dir, "runs.jsonl");
  const { header, records, truncatedTail } = readJournal(path);
  if (header === null)
    throw new TuneError("BAD_JOURNAL", `${path} has no sweep header (no journal there, or one written by an older hakmem): nothing to merge`);
  if (truncatedTail) throw new TuneError("BAD_JOURNAL", `${path} ends in a cut-off line: finish that shard with --resume first`);
  return { dir, header, records };
}

const shardText = (h: JournalHeader) => (h.shard === null ? "the whole grid" : `shard ${h.shard.index}/${h.shard.count}`);

/** Checks that the parts are the shards of one sweep; returns the machines they ran on (distinct hardware). */
function checkParts(parts: readonly Part[], allowMixedHardware: boolean): MachineInfo[] {
  const first = (parts[0] as Part).header;
  for (const p of parts.slice(1)) {
    if (p.header.planId !== first.planId)
      throw new TuneError("BAD_ARGUMENT", `${p.dir} is a sweep of another grid, workloads or runs than ${parts[0]?.dir}: they do not merge`);
    if (p.header.library.sha256 !== first.library.sha256)
      throw new TuneError("BAD_ARGUMENT", `${p.dir} ran another build of the library than ${parts[0]?.dir} (${p.header.library.sha256.slice(0, 12)} against ${first.library.sha256.slice(0, 12)})`);
  }
  const count = first.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const p of parts) {
    if ((p.header.shard?.count ?? 1) !== count)
      throw new TuneError("BAD_ARGUMENT", `${p.dir} runs ${shardText(p.header)}, ${parts[0]?.dir} ${shardText(first)}: the shards of one sweep share N`);
    const index = p.header.shard?.index ?? 1;
    const other = seen.get(index);
    if (other !== undefined) throw new TuneError("BAD_ARGUMENT", `${other} and ${p.dir} both hold ${shardText(p.header)}`);
    seen.set(index, p.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length > 0) throw new TuneError("BAD_ARGUMENT", `shard${missing.length > 1 ? "s" : ""} ${missing.map((i) => `${i}/${count}`).join(", ")} missing`);

  const machines = new Map<string, MachineInfo>();
  for (const p of parts) if (!machines.has(hardwareKey(p.header.machine))) machines.set(hardwareKey(p.header.machine), p.header.machine);
  if (machines.size > 1 && !allowMixedHardware) {
    const where = parts.map((p) => `${p.dir}: ${hardwareKey(p.header.machine)}`).join("; ");
    throw new TuneError(
      "MIXED_HARDWARE",
      `the shards ran on different hardware (${where}); timings from different CPUs do not rank together. Rerun them on one kind of machine, or pass --allow-mixed-hardware to rank them anyway`,
    );
  }
  return [...machines.values()];
}

/** The plan of the journals (the workloads without their parsers: the report reads only what was recorded). */
function planOf(header: JournalHeader): SweepPlan {
  const schema = librarySchema();
  const configs = header.plan.configs.map((c) => ({ ...c, env: schema.toEnv(c.options) }));
  const workloads: Workload[] = header.plan.workloads.map((w) => ({ name: w.name, argv: w.argv, description: w.description ?? undefined }));
  const total = configs.length * workloads.length * header.plan.runs;
  return { configs, workloads, runs: header.plan.runs, shard: null, shardConfigs: configs, total, alreadyDone: total };
}

/**
 * Merges the journals in `dirs` (each holding one shard's runs.jsonl) into `out`: one journal of every run and the
 * report files of the whole sweep. Throws `BAD_JOURNAL` for a missing or headerless journal, `BAD_ARGUMENT` when
 * the journals are not the shards of one sweep (another plan or library build, a shard twice or missing) or `out`
 * is one of them, `MIXED_HARDWARE` when they ran on different hardware and `allowMixedHardware` is not set.
 */
export function mergeSweeps(dirs: readonly string[], options: MergeOptions): SweepResult {
  if (dirs.length === 0) throw new TuneError("BAD_ARGUMENT", "merge wants at least one directory with a runs.jsonl");
  const out = resolve(options.out);
  if (dirs.some((d) => resolve(d) === out)) throw new TuneError("BAD_ARGUMENT", `--out ${options.out} is one of the journals being merged; choose another directory`);
  const parts = dirs.map(readPart);
  const machines = checkParts(parts, options.allowMixedHardware === true);
  const first = (parts[0] as Part).header;
  const plan = planOf(first);
  // the same program may sit in another directory on another machine: records take the plan's command line
  const argvOf = new Map(plan.workloads.map((w) => [w.name, [...w.argv]]));
  const records = parts.flatMap((p) => p.records.map((r) => ({ ...r, argv: argvOf.get(r.workload) ?? r.argv })));

  mkdirSync(out, { recursive: true });
  const header: JournalHeader = { ...first, shard: null, machine: machines[0] as MachineInfo, startedAt: new Date().toISOString() };
  writeFileSync(join(out, "runs.jsonl"), [header, ...records].map((line) => `${JSON.stringify(line)}\n`).join(""));
  return finishSweep(plan, records, {
    out,
    objective: options.objective,
    machines,
    mergedFrom: parts.map((p) => `${basename(resolve(p.dir))} (${shardText(p.header)}, ${hardwareKey(p.header.machine)})`),
  });
}
