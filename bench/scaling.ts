/**
 * `npm run bench:scaling`: the thread curve. Runs bench/scaling.sh (larson-like, producer/consumer, rptest-like and
 * the seeds' mid/large workload at 1, 2, 4, ... threads up to the cores, hakmem against every installed peer) and
 * writes its tables to bench/results/scaling/<stem>.json and .md (bench/lib/report.ts names them).
 *
 *   bun bench/scaling.ts [--threads LIST] [--rounds N] [--workloads LIST] [--quick] [--out DIR] [--no-save]
 *                        [--update-readme]
 *   bun bench/scaling.ts --from FILE [--out DIR] [--no-save] [--update-readme]
 *
 * --from reads the records of a run made elsewhere: a curve needs many cores, and the machines that have them may
 * have no Bun, so there one runs `bench/scaling.sh > FILE` alone (it needs only bash and what `make` builds).
 * --update-readme puts the summary between the `<!-- bench:scaling:start -->` and `<!-- bench:scaling:end -->`
 * markers of README.md.
 *
 * Exit status: 0 when every run succeeded, 1 when one failed, 2 for bad arguments.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { type OptionSpecs, readCommandLine, UsageError } from "../src/args.ts";
import { ROOT } from "./lib/allocators.ts";
import { DEFAULT_OUT, displayPath, formatRatio, markdownTable, replaceMarkedSection, shownPath, writeResults } from "./lib/report.ts";
import { mib, millions, parseScalingRecords, type ScalingRecords, scalingJson, scalingMarkdown, summarizeScaling } from "./lib/scaling.ts";

const OPTIONS = {
  threads: { type: "string" },
  rounds: { type: "string" },
  workloads: { type: "string" },
  quick: { type: "boolean" },
  from: { type: "string" },
  out: { type: "string" },
  "no-save": { type: "boolean" },
  "update-readme": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

const RUNNER = join(ROOT, "bench", "scaling.sh");
const README = join(ROOT, "README.md");
const README_START = "<!-- bench:scaling:start -->";
const README_END = "<!-- bench:scaling:end -->";

function usage(): string {
  return `usage: bun bench/scaling.ts [--threads LIST] [--rounds N] [--workloads LIST] [--quick] [--out DIR] [--no-save] [--update-readme]
       bun bench/scaling.ts --from FILE [--out DIR] [--no-save] [--update-readme]

  --threads LIST     thread counts, comma-separated (default 1, 2, 4, ... up to the cores)
  --rounds N         runs of each allocator at each count; the median is reported (default 3)
  --workloads LIST   server_handoff, producer_consumer, pass_random, mid_large_mt (default all four)
  --quick            a tenth of the work, for a first look
  --from FILE        make the tables from the records of bench/scaling.sh run elsewhere; runs nothing
  --out DIR          write the results files to DIR (default bench/results/scaling)
  --no-save          write no results files
  --update-readme    put the summary into README.md
  --help             show this text`;
}

interface Options {
  runnerArgs: string[];
  from: string | null;
  out: string | null;
  outGiven: string | null;
  updateReadme: boolean;
}

function parseOptions(args: string[]): Options {
  const { values } = readCommandLine(args, OPTIONS);
  if (values.help) {
    console.log(usage());
    process.exit(0);
  }
  const runnerArgs: string[] = [];
  for (const name of ["threads", "rounds", "workloads"] as const) {
    const value = values[name];
    if (value !== undefined) runnerArgs.push(`--${name}`, value);
  }
  if (values.quick) runnerArgs.push("--quick");
  if (values.from !== undefined && runnerArgs.length > 0) {
    throw new UsageError("--from reads records made elsewhere; --threads, --rounds, --workloads and --quick belong to that run");
  }
  const out = values["no-save"] ? null : (values.out ?? join(DEFAULT_OUT, "scaling"));
  return { runnerArgs, from: values.from ?? null, out, outGiven: values.out ?? null, updateReadme: values["update-readme"] === true };
}

/** Runs bench/scaling.sh, passing each record on to stderr as it comes (the progress), and returns them all. */
async function runRunner(args: string[]): Promise<{ text: string; status: number }> {
  const child = Bun.spawn(["bash", RUNNER, ...args], { stdout: "pipe", stderr: "inherit" });
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    const part = decoder.decode(chunk, { stream: true });
    text += part;
    process.stderr.write(part);
  }
  return { text, status: await child.exited };
}

/** The README's summary: for each workload and thread count, hakmem against the fastest peer. */
function readmeSection(records: ScalingRecords, resultsPath: string | null): string {
  const rows: string[][] = [];
  for (const table of summarizeScaling(records)) {
    for (const row of table.rows) {
      const hakmem = row.cells.hakmem;
      const best = row.bestPeer === null ? undefined : row.cells[row.bestPeer];
      if (hakmem === undefined || best === undefined) continue;
      rows.push([
        table.workload,
        String(row.threads),
        millions(hakmem.median),
        `${row.bestPeer} ${millions(best.median)}`,
        formatRatio(hakmem.median, best.median),
        mib(hakmem.rssKb),
        mib(best.rssKb),
      ]);
    }
  }
  const m = records.machine;
  const source = resultsPath === null ? "" : ` Every allocator, with the spread: [${resultsPath}](${resultsPath}).`;
  return [
    README_START,
    `Measured ${(m.date ?? "").slice(0, 10)} on ${m.cores ?? "?"} cores (${m.cpu || "unknown CPU"}, Linux ${m.kernel ?? "?"}), ` +
      `${m.rounds ?? "?"} rounds, medians; throughput in M ops/s, peak RSS in MiB.${source}`,
    "",
    markdownTable(["workload", "threads", "hakmem", "fastest peer", "hakmem vs it", "hakmem RSS", "its RSS"], rows, 2),
    "",
  ].join("\n");
}

function updateReadme(section: string): void {
  const text = replaceMarkedSection(readFileSync(README, "utf8"), README_START, README_END, section);
  if (text === null) throw new Error(`README.md has no ${README_START} ... ${README_END} section`);
  writeFileSync(README, text);
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${usage()}`);
    process.exit(2);
  }
  let text: string;
  let status = 0;
  if (options.from !== null) {
    try {
      text = readFileSync(options.from, "utf8");
    } catch (error) {
      console.error(`cannot read ${options.from}: ${(error as Error).message}`);
      process.exit(2);
    }
  } else {
    ({ text, status } = await runRunner(options.runnerArgs));
    if (status === 2) process.exit(2); // the runner said why
  }
  const records = parseScalingRecords(text);
  if (records.runs.length === 0) {
    console.error("no runs in the records");
    process.exit(1);
  }
  if (records.failed.length > 0) status = 1;
  const command = options.from !== null ? `bench/scaling.sh ${records.args}`.trim() : `bun bench/scaling.ts ${options.runnerArgs.join(" ")}`.trim();
  const markdown = scalingMarkdown(records, command);
  console.log(markdown);
  let mdPath: string | null = null;
  if (options.out !== null) {
    const paths = writeResults(options.out, records.machine.quick === "1", scalingJson(records, command), markdown);
    mdPath = paths.md;
    console.log(`results: ${shownPath(paths.json, options.outGiven)}, ${shownPath(paths.md, options.outGiven)}`);
  }
  if (options.updateReadme) {
    updateReadme(readmeSection(records, mdPath === null ? null : relative(ROOT, mdPath)));
    console.log(`README.md: the scaling summary updated${mdPath === null ? "" : ` (${displayPath(mdPath)})`}`);
  }
  process.exit(status);
}

await main();
