#!/usr/bin/env bun
/**
 * The hakmem command line.
 *
 *   hakmem run [--json] [--lib PATH] [--] CMD [ARGS...]   run CMD with hakmem as its malloc, then report
 *   hakmem flags [--json]                                 every HAKMEM_* flag with its range and default
 *   hakmem tune [OPTIONS]                                 the tuning sweep (see `hakmem tune --help`)
 *   hakmem build                                          build the native files inside this package (gcc, make)
 *   hakmem version
 *
 * The package's bin (bin/hakmem) finds Bun and runs this file. `run` preloads libhakmem_preload.so (the package's
 * prebuilt one for this platform, else build/'s) into CMD (and everything CMD starts) under runstat, which measures
 * CMD's own process; lets the allocator write its statistics when CMD exits (HAKMEM_STATS_FILE: the user's own
 * when set, else a temporary file), and prints them on stderr, so CMD's own stdout is untouched. The exit status is
 * CMD's (128 + signal number if a signal ended it, and the signal is named).
 *
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readCommandLine, UsageError } from "./args.ts";
import { nativeFile } from "./bun-library.ts";
import { buildAdvice, PACKAGE_ROOT } from "./library.ts";
import { parseRunstat } from "./runstat.ts";
import { formatBytes, formatCount } from "./format.ts";
import type { StatsField } from "./stats-fields.ts";

const DEFAULT_PRELOAD = nativeFile("libhakmem_preload.so");
/** Runs the command and measures its own process (bench/native/runstat.c). */
const RUNSTAT = nativeFile("runstat");

const USAGE = `usage:
  hakmem run [--json] [--lib PATH] [--] CMD [ARGS...]
      Runs CMD with hakmem as its malloc (LD_PRELOAD) and prints the allocator's
      statistics on stderr when it ends. HAKMEM_* variables in the environment
      configure the allocator as usual. --json prints the statistics as JSON.
      --lib names another build of libhakmem_preload.so. Exit status: CMD's.
  hakmem flags [--json]
      Lists every HAKMEM_* flag: type, default, allowed values, description.
  hakmem tune [OPTIONS]
      Sweeps SuperSlab size and LRU limits over workloads and recommends a
      configuration (hakmem tune --help for the options).
  hakmem build
      Builds the libraries, runstat and the tuning programs into build/ inside
      the package, for a platform it carries no prebuilt files for (needs gcc
      and make).
  hakmem version
`;

/** Statistics shown by `run`, in order, with how to print each (keys from the generated field list). */
const REPORT_ROWS: Array<[key: StatsField, label: string, kind: "count" | "bytes"]> = [
  ["allocs", "allocations", "count"],
  ["frees", "frees", "count"],
  ["remote_frees", "frees from other threads", "count"],
  ["large_allocs", "large allocations", "count"],
  ["bytes_in_use", "bytes still in use at exit", "bytes"],
  ["thread_cache_bytes", "freed bytes held in thread caches at exit", "bytes"],
  ["superslabs_live", "SuperSlabs in use", "count"],
  ["superslabs_cached", "SuperSlabs cached (LRU)", "count"],
  ["slabs_emptied", "slabs emptied", "count"],
  ["slabs_reused", "slabs reused", "count"],
  ["classes_split", "size classes split finer", "count"],
  ["lru_hit", "LRU hits", "count"],
  ["lru_miss", "LRU misses", "count"],
  ["large_cache_hits", "large-block cache hits", "count"],
  ["os_maps", "OS maps", "count"],
  ["os_unmaps", "OS unmaps", "count"],
  ["os_decommits", "OS decommits", "count"],
  ["page_faults", "page faults", "count"],
  ["lock_acquisitions", "lock acquisitions", "count"],
  ["threads_started", "threads with a heap", "count"],
  ["foreign_frees", "frees of foreign pointers", "count"],
  ["invalid_frees", "invalid frees", "count"],
];

/**
 * The report `run` prints: one aligned line per statistic, then what was measured of the process (its peak RSS,
 * from wait4, replaces the statistics' rss_peak, which is the same figure seen from inside).
 */
export function formatReport(stats: Record<string, number>, command: string, proc?: ProcessReport): string {
  const processRows: Array<[string, string]> = proc
    ? [
        ["peak RSS (the process)", formatBytes(proc.peakRssBytes)],
        ["page faults (the process)", formatCount(proc.pageFaults)],
        ["wall time", `${proc.wallSeconds.toFixed(3)} s`],
      ]
    : [["peak RSS", formatBytes(stats.rss_peak ?? 0)]];
  const width = Math.max(...REPORT_ROWS.map(([, label]) => label.length), ...processRows.map(([label]) => label.length));
  const lines = [`== hakmem: ${command} ==`];
  for (const [key, label, kind] of REPORT_ROWS) {
    const value = stats[key];
    if (value === undefined) continue;
    const text = kind === "bytes" ? formatBytes(value) : formatCount(value);
    lines.push(`  ${label.padEnd(width)}  ${text}`);
  }
  for (const [label, text] of processRows) lines.push(`  ${label.padEnd(width)}  ${text}`);
  return lines.join("\n");
}

interface RunOptions {
  json: boolean;
  lib: string;
  argv: string[];
}

function parseRunArgs(args: string[]): RunOptions {
  const { values, positionals } = readCommandLine(args, { json: { type: "boolean" }, lib: { type: "string" } }, "command");
  if (positionals.length === 0) throw new UsageError("run: no command given");
  return { json: values.json === true, lib: values.lib === undefined ? DEFAULT_PRELOAD : resolve(values.lib), argv: positionals };
}

