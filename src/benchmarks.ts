/**
 * The catalogue of the benchmark programs in bench/native/ (built by `make` into build/, shipped prebuilt in the
 * package): each program's name and the one line it prints for a result, with the one parser of that line. The
 * tuning sweep's built-in workloads (src/tune/workloads.ts) and the native comparison (bench/native.ts) both run
 * these programs, each with its own sizes, and read their results through here.
 *
 * @module
 */

/** What a program prints: `Throughput = N ops/s [...] time=Ts`, or test_scaling's `Scaling: ...` line. */
export type ProgramOutput = "throughput" | "scaling";

/** Every benchmark program, by its file name in build/. */
export const PROGRAMS = {
  bench_random_mixed: "throughput",
  bench_tiny_hot: "throughput",
  bench_mid_large_mt: "throughput",
  bench_remote_free: "throughput",
  bench_server_handoff: "throughput",
  bench_producer_consumer: "throughput",
  bench_pool_replace: "throughput",
  bench_pass_random: "throughput",
  bench_false_sharing: "throughput",
  bench_realloc_growth: "throughput",
  bench_large_random: "throughput",
  bench_large_mt: "throughput",
  test_scaling: "scaling",
} as const satisfies Record<string, ProgramOutput>;

/** A benchmark program's name. */
export type ProgramName = keyof typeof PROGRAMS;

/** The `Throughput = N ops/s` line a throughput program prints: N; throws when it is missing. */
export function parseThroughput(stdout: string): number {
  const match = /^Throughput = (\d+(?:\.\d+)?) ops\/s/m.exec(stdout);
  if (match === null) throw new Error("no `Throughput = N ops/s` line on stdout");
  return Number(match[1]);
}

/** test_scaling's line: the blocks it keeps live, their bytes, the RSS they took and the overhead over the data. */
export interface ScalingLine {
  blocks: number;
  dataBytes: number;
  rssBytes: number;
  overheadPct: number;
}

/** Reads test_scaling's `Scaling: blocks=N data_bytes=N rss_bytes=N overhead_pct=P` line; throws when it is missing. */
export function parseScalingLine(stdout: string): ScalingLine {
  const m = /^Scaling: blocks=(\d+) data_bytes=(\d+) rss_bytes=(\d+) overhead_pct=(-?[\d.]+)$/m.exec(stdout);
  if (m === null) throw new Error("no `Scaling: ...` line on stdout");
  const [, blocks, dataBytes, rssBytes, overheadPct] = m.map(Number) as number[];
  return { blocks: blocks as number, dataBytes: dataBytes as number, rssBytes: rssBytes as number, overheadPct: overheadPct as number };
}
