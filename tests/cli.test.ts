/** The hakmem command line (src/cli.ts): `run` preloads hakmem into any program and reports its statistics. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFlags } from "../src/index.ts";
import { ROOT, report, run } from "./support.ts";

const CLI = [process.execPath, join(ROOT, "src", "cli.ts")];
const TIMEOUT_MS = 60_000;
const describedNames = () => describeFlags().map((flag) => flag.name);

describe("hakmem run", () => {
  test.skipIf(Bun.which("python3") === null)("the program's stdout and exit status pass through; the report goes to stderr", async () => {
    const result = await run([...CLI, "run", "--", "python3", "-c", "import sys; print('x' * 3); sys.exit(7)"]);
    expect(result.exitCode, report(result)).toBe(7);
    expect(result.stdout).toBe("xxx\n");
    expect(result.stderr).toContain("== hakmem: python3 -c");
    const allocs = /^\s*allocations\s+([\d,]+)$/m.exec(result.stderr);
    expect(allocs, report(result)).not.toBeNull();
    expect(Number(allocs![1]!.replaceAll(",", ""))).toBeGreaterThan(0);
  }, TIMEOUT_MS);

  test("--json prints the statistics as one JSON object", async () => {
    const result = await run([...CLI, "run", "--json", "--", "sort", "/etc/passwd"]);
    expect(result.exitCode, report(result)).toBe(0);
    const line = result.stderr.trim().split("\n").at(-1)!;
    const parsed = JSON.parse(line) as { command: string; stats: Record<string, number> };
    expect(parsed.command).toBe("sort /etc/passwd");
    expect(parsed.stats.allocs).toBeGreaterThan(0);
    expect(parsed.stats.frees).toBeGreaterThan(0);
  }, TIMEOUT_MS);

  test("HAKMEM_* variables configure the allocator of the program", async () => {
    const result = await run([...CLI, "run", "--json", "--", "true"], { env: { HAKMEM_SS_SIZE: "2M" } });
    expect(result.exitCode, report(result)).toBe(0);
    const parsed = JSON.parse(result.stderr.trim().split("\n").at(-1)!) as { stats: Record<string, number> };
    expect(parsed.stats.superslab_bytes).toBe(2 * 1024 * 1024);
  }, TIMEOUT_MS);

  test("a program killed by a signal exits with 128 + the signal number, and the signal is named", async () => {
    const result = await run([...CLI, "run", "--", "sh", "-c", "kill -TERM $$"]);
    expect(result.exitCode, report(result)).toBe(128 + 15);
    expect(result.stderr).toContain("killed by SIGTERM");
    const segv = await run([...CLI, "run", "--", "sh", "-c", "kill -SEGV $$"]);
    expect(segv.exitCode, report(segv)).toBe(128 + 11);
    expect(segv.stderr).toContain("sh was killed by SIGSEGV");
    expect(segv.stderr).not.toContain("without running exit handlers");
  }, TIMEOUT_MS);

  test("the peak RSS is the program's own, not Bun's", async () => {
    const result = await run([...CLI, "run", "--json", "--", "/bin/true"]);
    expect(result.exitCode, report(result)).toBe(0);
    const parsed = JSON.parse(result.stderr.trim().split("\n").at(-1)!) as { process: { peakRssBytes: number; signal: string | null } };
    expect(parsed.process.signal).toBeNull();
    expect(parsed.process.peakRssBytes).toBeGreaterThan(0);
    expect(parsed.process.peakRssBytes).toBeLessThan(8 * 1024 * 1024); // Bun alone is ~30 MiB
    const text = await run([...CLI, "run", "--", "/bin/true"]);
    const rss = /^\s*peak RSS \(the process\)\s+([\d.]+) (B|KiB|MiB)$/m.exec(text.stderr);
    expect(rss, report(text)).not.toBeNull();
    expect(rss![2] === "MiB" ? Number(rss![1]) : 0).toBeLessThan(8);
  }, TIMEOUT_MS);

  test("a user's own HAKMEM_STATS_FILE is written, kept, and the report still shown", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hakmem-cli-"));
    try {
      const file = join(dir, "mine.json");
      const result = await run([...CLI, "run", "--", "sort", "/etc/passwd"], { env: { HAKMEM_STATS_FILE: file } });
      expect(result.exitCode, report(result)).toBe(0);
      expect(result.stderr).toContain("== hakmem: sort /etc/passwd ==");
      expect(existsSync(file)).toBe(true);
      const stats = JSON.parse(readFileSync(file, "utf8")) as Record<string, number>;
      expect(stats.allocs).toBeGreaterThan(0);
      expect(result.stderr).toMatch(new RegExp(`^\\s*allocations\\s+${stats.allocs!.toLocaleString("en-US")}$`, "m"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, TIMEOUT_MS);

  test("no command, an unknown option or an unknown subcommand: usage and exit 2", async () => {
    for (const [args, why] of [
      [["run"], "run: no command given"],
      [["run", "--bogus", "ls"], "unknown option --bogus"],
      [["run", "--lib"], "--lib needs a value"],
      [["flags", "--bogus"], "unknown option --bogus"],
      [["build", "extra"], 'unexpected argument "extra"'],
      [["frobnicate"], "unknown command frobnicate"],
      [[], "no command given"],
    ] as const) {
      const result = await run([...CLI, ...args]);
      expect(result.exitCode, report(result)).toBe(2);
      expect(result.stderr).toContain(`hakmem: ${why}\n`);
      expect(result.stderr).toContain("usage:");
    }
  }, TIMEOUT_MS);

  test("options after the command are the command's own", async () => {
    const result = await run([...CLI, "run", "python3", "-c", "import sys; print(sys.argv[1:])", "--json", "--lib", "x"]);
    expect(result.exitCode, report(result)).toBe(0);
    expect(result.stdout).toBe("['--json', '--lib', 'x']\n");
    expect(result.stderr).toContain("== hakmem: python3 -c"); // the text report: --json was not hakmem's
  }, TIMEOUT_MS);

  test("a command that does not exist exits 127 with a message", async () => {
    const result = await run([...CLI, "run", "--", "/nonexistent/program"]);
    expect(result.exitCode, report(result)).toBe(127);
    expect(result.stderr).toContain("cannot run /nonexistent/program");
  }, TIMEOUT_MS);

  test("a missing preload library says how to build it", async () => {
    const result = await run([...CLI, "run", "--lib", "/nonexistent/libhakmem_preload.so", "--", "true"]);
    expect(result.exitCode, report(result)).toBe(1);
    expect(result.stderr).toContain("make");
  }, TIMEOUT_MS);
});

describe("hakmem tune", () => {
  test("delegates to the tuning command", async () => {
    const result = await run([...CLI, "tune", "--help"]);
    expect(result.exitCode, report(result)).toBe(0);
    expect(result.stdout).toContain("--ss-size");
  }, TIMEOUT_MS);
});

describe("hakmem flags", () => {
  test("lists every flag of the C table", async () => {
    const result = await run([...CLI, "flags"]);
    expect(result.exitCode, report(result)).toBe(0);
    for (const name of describedNames()) expect(result.stdout).toContain(`${name}  (`);
  }, TIMEOUT_MS);

  test("--json gives the described flags", async () => {
    const result = await run([...CLI, "flags", "--json"]);
    expect(result.exitCode, report(result)).toBe(0);
    const flags = JSON.parse(result.stdout) as Array<{ name: string }>;
    expect(flags.map((f) => f.name).sort()).toEqual(describedNames().sort());
  }, TIMEOUT_MS);
});
