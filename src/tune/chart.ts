/**
 * The sweep's chart as one self-contained SVG (no scripts, no external fonts or images): throughput against peak
 * RSS with the Pareto front and the recommendations marked, and heat maps of throughput over SuperSlab size × LRU
 * max cached (all workloads together, then each workload).
 *
 * @module
 */
import { formatSize, type HakmemConfigKey } from "../config.ts";
import { type ConfigSummary, INTERVAL_TEXT, type Objective, type Recommendation } from "./analysis.ts";
import { threeDigits } from "../format.ts";
import type { Interval } from "./spread.ts";

/** What the chart needs. */
export interface ChartInput {
  title: string;
  subtitle: string;
  summaries: readonly ConfigSummary[];
  /** Workload names in order, and whether each measures throughput. */
  workloads: readonly { name: string; throughput: boolean }[];
  recommendations: Readonly<Record<Objective, Recommendation | null>>;
}

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";
const WIDTH = 1240;
const INK = "#1f2328";
const MUTED = "#6e7781";
const GRID = "#d0d7de";
const FRONT = "#d1495b";
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const r1 = (n: number) => Math.round(n * 10) / 10;

function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${r1(x)}" y="${r1(y)}" ${attrs}>${esc(s)}</text>`;
}

/** Approximate rendered width of a string at a font size (DejaVu Sans averages about 0.6 em per character). */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.6;
}

