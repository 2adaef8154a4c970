/**
 * hakmem as a dependency, end to end: packs the package (`npm pack`, whose prepack builds the prebuilt libraries and
 * dist/) from a copy of the repository, installs the tarball into a temporary app outside the repository with this
 * project's own Bun, then checks what a user does, each from another working directory than the app's:
 * import + alloc + free + buffer, and the README's example; tsc under Bun's recommended settings and under NodeNext; `bun build --compile`
 * run with an empty environment from `/`; `bun build --target bun`; Deno through node_modules; `bunx hakmem flags`,
 * `bunx hakmem run -- /bin/echo hi` and a one-point `bunx hakmem tune`; the bin where Bun is not to be found; Node's
 * error; what the tarball holds; and, with the platform's prebuilt files taken out, `bunx hakmem build`.
 * Every step that fails shows the output of that step.
 *
 * The arm64 library needs Debian's cross compiler (gcc-aarch64-linux-gnu; .ci/run installs it). Without it the
 * package is packed for linux-x64 only, and the test says so.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PREBUILT_PLATFORMS } from "../src/library.ts";
import { report, ROOT, run, type RunResult } from "./support.ts";

const BUN = process.execPath;
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const TSC = join(ROOT, "node_modules", ".bin", "tsc");
const PLATFORM = `${process.platform}-${process.arch}`;
/** The cross compiler for arm64 on an x64 host (and the other way round), as the Makefile names it. */
const CROSS_CC = process.arch === "x64" ? "aarch64-linux-gnu-gcc" : "x86_64-linux-gnu-gcc";
const STEP_MS = 240_000;

let tmp = "";
let app = "";
let tarball = "";
/** The platforms the tarball carries. */
let packed: string[] = [];
/** What `bun add` put in the app's node_modules. */
let installed: string[] = [];

/** Runs one step; fails with its command line, exit status and whole output unless it exits 0. */
async function step(argv: string[], options: Parameters<typeof run>[1] = {}): Promise<RunResult> {
  const result = await run(argv, { timeoutMs: STEP_MS - 10_000, ...options });
  if (result.exitCode !== 0 || result.timedOut) throw new Error(report(result, options.env ?? {}));
  return result;
}

/** The last line of stdout as JSON (the apps print one JSON object). */
function lastJson(result: RunResult): Record<string, unknown> {
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`expected one JSON line on stdout:\n${report(result)}`);
  }
}

/** A PATH with no Bun on it, so that the app's `bunx` steps rely on nothing but the Bun that runs them. */
const PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * What a user of the app runs with: no Bun on PATH, no BUN_INSTALL, a home of its own, and npm's variables as
 * `npm test` leaves them (Bun keeps them for what bunx starts), so that the bin has to find Bun on its own.
 */
