import { deepEqual, equal, match, ok } from "node:assert/strict";
import { bridgeConflist, demoPrefix } from "./demo.ts";
import { type DemoCell, type DemoResult, formatDemo, txtimeKeptByKernel } from "./demo_format.ts";

const cell = (packets: number, prioRight: number, txtimeRight = 0): DemoCell => ({
  packets,
  prioRight,
  prioZero: packets - prioRight,
  prioWrong: 0,
  txtimeRight,
  txtimeMissing: 0,
  txtimeWrong: 0,
  received: packets,
});

function result(): DemoResult {
  return {
    strategy: "skb-addr",
    kernel: "6.1.0-56-amd64",
    txtimeKeptByKernel: false,
    packetsPerPod: 10,
    pods: [
      {
        pod: "tsa-prio1",
        priority: 1,
        clock: "tai",
        optIn: true,
        without: { ...cell(10, 0, 0), txtimeMissing: 10 },
        with: cell(10, 10, 10),
        addMs: { bridge: 21.4, "tsn-proxy": 118.7 },
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
    chains: { without: ["bridge"], with: ["bridge", "tsn-proxy"] },
    trackers: [{ program: "tsn_track_clone", state: "unavailable", reason: "EPERM: refused" }],
    restorers: [{ ifname: "nic0", mode: "tcx" }],
  };
}

Deno.test("formatDemo() shows lost and restored priorities and txtimes side by side", () => {
  const text = formatDemo(result());
  match(
    text,
    /tsa-prio1 +SO_PRIORITY 1, TAI txtime +prio 0 on all 10 \(lost\), txtime intact 0\/10 \(10 lost\) +prio 1 on all 10, txtime intact 10\/10/,
  );
  match(text, /best-effort \(not opted in\) +SO_PRIORITY 0 +prio 0 on all 10 +prio 0 on all 10/);
  match(text, /saved 10, restored 10, missed 3/);
  match(
    text,
    /CNI chain: bridge, then bridge \+ tsn-proxy \(entry placed .*\); .*bridge 21 ms, tsn-proxy 119 ms/,
  );
  match(text, /restorer on nic0 \(tcx\), tracker tsn_track_clone refused \(EPERM\)/);
  match(text, /kernel 6\.1\.0-56-amd64: clears TAI txtimes .* the proxy restores them/);
  ok(text.split("\n").every((l) => l === l.trimEnd()), "no trailing blanks");
});

Deno.test("formatDemo() flags wrong priorities, wrong txtimes and partial restores", () => {
  const r = result();
  const bad: DemoCell = { ...cell(10, 7, 9), prioZero: 2, prioWrong: 1, txtimeWrong: 1 };
  const text = formatDemo({ ...r, pods: [{ ...r.pods[0]!, with: bad }] });
  match(text, /prio 1 on 7\/10, 0 on 2, 1 WRONG, txtime intact 9\/10, 1 txtime WRONG/);
  match(formatDemo({ ...r, pods: [{ ...r.pods[0]!, with: cell(0, 0) }] }), /nothing reached/);
});

Deno.test("txtimeKeptByKernel() draws the line at 6.11", () => {
  equal(txtimeKeptByKernel("6.1.0-56-amd64"), false);
  equal(txtimeKeptByKernel("6.10.3"), false);
  equal(txtimeKeptByKernel("6.11.0"), true);
  equal(txtimeKeptByKernel("6.18.44-fc"), true);
  equal(txtimeKeptByKernel("7.0"), true);
});

Deno.test("bridgeConflist() is Debian's bridge with host-local IPAM in the given dir", () => {
  const list = bridgeConflist("/tmp/x/ipam");
  deepEqual(list.plugins.map((p) => p.type), ["bridge"]);
  deepEqual((list.plugins[0]!.ipam as Record<string, unknown>).dataDir, "/tmp/x/ipam");
  match(demoPrefix(), /^tsndemo[0-9a-f]{4}$/);
});
