/**
 * Small order statistics for benchmark samples: median and spread, never a mean of noisy runs.
 *
 * @module
 */

/** Median, min, max and the interquartile range of a sample. */
export interface Summary {
  /** Number of samples. */
  n: number;
  /** The median. */
  median: number;
  /** Smallest sample. */
  min: number;
  /** Largest sample. */
  max: number;
  /** 25th percentile (linear interpolation). */
  p25: number;
  /** 75th percentile (linear interpolation). */
  p75: number;
}

/** The q-quantile (0..1) of sorted values, linearly interpolated. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Summary of values (NaN fields for an empty sample). */
export function summarize(values: readonly number[]): Summary {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s.length ? s[0]! : NaN,
    max: s.length ? s[s.length - 1]! : NaN,
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
  };
}

/** A latency sample's summary with its 99th percentile (linear interpolation). */
export interface Latency extends Summary {
  p99: number;
}

/**
 * {@link summarize} plus the 99th percentile, every field rounded to 0.1 (ms tables).
 *
 * @example
 * ```ts
 * import { latency } from "./stats.ts";
 * latency([1, 2, 3]).p99; // 3 (2.98 rounded)
 * ```
 */
export function latency(values: readonly number[]): Latency {
  const s = summarize(values);
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return {
    n: s.n,
    median: round(s.median),
    min: round(s.min),
    max: round(s.max),
    p25: round(s.p25),
    p75: round(s.p75),
    p99: round(quantile(sorted, 0.99)),
  };
}

/** Rounds to `digits` decimals (keeps JSON and tables short). */
export function round(v: number, digits = 1): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Rotation of `arms` for round `i`, so every arm runs first, second, ... equally often and slow
 * drift (thermal, other tenants) does not favour one arm.
 */
export function rotation<T>(arms: readonly T[], i: number): T[] {
  if (arms.length === 0) return [];
  const k = ((i % arms.length) + arms.length) % arms.length;
  return [...arms.slice(k), ...arms.slice(0, k)];
}

/** Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.160,
  2.145,
  2.131,
  2.120,
  2.110,
  2.101,
  2.093,
  2.086,
  2.080,
  2.074,
  2.069,
  2.064,
  2.060,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom: the table up to 30, beyond it
 * the Cornish-Fisher expansion around the normal quantile (error < 1e-4 from 31 on).
 *
 * @example
 * ```ts
 * import { t975 } from "./stats.ts";
 * t975(9); // 2.262
 * ```
 */
export function t975(df: number): number {
  if (!Number.isInteger(df) || df < 1) return NaN;
  if (df <= T975.length) return T975[df - 1]!;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2) +
    (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3);
}

/** The smallest n whose 95 % interval 2·t975(n−1)·s/√n is at most `target` wide. */
function roundsFor(s: number, target: number): number {
  if (s === 0) return 2;
  // The normal quantile gives a lower bound (t975 > 1.96); from there up to the first n that fits.
  let n = Math.max(2, Math.ceil((2 * 1.959964 * s / target) ** 2));
  while (2 * t975(n - 1) * s / Math.sqrt(n) > target) n++;
  return n;
}

/** A 95 % confidence interval of a paired ratio (strategy / baseline of the same round). */
export interface RatioInterval {
  /** Rounds (finite, positive ratios). */
  n: number;
  /** Geometric mean of the ratios: the interval's centre. */
  mean: number;
  /** Lower and upper end of the 95 % interval. */
  lower: number;
  upper: number;
  /** upper − lower, in ratio units (0.02 = 2 % of a ratio of 1). */
  width: number;
  /**
   * Rounds that would make the interval `target` wide at the same spread: the smallest n with
   * 2·t975(n−1)·sd·mean/√n <= target (sd of the log ratios); never fewer than the rounds run.
   */
  roundsForTarget: number;
  /** The width aimed at. */
  target: number;
}

/**
 * 95 % confidence interval of paired ratios: Student's t on their logarithms (a ratio's error is
 * multiplicative: 0.5 and 2 are equally far from 1), mapped back. Fewer than 2 rounds: NaN ends.
 *
 * @example
 * ```ts
 * import { ratioInterval } from "./stats.ts";
 * const ci = ratioInterval([0.98, 0.99, 1.0, 0.985, 0.995]);
 * ci.lower >= 0.97 && ci.width < 0.02; // true: the rate is at least 0.97x, decided
 * ```
 */
export function ratioInterval(ratios: readonly number[], target = 0.02): RatioInterval {
  const logs = ratios.filter((r) => Number.isFinite(r) && r > 0).map(Math.log);
  const n = logs.length;
  const m = n ? logs.reduce((a, b) => a + b, 0) / n : NaN;
  const sd = n > 1 ? Math.sqrt(logs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1)) : NaN;
  const half = t975(n - 1) * sd / Math.sqrt(n);
  const lower = Math.exp(m - half), upper = Math.exp(m + half);
  const width = upper - lower;
  return {
    n,
    mean: Math.exp(m),
    lower,
    upper,
    width,
    roundsForTarget: Number.isFinite(width)
      ? Math.max(n, roundsFor(sd * Math.exp(m), target))
      : NaN,
    target,
  };
}
