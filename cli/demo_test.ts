import { equal, match } from "node:assert/strict";
import { type DemoResult, formatDemo, txtimeKeptByKernel } from "./demo.ts";

const cell = (packets: number, prioRight: number, txtimeRight = 0) => ({
  packets,
  prioRight,
  prioZero: packets - prioRight,
  prioWrong: 0,
  txtimeRight,
});

Deno.test("formatDemo() shows lost and restored priorities side by side", () => {
  const r: DemoResult = {
    strategy: "skb-addr",
    packetsPerPod: 10,
    pods: [
      {
        pod: "tsa-prio1",
        priority: 1,
        clock: "tai",
        optIn: true,
        without: cell(10, 0, 10),
        with: cell(10, 10, 10),
      },
      {
        pod: "best-effort",
        priority: 0,
        clock: "none",
        optIn: false,
        without: cell(10, 10),
        with: cell(10, 10),
      },
    ],
    counters: {
      saved: "10",
      restored: "10",
      missed: "3",
      rejectedFingerprint: "0",
      rejectedStale: "0",
    },
  };
  const text = formatDemo(r);
  match(
    text,
    /tsa-prio1 +SO_PRIORITY 1, TAI txtime +prio 0 on all 10 \(lost\), txtime intact 10\/10 +prio 1 on all 10, txtime intact 10\/10/,
  );
  match(text, /best-effort \(not opted in\) +SO_PRIORITY 0 +prio 0 on all 10 +prio 0 on all 10/);
  match(text, /saved 10, restored 10, missed 3/);
});

Deno.test("txtimeKeptByKernel() draws the line at 6.11", () => {
  equal(txtimeKeptByKernel("6.1.0-56-amd64"), false);
  equal(txtimeKeptByKernel("6.10.3"), false);
  equal(txtimeKeptByKernel("6.11.0"), true);
  equal(txtimeKeptByKernel("6.18.44-fc"), true);
  equal(txtimeKeptByKernel("7.0"), true);
});