function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Viridis at t in [0, 1]. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const a = hexToRgb(VIRIDIS[i] as string);
  const b = hexToRgb(VIRIDIS[i + 1] as string);
  const f = x - i;
  const c = a.map((v, k) => Math.round(v + ((b[k] as number) - v) * f));
  return `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/** "Nice" tick values covering [lo, hi], and the decimals that tell neighbouring ticks apart. */
export function ticks(lo: number, hi: number, count = 5): { values: number[]; decimals: number } {
  if (!(hi > lo)) return { values: [lo], decimals: 2 };
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const values: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
  // enough decimals for the step (2.5 needs one more than 2)
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (Number((step / mag).toFixed(1)) % 1 === 0 ? 0 : 1));
  return { values, decimals };
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** The scatter of throughput against peak RSS; returns SVG elements. */
function scatter(input: ChartInput, x0: number, y0: number, w: number, h: number): string {
  const out: string[] = [];
  const scored = input.summaries.filter((s) => s.complete);
  const single = input.workloads.length === 1 ? input.workloads[0] : undefined;
  const raw = single !== undefined && single.throughput;
  const hasSpeed = input.workloads.some((wl) => wl.throughput);
  out.push(text(x0, y0 + 16, "Throughput against peak RSS", `font-size="16" font-weight="bold" fill="${INK}"`));
  const sub = raw
    ? `${single.name}: median of the runs, bars: interquartile range; up and to the left is better`
    : `geometric means over the workloads, relative to the best configuration, bars: ${INTERVAL_TEXT} bootstrap intervals; up and to the left is better`;
  out.push(text(x0, y0 + 34, sub, `font-size="11.5" fill="${MUTED}"`));
  const left = x0 + 64;
  const top = y0 + 52;
  const right = x0 + w - 16;
  const bottom = y0 + h - 66;
  if (scored.length === 0 || !hasSpeed) {
    const why = scored.length === 0 ? "no configuration completed every run" : "no workload measures throughput";
    out.push(text((left + right) / 2, (top + bottom) / 2, why, `font-size="14" text-anchor="middle" fill="${MUTED}"`));
    return out.join("\n");
  }
  const xs = scored.map((s) => (raw ? (s.workloads[0]?.peakRssBytes ?? 0) / 1048576 : (s.memory as number)));
  const ys = scored.map((s) => (raw ? (s.workloads[0]?.throughput ?? 0) / 1e6 : (s.speed as number) * 100));
  // the spread of each point: the runs' IQR for one workload, the scores' bootstrap intervals otherwise
  const xBars = scored.map((s, i): Interval => {
    const iv = raw ? s.workloads[0]?.peakRssIqr.map((v) => v / 1048576) : s.memoryInterval;
    return iv ? [iv[0] as number, iv[1] as number] : [xs[i] as number, xs[i] as number];
  });
  const yBars = scored.map((s, i): Interval => {
    const iv = raw ? s.workloads[0]?.throughputIqr?.map((v) => v / 1e6) : s.speedInterval?.map((v) => v * 100);
    return iv ? [iv[0] as number, iv[1] as number] : [ys[i] as number, ys[i] as number];
  });
  const pad = (lo: number, hi: number) => {
    const span = hi - lo || Math.abs(hi) * 0.1 || 1;
    return [lo - span * 0.08, hi + span * 0.08] as const;
  };
  const [xLo, xHi] = pad(Math.min(...xs, ...xBars.map((b) => b[0])), Math.max(...xs, ...xBars.map((b) => b[1])));
  const [yLo, yHi] = pad(Math.min(...ys, ...yBars.map((b) => b[0])), Math.max(...ys, ...yBars.map((b) => b[1])));
  const px = (v: number) => left + ((v - xLo) / (xHi - xLo)) * (right - left);
  const py = (v: number) => bottom - ((v - yLo) / (yHi - yLo)) * (bottom - top);

  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="#ffffff" stroke="${GRID}"/>`);
  const xt = ticks(xLo, xHi, 6);
  for (const t of xt.values) {
    if (t < xLo || t > xHi) continue;
    out.push(`<line x1="${r1(px(t))}" y1="${top}" x2="${r1(px(t))}" y2="${bottom}" stroke="${GRID}" stroke-width="0.6"/>`);
    out.push(text(px(t), bottom + 15, `${t.toFixed(xt.decimals)}${raw ? "" : "×"}`, `font-size="11" text-anchor="middle" fill="${MUTED}"`));
  }
  const yt = ticks(yLo, yHi, 6);
  for (const t of yt.values) {
    if (t < yLo || t > yHi) continue;
    out.push(`<line x1="${left}" y1="${r1(py(t))}" x2="${right}" y2="${r1(py(t))}" stroke="${GRID}" stroke-width="0.6"/>`);
    out.push(text(left - 6, py(t) + 4, `${t.toFixed(yt.decimals)}${raw ? "" : "%"}`, `font-size="11" text-anchor="end" fill="${MUTED}"`));
  }
  // spread bars under the points
  scored.forEach((_, i) => {
    const [x, y] = [px(xs[i] as number), py(ys[i] as number)];
    const [xb, yb] = [xBars[i] as Interval, yBars[i] as Interval];
    out.push(`<line x1="${r1(px(xb[0]))}" y1="${r1(y)}" x2="${r1(px(xb[1]))}" y2="${r1(y)}" stroke="#8c959f" stroke-width="1"/>`);
    out.push(`<line x1="${r1(x)}" y1="${r1(py(yb[0]))}" x2="${r1(x)}" y2="${r1(py(yb[1]))}" stroke="#8c959f" stroke-width="1"/>`);
  });
  const xTitle = raw ? "peak RSS (MiB)" : "peak RSS relative to the smallest configuration";
  const yTitle = raw ? "throughput (M ops/s)" : "throughput relative to the fastest";
  out.push(text((left + right) / 2, bottom + 34, xTitle, `font-size="12" text-anchor="middle" fill="${INK}"`));
  out.push(
    `<text transform="translate(${x0 + 14} ${(top + bottom) / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="${INK}">${esc(yTitle)}</text>`,
  );

  // Pareto front, as the staircase of what is attainable
  const front = scored.map((s, i) => ({ s, i })).filter(({ s }) => s.pareto);
  front.sort((a, b) => (xs[a.i] as number) - (xs[b.i] as number));
  if (front.length > 0) {
    const pts: string[] = [];
    front.forEach(({ i }, k) => {
      const x = px(xs[i] as number);
      const y = py(ys[i] as number);
      if (k > 0) pts.push(`${r1(x)},${r1(py(ys[(front[k - 1] as { i: number }).i] as number))}`);
      pts.push(`${r1(x)},${r1(y)}`);
    });
    const last = front[front.length - 1] as { i: number };
    pts.push(`${right},${r1(py(ys[last.i] as number))}`);
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${FRONT}" stroke-width="1.6" stroke-dasharray="5 3"/>`);
  }

  // ★ marks a configuration recommended over the defaults; the defaults are labelled as such
  const tags = new Map<string, string[]>();
  for (const [o, r] of Object.entries(input.recommendations) as [Objective, Recommendation | null][]) {
    if (r?.change) tags.set(r.config.configId, [...(tags.get(r.config.configId) ?? []), `★ ${o}`]);
  }
  for (const s of scored) if (s.baseline) tags.set(s.configId, ["defaults", ...(tags.get(s.configId) ?? [])]);
  // dominated points first, so that the front is drawn on top
  const order = scored.map((_, i) => i).sort((a, b) => Number((scored[a] as ConfigSummary).pareto) - Number((scored[b] as ConfigSummary).pareto));
  const placed: Box[] = [];
  for (const i of order) {
    const s = scored[i] as ConfigSummary;
    const x = px(xs[i] as number);
    const y = py(ys[i] as number);
    placed.push({ x: x - 5, y: y - 5, w: 10, h: 10 });
    const hover = `${s.label}: ${raw ? `${threeDigits(ys[i] as number)} M ops/s, ${threeDigits(xs[i] as number)} MiB` : `speed ${threeDigits(ys[i] as number)}%, memory ${(xs[i] as number).toFixed(3)}×`}`;
    if (s.pareto) {
      out.push(`<circle cx="${r1(x)}" cy="${r1(y)}" r="5.5" fill="${FRONT}" stroke="#ffffff" stroke-width="1.2"><title>${esc(hover)}</title></circle>`);
    } else {
      out.push(`<circle cx="${r1(x)}" cy="${r1(y)}" r="4" fill="#8c959f" fill-opacity="0.75"><title>${esc(hover)}</title></circle>`);
    }
    const t = tags.get(s.configId);
    if (t) out.push(`<circle cx="${r1(x)}" cy="${r1(y)}" r="10" fill="none" stroke="${INK}" stroke-width="1.5"/>`);
  }
  // labels: the front and the recommendations, placed greedily where they do not collide
  const important = (i: number) => (scored[i] as ConfigSummary).pareto || tags.has((scored[i] as ConfigSummary).configId);
  // the front and the recommendations always; the others too when there are few, where they fit
  const labelled = [...order.filter(important).reverse(), ...(scored.length <= 12 ? order.filter((i) => !important(i)) : [])];
  for (const i of labelled) {
    const minor = !important(i);
    const s = scored[i] as ConfigSummary;
    const t = tags.get(s.configId);
    const lines = t ? [s.label, t.join(", ")] : [s.label];
    const size = 11;
    const bw = Math.max(...lines.map((l) => textWidth(l, size))) + 4;
    const bh = lines.length * 13 + 2;
    const x = px(xs[i] as number);
    const y = py(ys[i] as number);
    const candidates: Box[] = [
      { x: x + 12, y: y - bh / 2, w: bw, h: bh },
      { x: x - 12 - bw, y: y - bh / 2, w: bw, h: bh },
      { x: x - bw / 2, y: y - 14 - bh, w: bw, h: bh },
      { x: x - bw / 2, y: y + 14, w: bw, h: bh },
      { x: x + 12, y: y - bh - 6, w: bw, h: bh },
      { x: x + 12, y: y + 6, w: bw, h: bh },
      { x: x - 12 - bw, y: y - bh - 6, w: bw, h: bh },
      { x: x - 12 - bw, y: y + 6, w: bw, h: bh },
    ];
    const inside = (b: Box) => b.x >= left + 2 && b.x + b.w <= right - 2 && b.y >= top + 2 && b.y + b.h <= bottom - 2;
    const free = candidates.find((b) => inside(b) && !placed.some((p) => overlaps(p, b)));
    if (minor && free === undefined) continue;
    const box = free ?? candidates.find(inside) ?? (candidates[0] as Box);
    placed.push(box);
    out.push(`<rect x="${r1(box.x)}" y="${r1(box.y)}" width="${r1(bw)}" height="${bh}" rx="3" fill="#ffffff" fill-opacity="0.85"/>`);
    lines.forEach((l, k) => {
      const weight = k === 1 ? ` font-weight="bold"` : "";
      const colour = minor ? MUTED : k === 1 ? INK : FRONT;
      out.push(text(box.x + 2, box.y + 11 + k * 13, l, `font-size="${size}" fill="${colour}"${weight}`));
    });
  }
  // legend, under the axis title where no point can hide it
  const ly = bottom + 56;
  let lx = left;
  out.push(`<circle cx="${lx + 5}" cy="${ly - 4}" r="5.5" fill="${FRONT}"/>`);
  out.push(`<line x1="${lx + 13}" y1="${ly - 4}" x2="${lx + 31}" y2="${ly - 4}" stroke="${FRONT}" stroke-width="1.6" stroke-dasharray="5 3"/>`);
  out.push(text(lx + 37, ly, "Pareto front (no configuration is both faster and smaller)", `font-size="11" fill="${INK}"`));
  lx += 37 + textWidth("Pareto front (no configuration is both faster and smaller)", 11) + 18;
  out.push(`<circle cx="${lx + 4}" cy="${ly - 4}" r="4" fill="#8c959f"/>`);
  out.push(text(lx + 14, ly, "dominated", `font-size="11" fill="${INK}"`));
  lx += 14 + textWidth("dominated", 11) + 18;
  if (tags.size > 0) {
    out.push(`<circle cx="${lx + 8}" cy="${ly - 4}" r="8" fill="none" stroke="${INK}" stroke-width="1.5"/>`);
    out.push(text(lx + 22, ly, "★ recommended over the defaults · \"defaults\": the baseline", `font-size="11" fill="${INK}"`));
  }
  return out.join("\n");
}

