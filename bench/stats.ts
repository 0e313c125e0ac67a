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