function userEnv(): Record<string, string> {
  return {
    PATH: PLAIN_PATH,
    HOME: join(tmp, "home"),
    BUN_INSTALL: "",
    NO_COLOR: "1",
    npm_config_user_agent: "npm/10.0.0 node/v20.0.0 linux x64",
    npm_execpath: "/nonexistent/npm-cli.js",
  };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "hakmem-package-"));
  mkdirSync(join(tmp, "home"));

  // A copy of the repository's files (tracked or not ignored), so that packing never touches the checkout.
  const source = join(tmp, "source");
  const files = await step(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  for (const file of files.stdout.split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f)))) {
    cpSync(join(ROOT, file), join(source, file), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(source, "node_modules"));

  // Without the cross compiler, `make prebuilt` packs the host's platform only (and warns).
  const cross = Bun.which(CROSS_CC) !== null;
  packed = cross ? [...PREBUILT_PLATFORMS] : [PLATFORM];
  if (!cross) console.warn(`package.test: ${CROSS_CC} is not installed: packing for ${PLATFORM} only`);
  const pack = await step(["npm", "pack", "--json", "--pack-destination", tmp], { cwd: source, timeoutMs: STEP_MS - 10_000 });
  // prepack's make output comes first on stdout (a compiler warning may hold "["): npm's JSON starts at a line "[".
  const jsonStart = pack.stdout.search(/^\[$/m);
  if (jsonStart < 0) throw new Error(`npm pack --json printed no JSON array:\n${pack.stdout}`);
  const info = JSON.parse(pack.stdout.slice(jsonStart)) as Array<{ filename: string }>;
  tarball = join(tmp, info[0]?.filename ?? "missing.tgz");

  // The app: its own folder outside the repository, the package installed from the tarball by this Bun.
  app = join(tmp, "app");
  cpSync(join(ROOT, "tests", "package-app"), app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module", private: true }));
  await step([BUN, "add", tarball], { cwd: app, env: userEnv() });
  installed = readdirSync(join(app, "node_modules")).filter((name) => !name.startsWith("."));
  // Bun's types for tsc, as `bun add -d @types/bun` would give them (linked: the test needs no registry).
  mkdirSync(join(app, "node_modules", "@types"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules", "@types", "bun"), join(app, "node_modules", "@types", "bun"));
}, STEP_MS);

afterAll(() => {
  if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
});

describe("hakmem installed from its tarball", () => {
  test("the tarball holds what users need and nothing else", async () => {
    const list = (await step(["tar", "-tvzf", tarball])).stdout.split("\n").filter((l) => l !== "");
    const names = list.map((l) => l.slice(l.indexOf("package/") + "package/".length));
    for (const platform of packed) {
      for (const file of ["libhakmem.so", "libhakmem_preload.so", "library.js", "runstat", "bench_random_mixed"]) {
        expect(names).toContain(`build/prebuilt/${platform}/${file}`);
      }
    }
    for (const file of ["bin/hakmem", "src/index.ts", "src/cli.ts", "dist/deno.js", "dist/index.d.ts", "dist/tune.d.ts", "dist/unsupported.js", "csrc/include/hakmem.h", "Makefile", "bench/native/runstat.c", "bench/native/bench_common.h"]) {
      expect(names).toContain(file);
    }
    const unwanted = names.filter((n) => /^(tests|csrc\/tests|csrc\/fuzz|bench\/results|node_modules|\.ci)\/|^build\/(?!prebuilt\/)|\.test\.ts$/.test(n));
    expect(unwanted).toEqual([]);
    // Each platform's library is built for that machine (ELF e_machine: 62 x86-64, 183 AArch64).
    const machines: Record<string, number> = { "linux-x64": 62, "linux-arm64": 183 };
    for (const platform of packed) {
      const elf = readFileSync(join(app, "node_modules", "hakmem", "build", "prebuilt", platform, "libhakmem.so"));
      expect([platform, elf.readUInt16LE(18)]).toEqual([platform, machines[platform] ?? -1]);
    }
    const bin = list.find((l) => l.endsWith("package/bin/hakmem")) ?? "";
    expect(bin.startsWith("-rwx")).toBe(true);
    const pkg = JSON.parse(readFileSync(join(app, "node_modules", "hakmem", "package.json"), "utf8"));
    expect(pkg.os).toEqual(["linux"]);
    expect(pkg.cpu).toEqual(["x64", "arm64"]);
    expect(Object.keys(pkg.engines).sort()).toEqual(["bun", "deno"]);
    expect(pkg.dependencies).toBeUndefined();
    // Installing pulled in hakmem alone: no development dependency came with it.
    expect(installed).toEqual(["hakmem"]);
  }, STEP_MS);

  test("Bun: import, alloc, free, batch, buffer, from another working directory", async () => {
    const out = lastJson(await step([BUN, join(app, "app.ts")], { cwd: "/", env: userEnv() }));
    expect(out).toMatchObject({ usable: 112, live: 3, buffer: 4096, sum: 7, runs: 1 });
    expect(out.library).toBe(join(app, "node_modules", "hakmem", "build", "prebuilt", PLATFORM, "libhakmem.so"));
  }, STEP_MS);

  test("Bun: the README's example runs as written", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const example = /```ts\n(import [^\n]* from "hakmem";\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(example, "README.md has no ts example importing hakmem").toBeDefined();
    expect(example?.trimEnd().split("\n").length).toBeLessThanOrEqual(10);
    writeFileSync(join(app, "readme.ts"), example ?? "");
    const result = await step([BUN, join(app, "readme.ts")], { cwd: "/", env: userEnv() });
    expect(result.stdout).toMatch(/^112\n\d+ 4096\n$/);
  }, STEP_MS);

  test("tsc: Bun's recommended settings (bundler, strict, noUncheckedIndexedAccess), declarations checked", async () => {
    await step([TSC, "-p", join(app, "tsconfig.bundler.json")], { cwd: "/" });
  }, STEP_MS);

  test("tsc: NodeNext, declarations checked", async () => {
    await step([TSC, "-p", join(app, "tsconfig.nodenext.json")], { cwd: "/" });
  }, STEP_MS);

  test("bun build --compile: the binary runs with an empty environment from /, the library embedded", async () => {
    const exe = join(tmp, "app-compiled");
    await step([BUN, "build", "--compile", join(app, "app.ts"), "--outfile", exe], { cwd: app, env: userEnv() });
    // run() passes the test's environment on; `env -i` starts the binary with none at all.
    const out = lastJson(await step(["env", "-i", exe], { cwd: "/" }));
    expect(out).toMatchObject({ usable: 112, live: 3, buffer: 4096 });
    expect(String(out.library)).toStartWith("/$bunfs/");
  }, STEP_MS);

  test("bun build --target bun: the output runs from / with the library copied next to it", async () => {
    const outdir = join(tmp, "app-bundled");
    await step([BUN, "build", "--target", "bun", join(app, "app.ts"), "--outdir", outdir], { cwd: app, env: userEnv() });
    const out = lastJson(await step([BUN, join(outdir, "app.js")], { cwd: "/", env: userEnv() }));
    expect(out).toMatchObject({ usable: 112, live: 3, buffer: 4096 });
    expect(String(out.library)).toStartWith(`${outdir}/`);
  }, STEP_MS);

  test("Deno: through node_modules and npm:, with --allow-ffi --allow-env=HAKMEM_LIB only", async () => {
    const env = { ...userEnv(), DENO_DIR: join(tmp, "deno-dir"), DENO_NO_UPDATE_CHECK: "1" };
    const argv = [DENO, "run", "--no-prompt", "--allow-ffi", "--allow-env=HAKMEM_LIB", join(app, "deno-app.ts")];
    const out = lastJson(await step(argv, { cwd: "/", env }));
    expect(out).toMatchObject({ flags: expect.any(Number), size: 1024 * 1024, usable: 112, buffer: 64 });
    expect(out.library).toBe(join(app, "node_modules", "hakmem", "build", "prebuilt", PLATFORM, "libhakmem.so"));
    await step([DENO, "check", join(app, "deno-app.ts")], { cwd: app, env });
    // Without --allow-ffi, Deno's own error says which flag is missing.
    const denied = await run(argv.filter((a) => a !== "--allow-ffi"), { cwd: "/", env });
    expect(denied.exitCode, report(denied, env)).not.toBe(0);
    expect(denied.stderr).toContain("--allow-ffi");
  }, STEP_MS);

  test("bunx hakmem flags", async () => {
    const result = await step([BUN, "x", "hakmem", "flags"], { cwd: app, env: userEnv() });
    expect(result.stdout).toContain("HAKMEM_SS_SIZE");
  }, STEP_MS);

  test("bunx hakmem run -- /bin/echo hi", async () => {
    const result = await step([BUN, "x", "hakmem", "run", "--", "/bin/echo", "hi"], { cwd: app, env: userEnv() });
    expect(result.stdout).toBe("hi\n");
    expect(result.stderr).toContain("== hakmem: /bin/echo hi ==");
  }, STEP_MS);

  test("bunx hakmem tune: a one-point sweep on the package's own programs", async () => {
    const out = join(tmp, "tune-results");
    const argv = [BUN, "x", "hakmem", "tune", "--ss-size", "1M", "--lru-max-cached", "0", "--lru-max-mb", "64", "--runs", "1", "--quick", "--workload", "tiny_hot", "--out", out];
    await step(argv, { cwd: app, env: userEnv() });
    expect(existsSync(join(out, "hakmem.config.json"))).toBe(true);
    // the journal: its header, then one run of the point asked for and one of the library's defaults (the baseline)
    const lines = readFileSync(join(out, "runs.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; configId?: string });
    expect(lines.map((l) => l.type)).toEqual(["sweep", "run", "run"]);
    expect(new Set(lines.slice(1).map((l) => l.configId)).size).toBe(2);
  }, STEP_MS);

  test("the bin with no Bun to be found says so in one line", async () => {
    const env = { PATH: PLAIN_PATH, HOME: join(tmp, "home"), npm_config_user_agent: "npm/10.0.0", npm_execpath: "/nonexistent/npm-cli.js" };
    // Started by a shell, as npx does, not by this Bun (which the bin would find as its parent).
    const bin = join(app, "node_modules", ".bin", "hakmem");
    const result = await run(["sh", "-c", `"${bin}" flags; status=$?; exit $status`], { cwd: app, env });
    expect(result.exitCode, report(result, env)).toBe(127);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("needs Bun");
  }, STEP_MS);

  test("Node: one clear error naming Bun and Deno", async () => {
    const result = await run(["node", "--input-type=module", "-e", 'await import("hakmem")'], { cwd: app, env: userEnv() });
    expect(result.exitCode, report(result)).not.toBe(0);
    expect(result.stderr).toContain("hakmem runs on Bun");
    expect(result.stderr).toContain("Deno");
  }, STEP_MS);

  // Last: it takes this platform's prebuilt files out of the installed package.
  test("with no prebuilt library for the platform, the first call says what to run, and that command works", async () => {
    const installedPackage = join(app, "node_modules", "hakmem");
    rmSync(join(installedPackage, "build", "prebuilt", PLATFORM), { recursive: true });
    const missing = await run([BUN, join(app, "app.ts")], { cwd: "/", env: userEnv() });
    expect(missing.exitCode, report(missing)).not.toBe(0);
    expect(missing.stderr).toContain("LIBRARY_NOT_FOUND");
    expect(missing.stderr).toContain("bunx hakmem build");

    await step([BUN, "x", "hakmem", "build"], { cwd: app, env: userEnv() });
    const out = lastJson(await step([BUN, join(app, "app.ts")], { cwd: "/", env: userEnv() }));
    expect(out).toMatchObject({ usable: 112, live: 3, buffer: 4096 });
    expect(out.library).toBe(join(installedPackage, "build", "libhakmem.so"));
    const result = await step([BUN, "x", "hakmem", "run", "--", "/bin/echo", "hi"], { cwd: app, env: userEnv() });
    expect(result.stderr).toContain("== hakmem: /bin/echo hi ==");
  }, STEP_MS);
});