/** Heat map axis values: the values of a key across configurations, sorted; undefined when the key is not set. */
function axisValues(summaries: readonly ConfigSummary[], key: HakmemConfigKey): (number | undefined)[] {
  const vals = new Set<number | undefined>();
  for (const s of summaries) vals.add(s.config[key] as number | undefined);
  return [...vals].sort((a, b) => (a ?? -1) - (b ?? -1));
}

interface HeatPanel {
  title: string;
  unit: string;
  value: (s: ConfigSummary) => number | null;
  /** The spread of the value (IQR of the runs or the score's bootstrap interval), in the value's unit. */
  spread: (s: ConfigSummary) => Interval | null;
  format: (v: number) => string;
  /** Which end of the scale is good: it gets the light colour and the outlined cell. */
  better: "higher" | "lower";
}

/** Heat map panel height for a number of rows. */
const heatHeight = (rows: number, cell: number) => 66 + rows * cell + 64;

function heatmap(input: ChartInput, panel: HeatPanel, x0: number, y0: number, w: number, cellH: number): string {
  const out: string[] = [];
  const cols = axisValues(input.summaries, "superslabSize");
  const rows = axisValues(input.summaries, "lruMaxCached");
  const otherVary = input.summaries.some((s) =>
    Object.keys(s.config).some(
      (k) => k !== "superslabSize" && k !== "lruMaxCached" && input.summaries.some((t) => t.config[k as HakmemConfigKey] !== s.config[k as HakmemConfigKey]),
    ),
  );
  out.push(text(x0, y0 + 14, panel.title, `font-size="14" font-weight="bold" fill="${INK}"`));
  out.push(text(x0, y0 + 29, panel.unit, `font-size="11" fill="${MUTED}"`));
  const better = panel.better === "higher" ? "higher is better" : "lower is better";
  out.push(text(x0, y0 + 42, `${better}${otherVary ? "; best of the other swept flags" : ""}`, `font-size="11" fill="${MUTED}"`));
  const left = x0 + 58;
  const top = y0 + 52;
  const cellW = Math.min(90, (w - 64) / cols.length);
  // values per cell: the best configuration in it, with its spread
  const cellOf = (rv: number | undefined, cv: number | undefined) => {
    let best: { v: number; spread: Interval | null; baseline: boolean } | null = null;
    for (const s of input.summaries) {
      if (s.config.superslabSize !== cv || s.config.lruMaxCached !== rv || !s.complete) continue;
      const v = panel.value(s);
      if (v !== null && (best === null || (panel.better === "higher" ? v > best.v : v < best.v))) best = { v, spread: panel.spread(s), baseline: s.baseline };
    }
    return best;
  };
  const cells = rows.map((rv) => cols.map((cv) => cellOf(rv, cv)));
  const filled = cells.flat().filter((c) => c !== null);
  const all = filled.map((c) => c.v);
  let lo = all.length > 0 ? Math.min(...all) : 0;
  let hi = all.length > 0 ? Math.max(...all) : 1;
  // The colour range spans at least the typical spread of one cell (the median width of the cells' spreads), so
  // that differences the runs cannot tell apart do not get the whole range of colours.
  const widths = filled.map((c) => (c.spread === null ? 0 : c.spread[1] - c.spread[0])).sort((a, b) => a - b);
  const typical = widths.length > 0 ? (widths[widths.length >> 1] as number) : 0;
  const widened = hi - lo < typical;
  if (widened) {
    const mid = (lo + hi) / 2;
    lo = mid - typical / 2;
    hi = mid + typical / 2;
  }
  const up = panel.better === "higher";
  const t = (v: number) => (hi > lo ? (up ? v - lo : hi - v) / (hi - lo) : 1);
  rows.forEach((rv, r) => {
    out.push(text(left - 6, top + r * cellH + cellH / 2 + 4, rv === undefined ? "default" : String(rv), `font-size="11" text-anchor="end" fill="${INK}"`));
    cols.forEach((_, c) => {
      const cell = cells[r]?.[c] ?? null;
      const x = left + c * cellW;
      const y = top + r * cellH;
      if (cell === null) {
        out.push(`<rect x="${r1(x)}" y="${y}" width="${r1(cellW - 2)}" height="${cellH - 2}" fill="#eaeef2"/>`);
        out.push(text(x + cellW / 2 - 1, y + cellH / 2 + 4, "—", `font-size="11" text-anchor="middle" fill="${MUTED}"`));
        return;
      }
      const v = cell.v;
      const tv = t(v);
      const isBest = v === (up ? Math.max(...all) : Math.min(...all)) && all.length > 1;
      const spread = cell.spread === null ? "" : ` ±${panel.format((cell.spread[1] - cell.spread[0]) / 2).replace(/[%×]$/, "")}`;
      const hover = `${panel.format(v)}${cell.spread === null ? "" : ` (spread ${panel.format(cell.spread[0])} – ${panel.format(cell.spread[1])})`}${cell.baseline ? ", the defaults" : ""}`;
      out.push(
        `<rect x="${r1(x)}" y="${y}" width="${r1(cellW - 2)}" height="${cellH - 2}" fill="${viridis(tv)}"${isBest ? ` stroke="${INK}" stroke-width="2.5"` : cell.baseline ? ` stroke="${INK}" stroke-width="1.5" stroke-dasharray="4 2"` : ""}><title>${esc(hover)}</title></rect>`,
      );
      out.push(text(x + cellW / 2 - 1, y + cellH / 2 + 4, `${panel.format(v)}${spread}`, `font-size="10.5" text-anchor="middle" fill="${tv > 0.62 ? INK : "#ffffff"}"${isBest ? ` font-weight="bold"` : ""}`));
    });
  });
  cols.forEach((cv, c) => {
    out.push(text(left + c * cellW + cellW / 2 - 1, top + rows.length * cellH + 13, cv === undefined ? "default" : formatSize(cv), `font-size="11" text-anchor="middle" fill="${INK}"`));
  });
  const gridRight = left + cols.length * cellW;
  out.push(text((left + gridRight) / 2, top + rows.length * cellH + 29, "SuperSlab size (HAKMEM_SS_SIZE)", `font-size="11" text-anchor="middle" fill="${MUTED}"`));
  out.push(
    `<text transform="translate(${x0 + 12} ${top + (rows.length * cellH) / 2}) rotate(-90)" font-size="11" text-anchor="middle" fill="${MUTED}">LRU max cached</text>`,
  );
  // colour scale: values grow to the right; the light end is the better one
  if (all.length > 0) {
    const by = top + rows.length * cellH + 40;
    const bw = Math.min(160, gridRight - left);
    out.push(`<rect x="${left}" y="${by}" width="${r1(bw)}" height="8" fill="url(#${up ? "viridis" : "viridis-reversed"})"/>`);
    out.push(text(left, by + 20, panel.format(lo), `font-size="10" fill="${MUTED}"`));
    out.push(text(left + bw, by + 20, panel.format(hi), `font-size="10" text-anchor="end" fill="${MUTED}"`));
    const note = `${up ? "better →" : "← better"}${widened ? " · range widened to the spread of one cell" : ""}`;
    out.push(text(left + bw + 8, by + 8, note, `font-size="10" fill="${MUTED}"`));
  }
  return out.join("\n");
}

