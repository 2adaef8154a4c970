/**
 * How the toolkit writes numbers for people: bytes, counts, rates, times, ratios. One module, so that a figure reads
 * the same in the CLI, the benchmark reports and the tuning report.
 *
 * @module
 */

/** Three significant digits, at least two decimals below 10: 123, 12.3, 1.23, 0.0123. */
export function threeDigits(v: number): string {
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1 || a === 0) return v.toFixed(2);
  return String(Number(v.toPrecision(3)));
}

/** Bytes with a binary unit and one decimal: "512 B", "1.5 KiB", "23.5 MiB", "2.0 GiB". */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (Math.abs(bytes) < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = -1;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A size as benchmark names write it, exact: "16 B", "4 KiB", "1 MiB" (bytes when no unit divides it). */
export function formatExactSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** Bytes in MiB with three significant digits: "21.4 MiB", "3.89 MiB". */
export function formatMiB(bytes: number): string {
  return `${threeDigits(bytes / (1024 * 1024))} MiB`;
}

/** Operations per second: "12.3 M ops/s", "456 K ops/s". */
export function formatOps(opsPerSecond: number): string {
  if (opsPerSecond >= 1e6) return `${threeDigits(opsPerSecond / 1e6)} M ops/s`;
  if (opsPerSecond >= 1e3) return `${threeDigits(opsPerSecond / 1e3)} K ops/s`;
  return `${threeDigits(opsPerSecond)} ops/s`;
}

/** A whole number with thousands separators: "1,000,000". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A signed percentage with one decimal: "+5.5%", "-0.3%". */
export function formatPercent(pct: number): string {
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

/** value / reference as "1.23x"; "n/a" without a reference. */
export function formatRatio(value: number, reference: number | undefined): string {
  if (reference === undefined || reference === 0 || !Number.isFinite(value)) return "n/a";
  return `${(value / reference).toFixed(2)}x`;
}

/** Nanoseconds with three significant digits and a unit: "19.0 ns", "4.54 µs", "1.30 ms". */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return "n/a";
  if (ns >= 1e9) return `${(ns / 1e9).toPrecision(3)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toPrecision(3)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${ns.toPrecision(3)} ns`;
}

/** A duration: "45s", "2m05s", "1h03m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
