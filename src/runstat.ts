/**
 * Running a program under build/runstat (bench/native/runstat.c), which forks it, waits for it with wait4() and
 * reports the program's own exit, peak RSS, page faults and times in one line. A direct child of Bun would report
 * at least Bun's peak RSS (Linux carries it across exec), so every measured run of the package goes through here:
 * the tuning sweep (src/tune/sweep.ts), the native comparison (bench/native.ts) and `hakmem run` (src/cli.ts, which
 * reads the line from runstat's `--report` file).
 *
 * @module
 */
import { type ChildOptions, runCaptured } from "./child.ts";

/** runstat's line; the program's stderr comes before it. */
const RUNSTAT_LINE =
  /^runstat: exit=(\d+) signal=(\d+) maxrss_kb=(\d+) minflt=(\d+) majflt=(\d+) user_us=(\d+) sys_us=(\d+) wall_us=(\d+)\n?/m;

/** What runstat measured of the program. */
export interface RunstatReport {
  /** The program's exit status (0 when a signal ended it). */
  exit: number;
  /** The signal that ended it, 0 for none. */
  signal: number;
  peakRssBytes: number;
  /** Minor and major page faults. */
  pageFaults: number;
  userSeconds: number;
  sysSeconds: number;
  wallSeconds: number;
}

/** The runstat line in `text` and the text without it, or null when there is none. */
export function parseRunstat(text: string): { report: RunstatReport; rest: string } | null {
  const m = RUNSTAT_LINE.exec(text);
  if (m === null) return null;
  const [, exit, signal, maxRssKb, minflt, majflt, userUs, sysUs, wallUs] = m.map(Number) as number[];
  return {
    report: {
      exit: exit as number,
      signal: signal as number,
      peakRssBytes: (maxRssKb as number) * 1024,
      pageFaults: (minflt as number) + (majflt as number),
      userSeconds: (userUs as number) / 1e6,
      sysSeconds: (sysUs as number) / 1e6,
      wallSeconds: (wallUs as number) / 1e6,
    },
    rest: text.replace(m[0], ""),
  };
}

/** How to run one program: as {@link runCaptured}, plus runstat and the library to preload. */
export interface MeasureOptions extends ChildOptions {
  /** build/runstat. */
  runstat: string;
  /** The library for LD_PRELOAD (runstat sets it for the program alone), or null for none. */
  preload: string | null;
}

/** One measured run. */
export interface MeasuredRun {
  stdout: string;
  /** The program's own stderr (runstat's line taken out). */
  stderr: string;
  /** runstat's report; null when runstat gave none (it could not start, or it was killed). */
  report: RunstatReport | null;
  /** runstat's own exit status. */
  runstatExit: number | null;
  timedOut: boolean;
}

/** Runs `argv` once under runstat; never throws for the program's failures ({@link runFailure} says what went wrong). */
export async function measureRun(argv: readonly string[], options: MeasureOptions): Promise<MeasuredRun> {
  const preload = options.preload === null ? [] : ["--preload", options.preload];
  const child = await runCaptured([options.runstat, ...preload, ...argv], options);
  const parsed = parseRunstat(child.stderr);
  return { stdout: child.stdout, stderr: parsed?.rest ?? child.stderr, report: parsed?.report ?? null, runstatExit: child.exitCode, timedOut: child.timedOut };
}

/** Why a run failed ("exited with status 3", ...), or null when the program ran and exited 0. */
export function runFailure(run: MeasuredRun, timeoutMs: number): string | null {
  if (run.timedOut) return `timed out after ${timeoutMs / 1000} s`;
  if (run.report === null) return `ended without a runstat report (runstat exit ${run.runstatExit})`;
  if (run.report.signal !== 0) return `was killed by signal ${run.report.signal}`;
  if (run.report.exit !== 0) return `exited with status ${run.report.exit}`;
  return null;
}
