/** Paths and a process runner shared by the test suites. */
import { join } from "node:path";
import { expect } from "bun:test";
import { runCaptured } from "../src/child.ts";
import { HakmemError, type HakmemErrorCode } from "../src/errors.ts";
import { PACKAGE_ROOT } from "../src/library.ts";

/** The repository root: the package root of src/library.ts. */
export const ROOT = PACKAGE_ROOT;
export const BUILD = join(ROOT, "build");
export const FFI_LIB = join(BUILD, "libhakmem.so");
export const PRELOAD_LIB = join(BUILD, "libhakmem_preload.so");

export interface RunResult {
  command: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Variables added to the environment the tests run in (LD_PRELOAD and HAKMEM_* removed first). */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

/** The test process's environment without anything that would change the allocator. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === "LD_PRELOAD" || key.startsWith("HAKMEM_")) continue;
    env[key] = value;
  }
  return env;
}

/** Runs argv to completion, capturing stdout and stderr; killed with SIGKILL after timeoutMs (default 110 s). */
export async function run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const { stdout, stderr, exitCode, signalCode, timedOut } = await runCaptured(argv, {
    cwd: options.cwd ?? ROOT,
    env: { ...baseEnv(), ...options.env },
    timeoutMs: options.timeoutMs ?? 110_000,
  });
  return { command: argv.join(" "), exitCode, signal: signalCode, timedOut, stdout, stderr };
}

/** A failure message with everything needed to reproduce and diagnose a run. */
export function report(result: RunResult, env: Record<string, string> = {}, showStdout = true): string {
  const prefix = Object.entries(env)
    .map(([key, value]) => `${key}=${value} `)
    .join("");
  const status = result.timedOut
    ? "timed out (killed)"
    : result.signal !== null
      ? `killed by ${result.signal}`
      : `exit code ${result.exitCode}`;
  const lines = [`${prefix}${result.command}: ${status}`];
  if (showStdout) lines.push("--- stdout ---", truncate(result.stdout));
  lines.push("--- stderr ---", truncate(result.stderr));
  return lines.join("\n");
}

function truncate(text: string, max = 8000): string {
  if (text.length <= max) return text.trimEnd();
  return `${text.slice(0, max / 2)}\n[... ${text.length - max} characters left out ...]\n${text.slice(-max / 2).trimEnd()}`;
}

/** Asserts that fn throws a HakmemError with this code; returns it. */
export function expectCode(fn: () => unknown, code: HakmemErrorCode): HakmemError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected HakmemError ${code}`).toBeInstanceOf(HakmemError);
  expect((caught as HakmemError).code, (caught as Error).message).toBe(code);
  return caught as HakmemError;
}
