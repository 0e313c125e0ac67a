import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { TAPRIO } from "@tsn-proxy/lab/scenarios";
import { checkSvg } from "./svg.ts";
import { type GateRow, ownWindowFraction, taprioSchedule, taprioTalkers } from "./taprio.ts";
import { taprioMarkdown, taprioSvg } from "./taprio_report.ts";
import { taprioFixture } from "./testing.ts";

Deno.test("taprioSchedule() reads vm-taprio's windows and map, and scales the intervals", () => {
  const s = taprioSchedule();
  equal(s.cycleNs, 40_000);
  deepStrictEqual(s.windows, [
    { tc: 1, startNs: 0, endNs: 10_000 },
    { tc: 2, startNs: 10_000, endNs: 20_000 },
    { tc: 3, startNs: 20_000, endNs: 40_000 },
  ]);
  deepStrictEqual(s.tcOfPriority.slice(0, 4), [3, 1, 2, 3]);
  deepStrictEqual(s.args, TAPRIO.args);
  const x25 = taprioSchedule(25);
  equal(x25.cycleNs, 1_000_000);
  deepStrictEqual(x25.windows[1], { tc: 2, startNs: 250_000, endNs: 500_000 });
  ok(x25.args.includes("500000") && !x25.args.includes("20000"));
  equal(x25.args.length, TAPRIO.args.length);
  throws(() => taprioSchedule(0), RangeError);
  throws(() => taprioSchedule(1.5), RangeError);
});

Deno.test("taprioTalkers() are vm-taprio's, each in the class its priority maps to", () => {
  const s = taprioSchedule();
  const talkers = taprioTalkers(7);
  deepStrictEqual(talkers.map((t) => t.name), Object.keys(TAPRIO.classOf));
  for (const t of talkers) {
    equal(t.count, 7);
    const cls = TAPRIO.classOf[t.name as keyof typeof TAPRIO.classOf];
    equal(`${TAPRIO.handle}:${s.tcOfPriority[t.priority]! + 1}`, cls, t.name);
  }
});

Deno.test("ownWindowFraction() counts the bins inside the talker's own windows only", () => {
  const { windows } = taprioSchedule();
  const row = (tc: number, at: Record<number, number>): GateRow => ({
    talker: "t",
    priority: 0,
    tc,
    bins: Array.from({ length: 40 }, (_, i) => at[i] ?? 0),
  });
  equal(ownWindowFraction(row(1, { 0: 3, 9: 1, 10: 4 }), windows, 1000), 0.5);
  equal(ownWindowFraction(row(2, { 10: 2, 19: 2 }), windows, 1000), 1);
  equal(ownWindowFraction(row(3, { 5: 1, 20: 1, 39: 2 }), windows, 1000), 0.75);
  equal(ownWindowFraction(row(0, { 5: 1 }), windows, 1000), 0); // TC0 has no window
  equal(ownWindowFraction(row(1, {}), windows, 1000), null);
  // 2 us bins: bin 4 is 8-10 us (inside TC1), bin 5 is 10-12 us (TC2).
  equal(
    ownWindowFraction(
      { ...row(1, {}), bins: [0, 0, 0, 0, 1, 1, ...Array(14).fill(0)] },
      windows,
      2000,
    ),
    0.5,
  );
});

Deno.test("taprioMarkdown() tabulates classes and in-window fractions per arm", () => {
  const md = taprioMarkdown(taprioFixture(), { svg: "taprio-6.12.svg" });
  ok(md.startsWith("### taprio: packets per gate (kernel 6.12.0-test, 40 us cycle)"));
  ok(md.includes("| arm | 100:1 (TC0) | 100:2 (TC1) | 100:4 (TC3) |"), md);
  ok(md.includes("| none | 0 | 0 | 31 |"));
  ok(md.includes("| skb-addr | 0 | 11 | 20 |"));
  ok(md.includes("| skb-data | failed: Error: boom \\| x |"));
  ok(md.includes("| a-prio1 (TC1, 0-10 us) |"));
  ok(md.includes("| none | 0 % (0 %) |"));
  ok(md.includes("| skb-addr | 99 % (0 %) |"));
  ok(md.includes("none a-prio1 9/10"));
  ok(md.includes("![packets per gate, kernel 6.12.0-test](taprio-6.12.svg)"));
});

Deno.test("taprioSvg() draws every arm's bars where the data puts them", () => {
  const svg = taprioSvg(taprioFixture());
  checkSvg(svg);
  const bars = [...svg.matchAll(/data-bin="(\d+)" data-count="(\d+)"/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  deepStrictEqual(bars, [[25, 9], [3, 9]]);
  ok(svg.includes("net_dev_start_xmit"));
});
