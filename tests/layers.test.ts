/**
 * The TypeScript layers as the imports draw them: no module imports one that (through others) imports it back, and
 * `hakmem/tune` stands on the configuration and library modules, never on an entry point (src/index.ts, src/deno.ts),
 * so that importing it opens no native library.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { baseEnv, ROOT, run } from "./support.ts";

/** Static imports and re-exports of a module (type-only ones too: they are dependencies of the drawing). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)) found.push(resolve(dirname(file), m[1] as string));
  for (const m of text.matchAll(/^\s*import\s+"(\.[^"]+)"/gm)) found.push(resolve(dirname(file), m[1] as string));
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => join(dir, f));
}

const FILES = [...tsFiles(join(ROOT, "src")), ...tsFiles(join(ROOT, "bench")).filter((f) => !f.includes("/results/"))];
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f).filter((to) => FILES.includes(to))]));
const show = (f: string) => relative(ROOT, f);

/** Every module reachable from `start` by static imports. */
function reachable(start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const f = todo.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    todo.push(...(GRAPH.get(f) ?? []));
  }
  return seen;
}

describe("module layers", () => {
  test("the parser sees the imports (the drawing is not empty)", () => {
    expect(GRAPH.get(join(ROOT, "src/tune/sweep.ts"))).toContain(join(ROOT, "src/tune/analysis.ts"));
    expect(GRAPH.get(join(ROOT, "src/index.ts"))).toContain(join(ROOT, "src/core.ts"));
  });

  test("no import cycle in src/ or bench/", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...path.slice(path.indexOf(f)), f].map(show).join(" -> "));
        return;
      }
      state.set(f, "open");
      for (const to of GRAPH.get(f) ?? []) visit(to, [...path, f]);
      state.set(f, "done");
    };
    for (const f of FILES) visit(f, []);
    expect(cycles).toEqual([]);
  });

  test("hakmem/tune and its command line depend on no entry point", () => {
    const entries = ["src/index.ts", "src/deno.ts"].map((f) => join(ROOT, f));
    for (const start of ["src/tune/index.ts", "src/tune/cli.ts"]) {
      const reached = [...reachable(join(ROOT, start))];
      expect(reached.filter((f) => entries.includes(f)).map(show)).toEqual([]);
      expect(reached).toContain(join(ROOT, "src/config.ts"));
    }
  });

  test("docs/architecture.md names every module, in an order where each imports only modules named before it", () => {
    // The TypeScript section only: the C sections above it name src/ files in other orders.
    const page = readFileSync(join(ROOT, "docs", "architecture.md"), "utf8");
    const doc = page.slice(page.indexOf("\n## TypeScript"));
    const named = [...new Set([...doc.matchAll(/`(src\/[\w/.-]+\.ts)`/g)].map((m) => join(ROOT, m[1] as string)))];
    const modules = FILES.filter((f) => f.startsWith(join(ROOT, "src") + "/"));
    expect(named.filter((f) => !modules.includes(f)).map(show)).toEqual([]); // every module it names exists
    expect(modules.filter((f) => !named.includes(f)).map(show)).toEqual([]); // and it names them all
    const upward = named.flatMap((f, i) =>
      (GRAPH.get(f) ?? []).filter((to) => named.indexOf(to) > i).map((to) => `${show(f)} imports ${show(to)}, named after it`),
    );
    expect(upward).toEqual([]);
  });

  test("importing hakmem/tune opens no native library (HAKMEM_LIB names a missing file)", async () => {
    const script =
      'await import("./src/tune/index.ts"); const maps = require("node:fs").readFileSync("/proc/self/maps", "utf8"); ' +
      'console.log(/libhakmem/.test(maps) ? "loaded" : "not loaded");';
    const r = await run([process.execPath, "-e", script], { env: { ...baseEnv(), HAKMEM_LIB: "/nonexistent/libhakmem.so" } });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("not loaded");
    expect(r.exitCode).toBe(0);
  });
});
