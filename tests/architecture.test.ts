// docs/architecture.md stays true: the files it names exist, it names every C source file, and its C layers are
// in the order of the layer list in csrc/internal.h (which `make layers` checks against the object files).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { report, ROOT, run } from "./support.ts";

const doc = readFileSync(join(ROOT, "docs", "architecture.md"), "utf8");
const named = [...doc.matchAll(/`((?:csrc|src|tests|bench)\/[A-Za-z0-9_./-]+)`/g)].map((m) => m[1]!);

/** The "name.c" entries of the layer list at the top of csrc/internal.h, in order. */
function headerLayers(): string[] {
  const header = readFileSync(join(ROOT, "csrc", "internal.h"), "utf8");
  const list = header.slice(header.indexOf("Layers, bottom up"), header.indexOf("*/"));
  return [...list.matchAll(/^ \* {3}([a-z_]+\.c) /gm)].map((m) => m[1]!);
}

describe("the C layering", () => {
  test("make layers: every C file calls only files below it in csrc/internal.h's list (nm on each object)", async () => {
    const result = await run(["make", "-s", "layers"], { timeoutMs: 300_000 });
    expect(result.exitCode, report(result)).toBe(0);
    expect(result.stdout).toContain("every call goes down the list");
  }, 300_000);

  test("the check fails on a call up the list, naming both files and the symbol", async () => {
    const built = await run(["make", "-s", "layers"], { timeoutMs: 300_000 });
    expect(built.exitCode, report(built)).toBe(0);
    // The same objects against a list with report.c moved to the top: everything that logs now calls up.
    const header = readFileSync(join(ROOT, "csrc", "internal.h"), "utf8");
    const reportLine = header.split("\n").find((line) => /^ \* {3}report\.c /.test(line))!;
    const moved = header.replace(`${reportLine}\n`, "").replace(/^( \* {3}preload\.c .*)$/m, `$1\n${reportLine}`);
    const dir = mkdtempSync(join(tmpdir(), "hakmem-layers-"));
    try {
      writeFileSync(join(dir, "internal.h"), moved);
      const result = await run(["sh", "csrc/tests/check_layers.sh", "build/objs", join(dir, "internal.h"), "csrc"]);
      expect(result.exitCode, report(result)).toBe(1);
      expect(result.stdout).toContain("check_layers: csrc/config.c uses hk_log of csrc/report.c, a layer above it");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe("docs/architecture.md", () => {
  test("names files", () => {
    expect(named.length).toBeGreaterThan(20);
  });

  test("every file it names exists", () => {
    expect(named.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });

  test("it names every C source file", () => {
    const sources = readdirSync(join(ROOT, "csrc")).filter((f) => f.endsWith(".c"));
    expect(sources.filter((f) => !named.includes(`csrc/${f}`))).toEqual([]);
  });

  test("its numbered C layers are csrc/internal.h's layer list, in order", () => {
    const numbered = [...doc.matchAll(/^\d+\. `csrc\/([a-z_]+\.c)`/gm)].map((m) => m[1]!);
    expect(numbered).toEqual(headerLayers());
    expect(numbered.length).toBe(readdirSync(join(ROOT, "csrc")).filter((f) => f.endsWith(".c")).length);
  });
});
