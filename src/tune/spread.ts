/**
 * How far a figure can be trusted: quartiles of a handful of runs, and a bootstrap interval for a statistic of
 * several such samples. The bootstrap uses a seeded generator, so the same records always give the same interval
 * (a sweep run whole and the same sweep run in shards and merged report the same figures).
 *
 * @module
 */

/** A range [low, high] around a figure. */
export type Interval = readonly [low: number, high: number];

/** The q-quantile (0..1) of sorted values, linearly interpolated between order statistics. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of nothing");
  return quantileSorted([...values].sort((a, b) => a - b), 0.5);
}

/** The interquartile range [first quartile, third quartile]; NaNs for no values. */
export function iqr(values: readonly number[]): Interval {
  const s = [...values].sort((a, b) => a - b);
  return [quantileSorted(s, 0.25), quantileSorted(s, 0.75)];
}

/** A small seeded generator (mulberry32): uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit hash of a string (FNV-1a), to seed the bootstrap of one configuration. */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Resamples of the bootstrap; 90% intervals from 1,000 resamples move by well under a percent between seeds. */
export const BOOTSTRAP_RESAMPLES = 1000;
/** Coverage of the bootstrap intervals. */
export const BOOTSTRAP_COVERAGE = 0.9;

/**
 * Percentile bootstrap interval of `statistic` over several samples: each resample draws every sample anew (with
 * replacement, same size) and evaluates the statistic on the medians of the resampled samples. With `coverage`
 * 0.9 the interval holds the middle 90% of the resampled statistics.
 */
export function bootstrapOfMedians(
  samples: readonly (readonly number[])[],
  statistic: (medians: readonly number[]) => number,
  seed: number,
  resamples = BOOTSTRAP_RESAMPLES,
  coverage = BOOTSTRAP_COVERAGE,
): Interval {
  const random = seededRandom(seed);
  const stats: number[] = [];
  const scratch: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const medians = samples.map((sample) => {
      scratch.length = 0;
      for (let i = 0; i < sample.length; i++) scratch.push(sample[Math.floor(random() * sample.length)] as number);
      scratch.sort((x, y) => x - y);
      return quantileSorted(scratch, 0.5);
    });
    stats.push(statistic(medians));
  }
  stats.sort((x, y) => x - y);
  const tail = (1 - coverage) / 2;
  return [quantileSorted(stats, tail), quantileSorted(stats, 1 - tail)];
}