/** Renders the chart. */
export function renderChart(input: ChartInput): string {
  const body: string[] = [];
  body.push(text(24, 34, input.title, `font-size="20" font-weight="bold" fill="${INK}"`));
  body.push(text(24, 54, input.subtitle, `font-size="12" fill="${MUTED}"`));

  const rows = axisValues(input.summaries, "lruMaxCached").length;
  const cols = axisValues(input.summaries, "superslabSize").length;
  const throughputWorkloads = input.workloads.filter((w) => w.throughput);
  const scatterW = 700;
  const scatterH = 500;
  const y1 = 72;
  body.push(scatter(input, 24, y1, scatterW, scatterH));

  const panels: HeatPanel[] = [];
  if (throughputWorkloads.length > 1)
    panels.push({
      title: "All workloads: throughput",
      unit: `% of the fastest configuration, geometric mean over the workloads ± half the ${INTERVAL_TEXT} interval`,
      value: (s) => (s.speed === null ? null : s.speed * 100),
      spread: (s) => (s.speedInterval === null ? null : [s.speedInterval[0] * 100, s.speedInterval[1] * 100]),
      format: (v) => `${v.toFixed(1)}%`,
      better: "higher",
    });
  for (const w of throughputWorkloads) {
    const i = input.workloads.indexOf(w);
    panels.push({
      title: `${w.name}: throughput`,
      unit: "M ops/s, median of the runs ± half the interquartile range",
      value: (s) => {
        const t = s.workloads[i]?.throughput;
        return t === null || t === undefined ? null : t / 1e6;
      },
      spread: (s) => {
        const q = s.workloads[i]?.throughputIqr;
        return q ? [q[0] / 1e6, q[1] / 1e6] : null;
      },
      format: (v) => threeDigits(v),
      better: "higher",
    });
  }
  if (input.workloads.length > 1)
    panels.push({
      title: "All workloads: peak RSS",
      unit: `× the smallest, geometric mean of the workloads ± half the ${INTERVAL_TEXT} interval`,
      value: (s) => s.memory,
      spread: (s) => s.memoryInterval,
      format: (v) => `${v.toFixed(2)}×`,
      better: "lower",
    });
  else
    panels.push({
      title: `${input.workloads[0]?.name ?? ""}: peak RSS`,
      unit: "MiB, median of the runs ± half the interquartile range",
      value: (s) => (s.workloads[0] && s.workloads[0].runs > 0 ? s.workloads[0].peakRssBytes / 1048576 : null),
      spread: (s) => (s.workloads[0] && s.workloads[0].runs > 0 ? [s.workloads[0].peakRssIqr[0] / 1048576, s.workloads[0].peakRssIqr[1] / 1048576] : null),
      format: (v) => threeDigits(v),
      better: "lower",
    });

  const cellH = Math.max(30, Math.min(46, 300 / Math.max(rows, 1)));
  const firstW = WIDTH - scatterW - 24 - 40;
  const firstX = 24 + scatterW + 28;
  const panelH = heatHeight(rows, cellH);
  // panels go down the right of the scatter while they fit beside it, then in rows under it
  const side = y1 + scatterH;
  let y = y1 + 8;
  let k = 0;
  for (; k < panels.length && (k === 0 || y + panelH <= side); k++) {
    body.push(heatmap(input, panels[k] as HeatPanel, firstX, y, firstW, cellH));
    y += panelH + 10;
  }
  let height = Math.max(side + 20, y);
  const rest = panels.slice(k);
  const perRow = Math.max(1, Math.min(4, Math.floor((WIDTH - 48) / Math.max(250, cols * 56 + 70))));
  const restW = (WIDTH - 48) / perRow;
  rest.forEach((p, j) => {
    const x = 24 + (j % perRow) * restW;
    const py = height + 10 + Math.floor(j / perRow) * (panelH + 10);
    body.push(heatmap(input, p, x, py, restW - 16, cellH));
  });
  if (rest.length > 0) height += 10 + Math.ceil(rest.length / perRow) * (panelH + 10);
  height += 10;

  const stops = VIRIDIS.map((c, i) => `<stop offset="${(i / (VIRIDIS.length - 1)).toFixed(3)}" stop-color="${c}"/>`).join("");
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${Math.ceil(height)}" viewBox="0 0 ${WIDTH} ${Math.ceil(height)}" font-family="${FONT}">`,
    `<title>${esc(input.title)}</title>`,
    `<defs><linearGradient id="viridis" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient><linearGradient id="viridis-reversed" x1="1" x2="0" y1="0" y2="0">${stops}</linearGradient></defs>`,
    `<rect width="100%" height="100%" fill="#f6f8fa"/>`,
    body.join("\n"),
    `</svg>`,
    "",
  ].join("\n");
}
