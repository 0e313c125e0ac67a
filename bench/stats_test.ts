import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { latency, quantile, rotation, round, summarize } from "./stats.ts";

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
