import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { barChart, checkSvg, esc, gateSvg, intervalChart, TC_COLORS } from "./svg.ts";

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
  throws(() => checkSvg('<svg><text font-size="12" font-size="14">x</text></svg>'), /repeats/);
  equal(esc(`"'`), "&quot;'");
});

/** The bars of a gateSvg picture: talker, bin, count, height, x, fill, in document order. */
function gateBars(svg: string) {
  return [...svg.matchAll(/<rect ([^>]*data-talker[^>]*)\/>/g)].map((m) => {
    const a = (k: string) => new RegExp(`${k}="([^"]*)"`).exec(m[1]!)![1]!;
    return {
      talker: a("data-talker"),
      bin: Number(a("data-bin")),
      count: Number(a("data-count")),
      height: Number(a("height")),
      x: Number(a("x")),
      fill: a("fill"),
    };
  });
}

Deno.test("gateSvg draws one bar per non-empty bin and talker, heights following the counts", () => {
  const windows = [
    { tc: 1, startNs: 0, endNs: 10_000 },
    { tc: 2, startNs: 10_000, endNs: 20_000 },
    { tc: 3, startNs: 20_000, endNs: 40_000 },
  ];
  const bins = (at: Record<number, number>) => Array.from({ length: 40 }, (_, i) => at[i] ?? 0);
  const arm = (label: string, a: Record<number, number>, b: Record<number, number>) => ({
    label,
    cycleNs: 40_000,
    binNs: 1_000,
    windows,
    histogram: [
      { talker: "a-prio1", priority: 1, tc: 1, bins: bins(a) },
      { talker: "b-prio2", priority: 2, tc: 2, bins: bins(b) },
    ],
    inOwnWindow: { "a-prio1": 1, "b-prio2": null },
  });
  const svg = gateSvg([
    arm("none", { 25: 10, 30: 5 }, { 25: 10 }),
    arm("skb-addr", { 2: 8, 3: 2 }, { 12: 4 }),
  ], { title: "packets per gate <test>", note: "n" });
  checkSvg(svg);
  ok(svg.includes("packets per gate &lt;test&gt;"));
  ok(svg.includes("a-prio1: 100 % in own window") && svg.includes("b-prio2: - in own window"));
  const bars = gateBars(svg);
  // Panel 1: a@25, b@25 (stacked), a@30; panel 2: a@2, a@3, b@12.
  deepStrictEqual(
    bars.map((b) => [b.talker, b.bin, b.count]),
    [
      ["a-prio1", 25, 10],
      ["b-prio2", 25, 10],
      ["a-prio1", 30, 5],
      ["a-prio1", 2, 8],
      ["a-prio1", 3, 2],
      ["b-prio2", 12, 4],
    ],
  );
  // Each panel scales to its tallest bin (panel 1: 20 at bin 25; panel 2: 8 at bin 2).
  const full = bars[3]!.height;
  ok(full > 10);
  equal(bars[0]!.height, full / 2);
  equal(bars[2]!.height, full / 4);
  equal(bars[4]!.height, full / 4);
  equal(bars[5]!.height, full / 2);
  // x follows the bin, colour the talker's class.
  ok(bars[3]!.x < bars[4]!.x && bars[4]!.x < bars[5]!.x);
  equal(bars[0]!.x, bars[1]!.x);
  equal(bars[5]!.fill, TC_COLORS[2]);
  equal([...svg.matchAll(/data-window="TC\d"/g)].length, 6);
});

Deno.test("gateSvg marks a failed arm and draws no bars for an empty one", () => {
  const svg = gateSvg([{
    label: "skb-data",
    cycleNs: 40_000,
    binNs: 1_000,
    windows: [{ tc: 3, startNs: 0, endNs: 40_000 }],
    histogram: [],
    error: "boom",
  }], { title: "t" });
  checkSvg(svg);
  ok(svg.includes("failed"));
  equal(gateBars(svg).length, 0);
});
