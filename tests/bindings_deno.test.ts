/**
 * Runs the Deno test suite (tests/bindings.deno.ts, against src/deno.ts) with the deno binary from npm
 * (node_modules/.bin/deno, a devDependency), so that `bun test` covers Deno too. Deno type-checks src/deno.ts and
 * the test first, with tests/deno/deno.json. Skipped, with a message, only when deno cannot start at all.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { report, ROOT, run } from "./support.ts";

const TIMEOUT_MS = 240_000;
const DENO = join(ROOT, "node_modules", ".bin", "deno");

function denoStarts(): { ok: boolean; why: string } {
  try {
    const probe = Bun.spawnSync([DENO, "--version"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (probe.success) return { ok: true, why: "" };
    return { ok: false, why: `${DENO} --version exited with ${probe.exitCode}: ${probe.stderr.toString().trim()}` };
  } catch (e) {
    return { ok: false, why: `${DENO} could not be started: ${(e as Error).message} (run npm ci)` };
  }
}

const deno = denoStarts();
if (!deno.ok) console.warn(`SKIPPING the Deno tests: ${deno.why}`);

test.skipIf(!deno.ok)(
  "the Deno bindings pass their tests under deno test",
  async () => {
    const argv = [
      DENO,
      "test",
      "--config",
      "tests/deno/deno.json",
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
      "--allow-write", // the loadConfig test writes a temporary file
      "--v8-flags=--expose-gc",
      "tests/bindings.deno.ts",
    ];
    const env = { NO_COLOR: "1" };
    const result = await run(argv, { env, timeoutMs: TIMEOUT_MS - 10_000 });
    expect(result.exitCode, report(result, env)).toBe(0);
    const summary = /ok \| (\d+) passed \| (\d+) failed/.exec(result.stdout);
    expect(summary, report(result, env)).not.toBeNull();
    expect(Number(summary?.[1])).toBeGreaterThanOrEqual(7);
    expect(Number(summary?.[2])).toBe(0);
  },
  TIMEOUT_MS,
);
