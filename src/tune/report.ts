/**
 * The report of a sweep, written into its output directory:
 *
 * - `report.md`: recommendations, every configuration sorted by the chosen objective, per-workload details;
 * - `runs.csv`: every run, one line each; `results.json`: the plan, the summaries, the recommendations and every run;
 * - `chart.svg`: throughput against peak RSS (Pareto front marked) and heat maps over SuperSlab size × LRU max cached;
 * - `hakmem.config.fastest.json`, `hakmem.config.smallest.json`, `hakmem.config.balanced.json`: the recommended
 *   configuration for each objective as a `HAKMEM_CONFIG` file (a flat object keyed by `HAKMEM_*` names), and
 *   `hakmem.config.json`, the same as the balanced one.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import type { ConfigSchema, FlagSpec, HakmemConfigKey, HakmemOptions } from "../config.ts";
import { PACKAGE_ROOT } from "../library.ts";
import { hardwareKey, type MachineInfo } from "../machine.ts";
import { type ConfigSummary, COUNTER_FIELDS, INTERVAL_TEXT, type Objective, OBJECTIVES, rank, type RunRecord } from "./analysis.ts";
import { formatMiB, formatOps } from "../format.ts";
import { renderChart } from "./chart.ts";
import type { Interval } from "./spread.ts";
import type { ReportFiles, SweepPlan, SweepResult } from "./types.ts";
import { valueText } from "./grid.ts";


/** The file name of an objective's recommendation. */
export const configFileName = (o: Objective) => `hakmem.config.${o}.json`;
/** The default recommendation's file (balanced). */
export const DEFAULT_CONFIG_FILE = "hakmem.config.json";

/** The recommendation for a configuration as the text of a `HAKMEM_CONFIG` file. */
export function configFileText(schema: ConfigSchema, config: ConfigSummary["config"]): string {
  return `${JSON.stringify(schema.toFlagFile(config as HakmemOptions), null, 2)}\n`;
}

/** What each objective means, for the report. */
export const OBJECTIVE_TEXT: Record<Objective, string> = {
  fastest: "highest throughput (speed score), ties to the smaller",
  smallest: "lowest peak RSS (memory score), ties to the faster",
  balanced: "highest sqrt(speed / memory): the best trade of throughput for memory, always on the Pareto front",
};

/** Keys whose value differs between configurations (the swept ones), in flag order. */
function varyingKeys(plan: SweepPlan): HakmemConfigKey[] {
  const keys = new Set<HakmemConfigKey>();
  for (const c of plan.configs) for (const k of Object.keys(c.options) as HakmemConfigKey[]) keys.add(k);
  return [...keys].filter((k) => new Set(plan.configs.map((c) => String(c.options[k]))).size > 1);
}

function fixedKeys(plan: SweepPlan): HakmemConfigKey[] {
  const vary = varyingKeys(plan);
  const keys = new Set<HakmemConfigKey>();
  for (const c of plan.configs) for (const k of Object.keys(c.options) as HakmemConfigKey[]) if (!vary.includes(k)) keys.add(k);
  return [...keys];
}

