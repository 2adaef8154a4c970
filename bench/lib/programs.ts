/**
 * Real programs for the native comparison: each runs a job of its own on inputs written here, under every
 * allocator (LD_PRELOAD), and is measured by its wall-clock time and peak RSS. The seed workloads are our own
 * patterns; these are other people's code (an SQL engine's page cache, a JSON processor's values, an
 * interpreter's objects, a sort's buffers), so they show what a user who preloads hakmem under a program meets.
 *
 * A program that is not installed is skipped, with the package that brings it, as a missing peer is. Inputs are
 * the same on every run and every machine (a fixed generator), written once into build/bench-inputs/.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { formatCount } from "../../src/format.ts";
import { BUILD, ROOT } from "./allocators.ts";

export interface ProgramJob {
  id: string;
  /** Short name for the table. */
  label: string;
  /** The program looked up on PATH. */
  program: string;
  /** How to install it (Debian). */
  install: string;
  /** The command line with the program found at `path`; writes the inputs it needs first. */
  argv(path: string): string[];
}

const INPUTS = join(BUILD, "bench-inputs");

/** xorshift32: the same stream everywhere, so the inputs are the same on every machine. */
function generator(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * The file `name` under build/bench-inputs, written by `make` (to a temporary name first) unless it is there; its
 * path from the repository root, where the programs run.
 */
function input(name: string, make: () => string): string {
  const path = join(INPUTS, name);
  if (!existsSync(path)) {
    mkdirSync(INPUTS, { recursive: true });
    writeFileSync(`${path}.tmp`, make());
    renameSync(`${path}.tmp`, path);
  }
  return relative(ROOT, path);
}

/** `lines` random lowercase words of 3 to 20 letters, one a line. */
function words(lines: number): string {
  const next = generator(42);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const length = 3 + (next() % 18);
    let word = "";
    for (let k = 0; k < length; k++) word += String.fromCharCode(97 + (next() % 26));
    out.push(word);
  }
  return `${out.join("\n")}\n`;
}

/** A JSON array of `n` small records (an id, a name, two tags, a number). */
function records(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(JSON.stringify({ id: i, name: `n${i}`, tags: [`t${i % 7}`, `u${i % 13}`], v: i * 0.5 }));
  return `[${out.join(",")}]\n`;
}

/** The SQL job: `rows` rows of a text key, an index on it, a scan through the index. */
function sqlScript(rows: number): string {
  return [
    "create table t(a integer primary key, b text, c real);",
    `with recursive r(x) as (select 1 union all select x + 1 from r where x < ${rows})`,
    "  insert into t select x, printf('%08x%08x', (x * 2654435761) % 4294967296, (x * 40503) % 65536), x * 1.5 from r;",
    "create index ib on t(b);",
    "select count(*), sum(length(b)) from t where b > '8';",
    "",
  ].join("\n");
}

/** The real executable behind `python3` (pyenv and the like put a shell script first on PATH). */
export function pythonExecutable(found: string): string {
  const r = spawnSync(found, ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
  const exe = r.status === 0 ? r.stdout.trim() : "";
  return exe !== "" && existsSync(exe) ? exe : found;
}

/** The jobs, a tenth of the size each with quick. */
export function programJobs(quick: boolean): ProgramJob[] {
  const scale = (n: number) => (quick ? n / 10 : n);
  const rows = scale(300_000);
  const objects = scale(300_000);
  const keys = scale(400_000);
  const strings = scale(100_000);
  const perlKeys = scale(500_000);
  const lines = scale(2_000_000);
  const suffix = quick ? "-quick" : "";
  return [
    {
      id: "program_sqlite3",
      label: `sqlite3: ${formatCount(rows)} rows, indexed`,
      program: "sqlite3",
      install: "apt-get install sqlite3",
      argv: (path) => [path, ":memory:", `.read ${input(`sqlite3${suffix}.sql`, () => sqlScript(rows))}`],
    },
    {
      id: "program_jq",
      label: `jq: ${formatCount(objects)} objects`,
      program: "jq",
      install: "apt-get install jq",
      argv: (path) => [path, "-c", "map(.tags | length) | add", input(`records${suffix}.json`, () => records(objects))],
    },
    {
      id: "program_python3",
      label: `python3: dict of ${formatCount(keys)}, ${formatCount(strings)} strings`,
      program: "python3",
      install: "apt-get install python3",
      argv: (path) => [
        path,
        "-c",
        `d = {str(i) * 3: [i] * 5 for i in range(${keys})}; s = sorted(d); t = [x * 40 for x in s[:${strings}]]; del d`,
      ],
    },
    {
      id: "program_perl",
      label: `perl: hash of ${formatCount(perlKeys)}, sorted`,
      program: "perl",
      install: "apt-get install perl",
      argv: (path) => [
        path,
        "-e",
        `my %h; $h{$_ x 3} = [$_] for 1..${perlKeys}; my @k = sort keys %h; my @v = map { $_ x 20 } @k[0..${perlKeys / 5 - 1}];`,
      ],
    },
    {
      id: "program_sort",
      label: `sort: ${formatCount(lines)} lines, 2 threads`,
      program: "sort",
      install: "apt-get install coreutils",
      argv: (path) => [path, "--parallel=2", "-S", "100M", "-o", "/dev/null", input(`words${suffix}.txt`, () => words(lines))],
    },
  ];
}
