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
 * prebuilt one for this platform, else build/'s) into CMD (and everything CMD starts), lets the allocator write its
 * statistics to a temporary file when CMD exits (HAKMEM_STATS_FILE), and prints them on stderr, so CMD's own
 * stdout is untouched. The exit status is CMD's (128 + signal number if a signal ended it).
 *
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { nativeFile } from "./bun-library.ts";
import { buildAdvice, PACKAGE_ROOT } from "./library.ts";

const DEFAULT_PRELOAD = nativeFile("libhakmem_preload.so");

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

/** Statistics shown by `run`, in order, with how to print each. */
const REPORT_ROWS: Array<[key: string, label: string, kind: "count" | "bytes"]> = [
  ["allocs", "allocations", "count"],
  ["frees", "frees", "count"],
  ["remote_frees", "frees from other threads", "count"],
  ["large_allocs", "large allocations", "count"],
  ["bytes_in_use", "bytes still in use at exit", "bytes"],
  ["superslabs_live", "SuperSlabs in use", "count"],
  ["superslabs_cached", "SuperSlabs cached (LRU)", "count"],
  ["slabs_emptied", "slabs emptied", "count"],
  ["slabs_reused", "slabs reused", "count"],
  ["lru_hit", "LRU hits", "count"],
  ["lru_miss", "LRU misses", "count"],
  ["ace_hits", "large-block cache hits", "count"],
  ["os_maps", "OS maps", "count"],
  ["os_unmaps", "OS unmaps", "count"],
  ["os_decommits", "OS decommits", "count"],
  ["page_faults", "page faults", "count"],
  ["rss_peak", "peak RSS", "bytes"],
  ["lock_acquisitions", "lock acquisitions", "count"],
  ["threads_started", "threads with a heap", "count"],
  ["foreign_frees", "frees of foreign pointers", "count"],
  ["invalid_frees", "invalid frees", "count"],
];

class UsageError extends Error {}

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The report `run` prints: one aligned line per statistic. */
export function formatReport(stats: Record<string, number>, command: string): string {
  const width = Math.max(...REPORT_ROWS.map(([, label]) => label.length));
  const lines = [`== hakmem: ${command} ==`];
  for (const [key, label, kind] of REPORT_ROWS) {
    const value = stats[key];
    if (value === undefined) continue;
    const text = kind === "bytes" ? formatBytes(value) : value.toLocaleString("en-US");
    lines.push(`  ${label.padEnd(width)}  ${text}`);
  }
  return lines.join("\n");
}

interface RunOptions {
  json: boolean;
  lib: string;
  argv: string[];
}

function parseRunArgs(args: string[]): RunOptions {
  const options: RunOptions = { json: false, lib: DEFAULT_PRELOAD, argv: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === "--json") options.json = true;
    else if (arg === "--lib") {
      const value = args[++i];
      if (value === undefined) throw new UsageError("--lib needs a path");
      options.lib = resolve(value);
    } else if (arg.startsWith("--")) throw new UsageError(`unknown option ${arg}`);
    else break;
  }
  options.argv = args.slice(i);
  if (options.argv.length === 0) throw new UsageError("run: no command given");
  return options;
}

/** Runs the command with hakmem preloaded; returns the exit status to leave with. */
async function run(options: RunOptions): Promise<number> {
  if (!existsSync(options.lib)) {
    process.stderr.write(
      `hakmem: ${options.lib} does not exist; ${buildAdvice()}\n`,
    );
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), "hakmem-run-"));
  const statsFile = join(dir, "stats.json");
  const preload = [options.lib, process.env.LD_PRELOAD].filter(Boolean).join(":");
  try {
    let child: ReturnType<typeof Bun.spawn>;
    try {
      child = Bun.spawn(options.argv, {
        env: { ...process.env, LD_PRELOAD: preload, HAKMEM_STATS_FILE: statsFile },
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      });
    } catch (error) {
      process.stderr.write(`hakmem: cannot run ${options.argv[0]}: ${(error as Error).message}\n`);
      return 127;
    }
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => [s, forward(s)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const code = await child.exited;
    for (const [signal, handler] of handlers) process.off(signal, handler);

    if (!existsSync(statsFile)) {
      process.stderr.write(
        "hakmem: no statistics: the program left without running exit handlers (for example through _exit), " +
          "or it does not use the C allocator\n",
      );
    } else {
      const stats = JSON.parse(readFileSync(statsFile, "utf8")) as Record<string, number>;
      const command = options.argv.join(" ");
      process.stderr.write(`${options.json ? JSON.stringify({ command, stats }) : formatReport(stats, command)}\n`);
    }
    const signal = child.signalCode;
    if (signal === null) return code;
    return 128 + (typeof signal === "number" ? signal : (constants.signals[signal] ?? 0));
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
        if (rest.some((a) => a !== "--json")) throw new UsageError(`flags: unexpected argument ${rest.find((a) => a !== "--json")}`);
        return await flags(rest.includes("--json"));
      case "tune":
        return await (await import("./tune-cli.ts")).main(rest);
      case "build":
        if (rest.length > 0) throw new UsageError(`build: unexpected argument ${rest[0]}`);
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