function table(header: string[], rows: string[][], alignRightFrom = 1): string {
  const align = header.map((_, i) => (i < alignRightFrom ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`).join("\n");
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const count = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "—");
/** A figure with its interval: "99.2% [97.0–100.4]". */
const withInterval = (v: number | null, i: Interval | null, f: (x: number) => string) =>
  v === null ? "—" : i === null ? f(v) : `${f(v)} [${f(i[0]).replace(/[%×]$/, "")}–${f(i[1])}]`;
const ratio3 = (v: number) => `${v.toFixed(3)}×`;
/** A median count, with its IQR when the runs differ: "5,297 [5,290–5,310]". */
const countWithIqr = (v: number, q: Interval) => (count(q[0]) === count(q[1]) ? count(v) : `${count(v)} [${count(q[0])}–${count(q[1])}]`);
/** ± half the IQR relative to the median: "±3.2%". */
const relativeSpread = (v: number, q: Interval | null) => (q === null || v === 0 ? "" : ` ±${(((q[1] - q[0]) / 2 / v) * 100).toFixed(1)}%`);
const percent1 = (v: number) => `${(v * 100).toFixed(1)}%`;
const balanced3 = (v: number) => v.toFixed(3);

/** The machines, one line: "AMD EPYC 7B13 × 2 · Linux 6.1.0" (several joined with " + "). */
function machineLine(machines: readonly MachineInfo[]): string {
  return machines.map((m) => `${hardwareKey(m)} · ${m.kernel}`).join(" + ");
}

/** A summary's score for an objective with its interval. */
function scoreText(s: ConfigSummary, o: Objective): string {
  if (o === "fastest") return `speed ${withInterval(s.speed, s.speedInterval, percent1)}`;
  if (o === "smallest") return `memory ${withInterval(s.memory, s.memoryInterval, ratio3)}`;
  return `balanced ${withInterval(s.balanced, s.balancedInterval, balanced3)}`;
}

function envName(schema: ConfigSchema, key: HakmemConfigKey): string {
  return (schema.spec(key) as FlagSpec).env;
}

function markdown(result: SweepResult, objective: Objective, schema: ConfigSchema, files: ReportFiles, outDir: string): string {
  const { plan, summaries, recommendations } = result;
  const vary = varyingKeys(plan);
  const fixed = fixedKeys(plan);
  const first = plan.configs[0];
  const workloadsWithThroughput = new Set(result.records.filter((r) => r.ok && r.throughput !== null).map((r) => r.workload));
  const lines: string[] = [];
  lines.push("# hakmem tuning report", "");
  lines.push(
    `${new Date().toISOString()} · ${machineLine(result.machines)} · ${plural(plan.configs.length, "configuration")} × ` +
      `${plural(plan.workloads.length, "workload")} × ${plural(plan.runs, "run")} = ${plural(plan.configs.length * plan.workloads.length * plan.runs, "run")}, round-robin; medians`,
    "",
  );
  if (result.mergedFrom !== null) lines.push(`Merged from ${result.mergedFrom.length} journals: ${result.mergedFrom.join("; ")}.`, "");
  if (result.machines.length > 1)
    lines.push(
      `**Warning: the shards ran on different hardware** (${result.machines.map(hardwareKey).join("; ")}); they were ranked together because ` +
        "`--allow-mixed-hardware` was given. Throughput of configurations from different machines does not compare.",
      "",
    );
  lines.push(
    `How to read the figures: every figure is a median over the runs, with its spread. Per workload the spread is the ` +
      `interquartile range of the runs (IQR, first–third quartile): in its own column, in brackets after a count (none when ` +
      `every run counted the same), or as ± half of it in the table of configurations. The scores carry ${INTERVAL_TEXT} bootstrap intervals in ` +
      `brackets (runs resampled, medians and score recomputed). A configuration is recommended only when its interval lies ` +
      `wholly on the better side of the defaults' interval; otherwise the report says "no change recommended". ★ marks the ` +
      `configuration each objective recommends; "defaults" marks the baseline (every swept flag at the library's default).`,
    "",
  );
  for (const k of vary) {
    const vals = [...new Set(plan.configs.map((c) => c.options[k]))].map((v) => valueText(schema, k, v as never));
    lines.push(`- swept \`${envName(schema, k)}\`: ${vals.join(", ")}`);
  }
  if (first) for (const k of fixed) lines.push(`- fixed \`${envName(schema, k)}\`: ${valueText(schema, k, first.options[k] as never)}`);
  lines.push("- every other flag: the library's default", "");

  lines.push("## Recommendations", "");
  const rel = (p: string) => relative(outDir, p) || p;
  lines.push(
    table(
      ["objective", "recommendation", "speed", "memory", "balanced", "file"],
      OBJECTIVES.map((o) => {
        const r = recommendations[o];
        if (r === null) return [o, "none (no configuration completed every run)", "—", "—", "—", "—"];
        const s = r.config;
        const what = r.change ? `**${s.label}** ★` : `no change recommended (defaults: ${s.label})`;
        const file = files.configs[o] === undefined ? "—" : `\`${rel(files.configs[o] as string)}\``;
        return [o, what, withInterval(s.speed, s.speedInterval, percent1), withInterval(s.memory, s.memoryInterval, ratio3), withInterval(s.balanced, s.balancedInterval, balanced3), file];
      }),
      2,
    ),
  );
  lines.push("");
  for (const o of OBJECTIVES) {
    const r = recommendations[o];
    const why = r === null ? "" : ` — ${r.reason}${r.change || r.best === r.config ? "" : ` (${r.best.label}: ${scoreText(r.best, o)}; defaults: ${scoreText(r.config, o)})`}`;
    lines.push(`- **${o}**: ${OBJECTIVE_TEXT[o]}${why}`);
  }
  lines.push(
    "",
    `\`${DEFAULT_CONFIG_FILE}\` is the balanced recommendation (the defaults, spelled out, when no change is recommended). Use a file with the preload library, ` +
      `\`HAKMEM_CONFIG=${DEFAULT_CONFIG_FILE} LD_PRELOAD=build/libhakmem_preload.so cmd\` (the environment overrides it), ` +
      `or from Bun: \`configure(loadConfig("${DEFAULT_CONFIG_FILE}"))\`.`,
    "",
    "**speed**: geometric mean over the workloads that measure throughput of the median throughput divided by the best median " +
      "of any configuration (100% = fastest everywhere; higher is better). **memory**: geometric mean over all workloads of the median peak RSS " +
      "divided by the smallest (1.000× = smallest everywhere; lower is better). **balanced**: sqrt(speed / memory), higher is better. " +
      "Only configurations whose every run succeeded are scored. The machine may be shared and noisy: that is what the intervals show.",
    "",
  );

  lines.push(`## Configurations, by ${objective}`, "");
  const ranked = rank(summaries, objective);
  const marks = new Map<string, string[]>();
  for (const o of OBJECTIVES) {
    const r = recommendations[o];
    if (r?.change) marks.set(r.config.configId, [...(marks.get(r.config.configId) ?? []), o]);
  }
  const note = (s: ConfigSummary) =>
    [s.baseline ? "defaults" : "", ...(marks.get(s.configId) ?? []).map((o) => `★ ${o}`)].filter((x) => x !== "").join(", ");
  const header = [
    "#",
    ...vary.map((k) => `\`${envName(schema, k)}\``),
    "",
    `speed [${INTERVAL_TEXT}]`,
    `memory [${INTERVAL_TEXT}]`,
    `balanced [${INTERVAL_TEXT}]`,
    "Pareto",
    ...plan.workloads.flatMap((w) => (workloadsWithThroughput.has(w.name) ? [`${w.name} throughput`, `${w.name} peak RSS`] : [`${w.name} peak RSS`])),
  ];
  const rows = ranked.map((s, i) => [
    s.complete ? String(i + 1) : "failed",
    ...vary.map((k) => valueText(schema, k, s.config[k] as never)),
    note(s),
    withInterval(s.speed, s.speedInterval, percent1),
    withInterval(s.memory, s.memoryInterval, ratio3),
    withInterval(s.balanced, s.balancedInterval, balanced3),
    s.pareto ? "yes" : "",
    ...plan.workloads.flatMap((w, wi) => {
      const ws = s.workloads[wi];
      const rss = ws && ws.runs > 0 ? `${formatMiB(ws.peakRssBytes)}${relativeSpread(ws.peakRssBytes, ws.peakRssIqr)}` : "—";
      if (!workloadsWithThroughput.has(w.name)) return [rss];
      return [ws?.throughput == null ? "—" : `${formatOps(ws.throughput)}${relativeSpread(ws.throughput, ws.throughputIqr)}`, rss];
    }),
  ]);
  lines.push(table(header, rows, 2 + vary.length), "");

  lines.push("## Workloads", "");
  for (const w of plan.workloads) {
    const program = w.argv[0] as string;
    const shown = isAbsolute(program) && !relative(PACKAGE_ROOT, program).startsWith("..") ? relative(PACKAGE_ROOT, program) : program;
    const cmd = [shown, ...w.argv.slice(1)].join(" ");
    lines.push(`- \`${w.name}\`${w.description ? `: ${w.description}` : ""} — \`${cmd}\``);
  }
  lines.push(
    "",
    "Each run is one process under build/runstat with `LD_PRELOAD=build/libhakmem_preload.so`; peak RSS and page faults are " +
      "the process's own (wait4), OS maps/unmaps/decommits and LRU hits/misses/evictions come from the statistics hakmem writes " +
      "at exit (`HAKMEM_STATS_FILE`). Medians over the runs.",
    "",
  );
  plan.workloads.forEach((w, wi) => {
    lines.push(`### ${w.name}`, "");
    const hasThr = workloadsWithThroughput.has(w.name);
    const h = [
      "configuration",
      ...(hasThr ? ["throughput", "IQR", "min–max"] : []),
      "peak RSS",
      "IQR",
      "page faults",
      "OS maps",
      "OS unmaps",
      "OS decommits",
      "LRU hits",
      "LRU misses",
      "LRU evictions",
      "runs",
    ];
    const rs = ranked.map((s) => {
      const ws = s.workloads[wi];
      const label = s.baseline ? `${s.label} (defaults)` : s.label;
      if (!ws || ws.runs === 0) return [label, ...(hasThr ? ["—", "—", "—"] : []), "—", "—", "—", "—", "—", "—", "—", "—", "—", `0 ok, ${ws?.failed ?? 0} failed`];
      return [
        label,
        ...(hasThr
          ? [
              ws.throughput === null ? "—" : formatOps(ws.throughput),
              ws.throughputIqr === null ? "—" : `${formatOps(ws.throughputIqr[0])} – ${formatOps(ws.throughputIqr[1])}`,
              ws.throughputMin === null ? "—" : `${formatOps(ws.throughputMin)} – ${formatOps(ws.throughputMax as number)}`,
            ]
          : []),
        formatMiB(ws.peakRssBytes),
        `${formatMiB(ws.peakRssIqr[0])} – ${formatMiB(ws.peakRssIqr[1])}`,
        ...COUNTER_FIELDS.map((f) => countWithIqr(ws[f], ws.countIqr[f])),
        ws.failed > 0 ? `${ws.runs} ok, ${ws.failed} failed` : String(ws.runs),
      ];
    });
    lines.push(table(h, rs), "");
  });

  if (result.failures.length > 0) {
    lines.push("## Failed runs", "");
    for (const f of result.failures) {
      lines.push(`- ${f.label} · ${f.workload} · run ${f.run}:`, "", "```", f.error ?? "", "```", "");
    }
  }
  lines.push("## Files", "");
  lines.push(
    `- \`${rel(files.journal)}\`: every run as it finished (one JSON object per line; \`--resume\` continues from it)`,
    `- \`${rel(files.csv)}\`, \`${rel(files.json)}\`: every run, and the summaries`,
    `- \`${rel(files.chart)}\`: throughput against peak RSS with the Pareto front; heat maps over SuperSlab size × LRU max cached`,
    "",
  );
  return lines.join("\n");
}

function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(result: SweepResult, schema: ConfigSchema): string {
  const keys: HakmemConfigKey[] = [];
  for (const c of result.plan.configs) for (const k of Object.keys(c.options) as HakmemConfigKey[]) if (!keys.includes(k)) keys.push(k);
  const header = [
    "config_id",
    "label",
    ...keys.map((k) => envName(schema, k)),
    "workload",
    "run",
    "ok",
    "throughput_ops_s",
    "peak_rss_bytes",
    "page_faults",
    "wall_s",
    "os_maps",
    "os_unmaps",
    "os_decommits",
    "lru_hits",
    "lru_misses",
    "lru_evicts",
    "finished_at",
    "error",
  ];
  const rows = result.records.map((r: RunRecord) => [
    r.configId,
    r.label,
    ...keys.map((k) => (r.config[k] === undefined ? "" : valueText(schema, k, r.config[k] as never))),
    r.workload,
    r.run,
    r.ok,
    r.throughput,
    r.peakRssBytes,
    r.pageFaults,
    r.wallSeconds,
    r.osMaps,
    r.osUnmaps,
    r.osDecommits,
    r.lruHits,
    r.lruMisses,
    r.lruEvicts,
    r.finishedAt,
    r.error ?? "",
  ]);
  return `${[header, ...rows].map((row) => row.map(csvCell).join(",")).join("\n")}\n`;
}

/** Writes every report file of a sweep into `outDir` (which holds its journal, runs.jsonl). */
export function writeReport(outDir: string, result: SweepResult, objective: Objective, schema: ConfigSchema): ReportFiles {
  const files: ReportFiles = {
    journal: join(outDir, "runs.jsonl"),
    markdown: join(outDir, "report.md"),
    csv: join(outDir, "runs.csv"),
    json: join(outDir, "results.json"),
    chart: join(outDir, "chart.svg"),
    configs: {},
    config: null,
  };
  for (const o of OBJECTIVES) {
    const r = result.recommendations[o];
    if (r === null) continue;
    const path = join(outDir, configFileName(o));
    writeFileSync(path, configFileText(schema, r.config.config));
    files.configs[o] = path;
  }
  const balanced = result.recommendations.balanced;
  if (balanced !== null) {
    files.config = join(outDir, DEFAULT_CONFIG_FILE);
    writeFileSync(files.config, configFileText(schema, balanced.config.config));
  }
  const workloads = result.plan.workloads.map((w) => ({
    name: w.name,
    throughput: result.records.some((r) => r.workload === w.name && r.ok && r.throughput !== null),
  }));
  const { plan } = result;
  writeFileSync(
    files.chart,
    renderChart({
      title: "hakmem tuning: SuperSlab size and LRU limits",
      subtitle: `${plural(plan.configs.length, "configuration")} × ${plural(plan.workloads.length, "workload")} (${plan.workloads.map((w) => w.name).join(", ")}) × ${plural(plan.runs, "run")}, medians · ${machineLine(result.machines)} · ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
      summaries: result.summaries,
      workloads,
      recommendations: result.recommendations,
    }),
  );
  writeFileSync(files.csv, csv(result, schema));
  const json = {
    generatedAt: new Date().toISOString(),
    machines: result.machines,
    mergedFrom: result.mergedFrom,
    objective,
    runs: plan.runs,
    workloads: plan.workloads.map((w) => ({ name: w.name, argv: w.argv, description: w.description ?? null })),
    configs: plan.configs,
    summaries: result.summaries,
    pareto: result.summaries.filter((s) => s.pareto).map((s) => s.configId),
    recommendations: Object.fromEntries(
      OBJECTIVES.map((o) => {
        const r = result.recommendations[o];
        if (r === null) return [o, null];
        const s = r.config;
        return [o, { change: r.change, reason: r.reason, configId: s.configId, label: s.label, best: r.best.configId, file: configFileName(o), flags: schema.toFlagFile(s.config as HakmemOptions) }];
      }),
    ),
    failures: result.failures.length,
    records: result.records,
  };
  writeFileSync(files.json, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(files.markdown, markdown(result, objective, schema, files, outDir));
  return files;
}
