/** Runs every C unit test (csrc/tests/test_*.c, built by make into build/tests/test_*). */
import { expect, test } from "bun:test";
import { basename, join } from "node:path";
import { BUILD, ROOT, report, run } from "./support.ts";

const TIMEOUT_MS = 120_000;

const sources = [...new Bun.Glob("csrc/tests/test_*.c").scanSync({ cwd: ROOT })].sort();

test("C unit tests exist", () => {
  expect(sources.length, "no csrc/tests/test_*.c found").toBeGreaterThan(0);
});

for (const source of sources) {
  const name = basename(source, ".c");
  const binary = join(BUILD, "tests", name);
  test(
    name,
    async () => {
      expect(await Bun.file(binary).exists(), `${binary} was not built from ${source}`).toBe(true);
      const result = await run([binary], { timeoutMs: TIMEOUT_MS - 5_000 });
      expect(result.exitCode, report(result)).toBe(0);
    },
    TIMEOUT_MS,
  );
}