/** What build/runstat measured of the command: its own process, not Bun's (see {@link run}). */
export interface ProcessReport {
  exit: number;
  /** The signal that ended the command, by name ("SIGSEGV"), or null. */
  signal: string | null;
  peakRssBytes: number;
  pageFaults: number;
  wallSeconds: number;
}

/** "SIGSEGV" for 11; "signal 99" for a number with no name. */
export function signalName(signal: number): string {
  const entry = Object.entries(constants.signals).find(([, n]) => n === signal);
  return entry === undefined ? `signal ${signal}` : entry[0];
}

function readRunstat(path: string): ProcessReport | null {
  const report = existsSync(path) ? parseRunstat(readFileSync(path, "utf8"))?.report : undefined;
  if (report === undefined) return null;
  const { exit, signal, peakRssBytes, pageFaults, wallSeconds } = report;
  return { exit, signal: signal === 0 ? null : signalName(signal), peakRssBytes, pageFaults, wallSeconds };
}

/** The modification time of a file, or null when there is none. */
function mtime(path: string): number | null {
  return existsSync(path) ? statSync(path).mtimeMs : null;
}

/**
 * Runs the command with hakmem preloaded; returns the exit status to leave with.
 *
 * The command runs under build/runstat, which forks and waits for it with wait4(): its peak RSS is then the
 * command's own. A direct child of Bun would report at least Bun's (Linux carries the peak RSS across exec).
 * The statistics go to the user's own HAKMEM_STATS_FILE when it is set (and stay there), else to a temporary file.
 */
async function run(options: RunOptions): Promise<number> {
  for (const [path, what] of [
    [options.lib, "the preload library"],
    [RUNSTAT, "runstat (it measures the command)"],
  ] as const) {
    if (!existsSync(path)) {
      process.stderr.write(`hakmem: ${what} ${path} does not exist; ${buildAdvice()}\n`);
      return 1;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "hakmem-run-"));
  const userStatsFile = process.env.HAKMEM_STATS_FILE || null;
  const statsFile = userStatsFile ?? join(dir, "stats.json");
  const statsBefore = mtime(statsFile);
  const runstatFile = join(dir, "runstat.txt");
  const preload = [options.lib, process.env.LD_PRELOAD].filter(Boolean).join(":");
  try {
    const { LD_PRELOAD: _inherited, ...env } = process.env;
    const child = Bun.spawn([RUNSTAT, "--preload", preload, "--report", runstatFile, ...options.argv], {
      env: { ...env, HAKMEM_STATS_FILE: statsFile },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    });
    // runstat passes SIGINT, SIGTERM and SIGHUP on to the command; the handlers keep this process alive meanwhile
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => [s, forward(s)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const code = await child.exited;
    for (const [signal, handler] of handlers) process.off(signal, handler);

    const proc = readRunstat(runstatFile);
    const command = options.argv.join(" ");
    if (proc === null) {
      process.stderr.write(`hakmem: build/runstat ended with status ${code} and no report\n`);
      return code === 0 ? 1 : code;
    }
    if (proc.signal === null && proc.exit === 127 && mtime(statsFile) === statsBefore) return 127; // runstat said why
    const written = mtime(statsFile);
    const stats = written !== null && written !== statsBefore ? (JSON.parse(readFileSync(statsFile, "utf8")) as Record<string, number>) : null;
    if (stats === null) {
      const why =
        proc.signal !== null
          ? `${options.argv[0]} was killed by ${proc.signal}, so no exit handler ran`
          : "the program left without running exit handlers (for example through _exit), or it does not use the C allocator";
      process.stderr.write(`hakmem: no statistics: ${why}\n`);
    } else if (options.json) {
      process.stderr.write(`${JSON.stringify({ command, stats, process: proc })}\n`);
    } else {
      process.stderr.write(`${formatReport(stats, command, proc)}\n`);
    }
    if (stats !== null && proc.signal !== null && !options.json) process.stderr.write(`hakmem: ${options.argv[0]} was killed by ${proc.signal}\n`);
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `hakmem build`: `make libs bench` in the package (libraries, runstat, tuning programs into build/). */
function build(): number {
  const make = Bun.spawnSync(["make", "-j2", "libs", "bench"], { cwd: PACKAGE_ROOT, stdio: ["inherit", "inherit", "inherit"] });
  if (make.success) return 0;
  process.stderr.write(`hakmem: make libs bench failed in ${PACKAGE_ROOT} (it needs gcc and make)\n`);
  return 1;
}

/** `hakmem flags`: the C flag table, as hak_config_describe reports it. */
async function flags(json: boolean): Promise<number> {
  const { describeFlags } = await import("./index.ts");
  const list = describeFlags();
  if (json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  for (const flag of list) {
    const allowed =
      flag.values && flag.values.length > 0
        ? flag.values.join(" | ")
        : flag.type === "bool"
          ? "0 | 1"
          : flag.type === "path"
            ? "a file path"
            : `${flag.min} .. ${flag.max}`;
    process.stdout.write(`${flag.name}  (${flag.type}, default ${flag.default || '""'}; ${allowed})\n`);
    process.stdout.write(`    ${flag.description}\n`);
  }
  return 0;
}

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "run":
        return await run(parseRunArgs(rest));
      case "flags":
        return await flags(readCommandLine(rest, { json: { type: "boolean" } }).values.json === true);
      case "tune":
        return await (await import("./tune/cli.ts")).main(rest);
      case "build":
        readCommandLine(rest, {});
        return build();
      case "version": {
        const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
        process.stdout.write(`hakmem ${pkg.version}\n`);
        return 0;
      }
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        return 0;
      default:
        throw new UsageError(command === undefined ? "no command given" : `unknown command ${command}`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`hakmem: ${error.message}\n${USAGE}`);
    return 2;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
