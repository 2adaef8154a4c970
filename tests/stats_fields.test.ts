// The statistics field list: one C list (csrc/include/hakmem_stats_fields.h) from which the struct, the JSON and
// src/stats-fields.ts come. This checks the generated TypeScript is current and agrees with the loaded library.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { HEADER, OUTPUT, parseStatsFields, renderStatsFields } from "../csrc/tools/gen-stats-fields.ts";
import { STATS_FIELDS, STATS_FIELD_DESCRIPTIONS } from "../src/stats.ts";

describe("statistics field list", () => {
  const entries = parseStatsFields(readFileSync(HEADER, "utf8"));

  test("src/stats-fields.ts is what csrc/tools/gen-stats-fields.ts writes from the C list (run it after editing the list)", () => {
    expect(readFileSync(OUTPUT, "utf8")).toBe(renderStatsFields(entries));
  });

  test("the TypeScript list is the C list, in order, each with its description", () => {
    expect<string[]>([...STATS_FIELDS]).toEqual(entries.map((e) => e.name));
    for (const e of entries) expect(STATS_FIELD_DESCRIPTIONS[e.name as keyof typeof STATS_FIELD_DESCRIPTIONS]).toBe(e.description);
  });

  test("the parser reads every entry and refuses a list that names a field twice", () => {
    const text = '#define HAK_STATS_FIELDS(X) \\\n  X(a, COUNTER, "one") \\\n  X(b, SUMMED, "two \\"quoted\\"")\nint after;\n';
    expect(parseStatsFields(text)).toEqual([
      { name: "a", source: "COUNTER", description: "one" },
      { name: "b", source: "SUMMED", description: 'two \\"quoted\\"' },
    ]);
    expect(() => parseStatsFields(text.replace("X(b", "X(a"))).toThrow();
    expect(() => parseStatsFields("no list here")).toThrow();
  });
});
