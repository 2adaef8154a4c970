/**
 * What a sweep runs: a workload is any command line, plus a parser that reads its throughput from stdout. The
 * built-in workloads are programs of the benchmark catalogue (src/benchmarks.ts: bench/native/, built by `make`
 * into build/, read by the catalogue's parsers), sized so that one run
 * takes about half a second on a small machine: long enough to pass the start-up page faults, short enough for a
 * grid of dozens of configurations.
 *
 * @module
 */
import { join } from "node:path";
import { parseScalingLine, parseThroughput, type ProgramName } from "../benchmarks.ts";
import { TuneError } from "./errors.ts";

/** A program to run once per configuration and run; hakmem is given to it with LD_PRELOAD. */
export interface Workload {
  /** Short unique name, used in reports and in the journal (letters, digits, `_`, `-`, `.`). */
  name: string;
  /** The command line: a program path (or a name found on PATH) and its arguments. */
  argv: readonly string[];
  /**
   * Reads the throughput in operations per second from the program's stdout, or returns `null` for a workload that
   * measures memory only; throws when the output is not what it expects (the run then counts as failed). Default:
   * {@link parseThroughput}.
   */
  parse?: (stdout: string) => number | null;
  /** One line for reports. */
  description?: string;
}

export { parseThroughput };

/** test_scaling's `Scaling: ...` line: measures memory only (its throughput is `null`); throws when it is missing. */
export function parseScaling(stdout: string): null {
  parseScalingLine(stdout);
  return null;
}

interface Builtin {
  /** One line for reports, for full and quick runs (counts in it are the ones the run uses). */
  description: (quick: boolean) => string;
  /** argv after the binary, for full and quick runs. */
  args: (quick: boolean) => string[];
  binary: ProgramName;
  parse: (stdout: string) => number | null;
}

const scale = (n: number, quick: boolean) => String(quick ? n / 10 : n);
const count = (n: number, quick: boolean) => (quick ? n / 10 : n).toLocaleString("en-US");

const BUILTINS = {
  random_mixed: {
    binary: "bench_random_mixed",
    description: (quick) => `${count(10_000_000, quick)} random malloc/free of 16..1039 bytes over 65,536 slots, one thread`,
    args: (quick) => [scale(10_000_000, quick), "65536", "42"],
    parse: parseThroughput,
  },
  tiny_hot: {
    binary: "bench_tiny_hot",
    description: (quick) => `${count(50_000_000, quick)} malloc+free pairs of 16 bytes, one thread (the fast path)`,
    args: (quick) => [scale(50_000_000, quick), "16"],
    parse: parseThroughput,
  },
  mid_large_mt: {
    binary: "bench_mid_large_mt",
    description: (quick) => `2 threads, ${count(2_000_000, quick)} random malloc/free of 8..34 KiB each over 1,024 slots each`,
    args: (quick) => ["2", scale(2_000_000, quick), "1024", "42"],
    parse: parseThroughput,
  },
  scaling: {
    binary: "test_scaling",
    description: (quick) => `${count(1_000_000, quick)} blocks of 16 bytes kept live (memory only: peak RSS, no throughput)`,
    args: (quick) => [scale(1_000_000, quick)],
    parse: parseScaling,
  },
  remote_free: {
    binary: "bench_remote_free",
    description: (quick) => `producer/consumer threads, ${count(150_000, quick)} blocks of 16 B..64 KiB all freed remotely (SuperSlab churn through the LRU)`,
    args: (quick) => [scale(150_000, quick), "65536"],
    parse: parseThroughput,
  },
} satisfies Record<string, Builtin>;

/** Names of the built-in workloads. */
export type BuiltinWorkloadName = keyof typeof BUILTINS;

/** Every built-in workload name, in a stable order. */
export const BUILTIN_WORKLOADS: readonly BuiltinWorkloadName[] = Object.keys(BUILTINS) as BuiltinWorkloadName[];

/** What `bun run tune` runs when no `--workload` is given. */
export const DEFAULT_WORKLOADS: readonly BuiltinWorkloadName[] = ["random_mixed", "mid_large_mt", "scaling", "remote_free"];

/** True when `name` is a built-in workload. */
export function isBuiltinWorkload(name: string): name is BuiltinWorkloadName {
  return Object.hasOwn(BUILTINS, name);
}

/** One line per built-in workload: name and description. */
export function describeBuiltinWorkloads(quick = false): { name: BuiltinWorkloadName; description: string }[] {
  return BUILTIN_WORKLOADS.map((name) => ({ name, description: BUILTINS[name].description(quick) }));
}

/**
 * A built-in workload as a {@link Workload}: the benchmark in `buildDir` with its arguments (a tenth of the
 * iterations with `quick`).
 */
export function builtinWorkload(name: string, buildDir: string, quick = false): Workload {
  if (!isBuiltinWorkload(name))
    throw new TuneError("BAD_ARGUMENT", `unknown workload ${JSON.stringify(name)}; the workloads are: ${BUILTIN_WORKLOADS.join(", ")}`);
  const b: Builtin = BUILTINS[name];
  return { name, argv: [join(buildDir, b.binary), ...b.args(quick)], parse: b.parse, description: b.description(quick) };
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks a workload's shape (name, argv); throws `BAD_ARGUMENT`. */
export function checkWorkload(w: unknown, index: number): Workload {
  const where = `workload ${index + 1}`;
  if (typeof w !== "object" || w === null) throw new TuneError("BAD_ARGUMENT", `${where} must be a built-in name or {name, argv, parse?}`);
  const { name, argv, parse } = w as Record<string, unknown>;
  if (typeof name !== "string" || !NAME.test(name))
    throw new TuneError("BAD_ARGUMENT", `${where}: name must be 1 to 64 letters, digits, "_", "-" or "."; got ${JSON.stringify(name)}`);
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string") || argv[0] === "")
    throw new TuneError("BAD_ARGUMENT", `workload ${name}: argv must be a non-empty array of strings (the program first)`);
  if (parse !== undefined && typeof parse !== "function")
    throw new TuneError("BAD_ARGUMENT", `workload ${name}: parse must be a function (stdout) => number | null`);
  return w as Workload;
}
