import { equal, ok, throws } from "node:assert/strict";
import { barChart, checkSvg, esc, intervalChart } from "./svg.ts";

Deno.test("barChart is well-formed, escapes labels and marks missing values", () => {
  const svg = barChart({
    title: "a <b> & c",
    bars: [{ label: "x<y", value: 12.5 }, { label: "none", value: null }],
    refs: [{ value: 100, label: "target" }],
    note: "n",
  });
  checkSvg(svg);
  ok(svg.includes("a &lt;b&gt; &amp; c"));
  ok(svg.includes("x&lt;y"));
  ok(svg.includes("n/a"));
  ok(svg.includes("target"));
});

Deno.test("intervalChart is well-formed and clamps to its axis", () => {
  const svg = intervalChart({
    title: "ratios",
    rows: [{ label: "r", median: 0.95, min: 0.2, max: 3 }, {
      label: "gone",
      median: null,
      min: null,
      max: null,
    }],
    lo: 0.5,
    hi: 1.2,
    refs: [{ value: 0.97, label: "0.97" }],
  });
  checkSvg(svg);
  ok(!svg.includes("NaN"));
});

Deno.test("checkSvg rejects broken documents", () => {
  throws(() => checkSvg("<svg><g></svg>"));
  throws(() => checkSvg("<svg></svg><svg></svg>"));
  throws(() => checkSvg("<g></g>"));
  equal(esc(`"'`), "&quot;'");
});
