import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { latency, quantile, ratioInterval, rotation, round, summarize, t975 } from "./stats.ts";

Deno.test("summarize gives median, extremes and quartiles, ignoring non-finite samples", () => {
  const s = summarize([5, 1, 3, NaN, 2, 4]);
  deepStrictEqual(s, { n: 5, median: 3, min: 1, max: 5, p25: 2, p75: 4 });
  equal(summarize([1, 2]).median, 1.5);
  ok(Number.isNaN(summarize([]).median));
});

Deno.test("quantile interpolates linearly", () => {
  equal(quantile([0, 10], 0.25), 2.5);
  equal(quantile([7], 0.9), 7);
});

Deno.test("rotation puts every arm first once per cycle", () => {
  const arms = ["none", "a", "b"];
  deepStrictEqual(rotation(arms, 0), ["none", "a", "b"]);
  deepStrictEqual(rotation(arms, 1), ["a", "b", "none"]);
  deepStrictEqual(rotation(arms, 2), ["b", "none", "a"]);
  deepStrictEqual(rotation(arms, 3), arms);
  deepStrictEqual(rotation([], 4), []);
});

Deno.test("round keeps non-finite values", () => {
  equal(round(1.2345, 2), 1.23);
  ok(Number.isNaN(round(NaN)));
});

Deno.test("latency adds the 99th percentile and rounds to 0.1", () => {
  const v = Array.from({ length: 101 }, (_, i) => i + 0.04);
  const l = latency(v);
  equal(l.p99, 99);
  equal(l.median, 50);
  equal(l.n, 101);
  equal(latency([1, 2, 3]).p99, 3);
});

Deno.test("t975 follows the table and the expansion joins it", () => {
  equal(t975(1), 12.706);
  equal(t975(9), 2.262);
  ok(Math.abs(t975(40) - 2.021) < 5e-4, String(t975(40)));
  ok(Math.abs(t975(120) - 1.980) < 5e-4, String(t975(120)));
  ok(t975(31) < t975(30) && t975(31) > 2.03, "monotone across the join");
  ok(Number.isNaN(t975(0)));
});

Deno.test("ratioInterval: t interval of the log ratios, width and rounds for a 2 % interval", () => {
  // Logs ±0.01 around 0: mean 1, sd 0.01 (n = 4: 0.0109545), t(3) = 3.182.
  const r = [Math.exp(0.01), Math.exp(-0.01), Math.exp(0.01), Math.exp(-0.01)];
  const ci = ratioInterval(r);
  const half = 3.182 * Math.sqrt(4 * 0.0001 / 3) / 2;
  equal(ci.n, 4);
  ok(Math.abs(ci.mean - 1) < 1e-12);
  ok(Math.abs(ci.lower - Math.exp(-half)) < 1e-12 && Math.abs(ci.upper - Math.exp(half)) < 1e-12);
  ok(ci.width > 0.02, "four noisy rounds are not enough");
  // sd 0.0109545: 2·t975(n−1)·sd/√n is 0.0230 at n = 6, 0.0203 at 7, 0.0183 at 8.
  equal(ci.roundsForTarget, 8);
  const tight = ratioInterval([0.99, 0.991, 0.989, 0.99, 0.992, 0.988]);
  ok(tight.lower > 0.97 && tight.width < 0.02 && tight.roundsForTarget === 6);
  const one = ratioInterval([0.95]);
  ok(Number.isNaN(one.lower) && Number.isNaN(one.roundsForTarget), "one round: no interval");
  equal(ratioInterval([0.9, NaN, -1, 0.95]).n, 2, "non-finite and non-positive ratios dropped");
});
