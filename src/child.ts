/**
 * A child process run to completion with its output captured: what every measured run (src/runstat.ts) and the
 * test suites' runner build on.
 *
 * @module
 */

/** How to run the child. */
export interface ChildOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Killed with SIGKILL after this many milliseconds; it then counts as timed out. */
  timeoutMs: number;
  /** Kills the child with SIGTERM. */
  signal?: AbortSignal;
}

/** How it ended and what it wrote. */
export interface ChildResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  /** The signal that ended it ("SIGKILL"), or null. */
  signalCode: string | null;
  timedOut: boolean;
}

/** Runs `argv` with stdin closed, collecting stdout and stderr; never throws for how the child ends. */
export async function runCaptured(argv: readonly string[], options: ChildOptions): Promise<ChildResult> {
  const proc = Bun.spawn([...argv], { cwd: options.cwd, env: options.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, options.timeoutMs);
  const onAbort = () => proc.kill("SIGTERM");
  options.signal?.addEventListener("abort", onAbort);
  try {
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    await proc.exited;
    return { stdout, stderr, exitCode: proc.exitCode, signalCode: proc.signalCode === null ? null : String(proc.signalCode), timedOut };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
