/**
 * Writes src/stats-fields.ts from csrc/include/hakmem_stats_fields.h, the one list of hakmem's statistics:
 * `bun csrc/tools/gen-stats-fields.ts`. tests/stats_fields.test.ts checks that the file is current.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const HEADER = fileURLToPath(new URL("../include/hakmem_stats_fields.h", import.meta.url));
export const OUTPUT = fileURLToPath(new URL("../../src/stats-fields.ts", import.meta.url));

export interface StatsFieldEntry {
  name: string;
  source: "COUNTER" | "SUMMED";
  description: string;
}

/** The X(name, source, "description") entries of HAK_STATS_FIELDS, in order. */
export function parseStatsFields(header: string): StatsFieldEntry[] {
  const start = header.indexOf("#define HAK_STATS_FIELDS(X)");
  if (start < 0) throw new Error("no HAK_STATS_FIELDS(X) list in the header");
  const lines = header.slice(start).split("\n");
  const last = lines.findIndex((line) => !line.trimEnd().endsWith("\\"));
  const body = lines.slice(0, last + 1).join("\n"); // the macro: its continued lines and the one after
  const entries: StatsFieldEntry[] = [];
  const entry = /X\(\s*([a-z_][a-z0-9_]*)\s*,\s*(COUNTER|SUMMED)\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)/g;
  for (const m of body.matchAll(entry)) {
    entries.push({ name: m[1]!, source: m[2] as StatsFieldEntry["source"], description: m[3]! });
  }
  const names = new Set(entries.map((e) => e.name));
  if (entries.length === 0 || names.size !== entries.length) throw new Error("HAK_STATS_FIELDS: empty, or a name twice");
  return entries;
}

/** The text of src/stats-fields.ts for these entries. */
export function renderStatsFields(entries: readonly StatsFieldEntry[]): string {
  const lines = [
    "// Written by `bun csrc/tools/gen-stats-fields.ts` from csrc/include/hakmem_stats_fields.h: edit that list, then",
    "// run it (tests/stats_fields.test.ts fails while this file is out of date).",
    "",
    "/**",
    " * The fields of `struct hak_stats` after its leading `size`, in struct order (every one a `uint64_t`). Also the keys",
    " * of `hak_stats_json()`, in the same order.",
    " */",
    "export const STATS_FIELDS = [",
    ...entries.map((e) => `  ${JSON.stringify(e.name)},`),
    "] as const;",
    "",
    "/** A field name of `struct hak_stats` (snake_case, as in C and in `hak_stats_json()`). */",
    "export type StatsField = (typeof STATS_FIELDS)[number];",
    "",
    "/** What each field counts, as the C list says. */",
    "export const STATS_FIELD_DESCRIPTIONS: { readonly [K in StatsField]: string } = {",
    ...entries.map((e) => `  ${e.name}: ${JSON.stringify(e.description)},`),
    "};",
    "",
    "/**",
    " * A snapshot of hakmem's counters, from `hak_stats()`: every value a number (counters and bytes stay far below",
    " * 2^53), summed over all threads when read. A library newer than these bindings may add fields (present at run",
    " * time, not in this type).",
    " */",
    "export interface HakmemStats {",
    ...entries.flatMap((e) => [`  /** ${e.description.replace(/\*\//g, "* /")} */`, `  readonly ${e.name}: number;`]),
    "}",
    "",
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  writeFileSync(OUTPUT, renderStatsFields(parseStatsFields(readFileSync(HEADER, "utf8"))));
  console.log(`wrote ${OUTPUT}`);
}
