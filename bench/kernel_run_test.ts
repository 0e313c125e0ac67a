import { deepStrictEqual } from "node:assert/strict";
import { armsOn, chooseTool, datapathsOn } from "./kernel_run.ts";
import { armOf, DATAPATHS, TRAFFIC, trafficOn } from "./matrix.ts";
import type { Capabilities } from "./types.ts";

const caps = (fexit: boolean): Capabilities => ({
  tcx: true,
  fexit,
  fexitReason: fexit ? null : "EPERM",
  bpfStats: true,
  cpus: 2,
});

Deno.test("armsOn: where fexit loads, skb-addr also runs without its tracker", () => {
  deepStrictEqual(armsOn(["skb-addr", "skb-data"], caps(true)), [
    "skb-addr",
    "skb-data",
    "skb-addr/no-tracker",
  ]);
  deepStrictEqual(armsOn(["skb-addr", "skb-data"], caps(false)), ["skb-addr", "skb-data"]);
  deepStrictEqual(armOf("skb-addr/no-tracker"), { strategy: "skb-addr", trackers: false });
  deepStrictEqual(armOf("skb-data"), { strategy: "skb-data", trackers: true });
});

Deno.test("datapathsOn: the netkit rows only on a kernel where a netkit pair was created", () => {
  const ids = (dps: readonly { id: string }[]) => dps.map((d) => d.id);
  const without = datapathsOn(DATAPATHS, { ...caps(true), netkit: false });
  deepStrictEqual(without.skipped, ["routed-netkit-l3", "routed-netkit-l2"]);
  deepStrictEqual(ids(without.measured), ids(DATAPATHS.filter((d) => !d.netkit)));
  deepStrictEqual(datapathsOn(DATAPATHS, caps(true)).skipped.length, 2, "not probed: not measured");
  const withNk = datapathsOn(DATAPATHS, { ...caps(true), netkit: true });
  deepStrictEqual(withNk.skipped, []);
  deepStrictEqual(ids(withNk.measured), ids(DATAPATHS));
  for (const d of DATAPATHS.filter((x) => x.netkit)) deepStrictEqual(d.kind, "routed-nat");
});

Deno.test("trafficOn: the multicast clone path carries UDP only", () => {
  const flood = DATAPATHS.find((d) => d.id === "bridge-flood")!;
  deepStrictEqual(trafficOn(flood, TRAFFIC).map((t) => t.id), ["udp-prio", "udp-tai"]);
  deepStrictEqual(trafficOn(DATAPATHS[0]!, TRAFFIC).map((t) => t.id), TRAFFIC.map((t) => t.id));
});

Deno.test("chooseTool: socat may flood best, but txtime and TCP need the FFI sender", () => {
  const tools = [
    { kind: "ffi", procs: 2 },
    { kind: "ffi", procs: 1 },
    { kind: "socat", procs: 2 },
  ] as const;
  const rows = [
    { tool: "ffi sendmmsg x2", pps: 100, sent: 1, far: 1 },
    { tool: "ffi sendmmsg x1", pps: 150, sent: 1, far: 1 },
    { tool: "socat x2", pps: 300, sent: 0, far: 1 },
  ];
  const chosen = chooseTool(rows, tools);
  deepStrictEqual(chosen.tool, { kind: "ffi", procs: 1 });
  deepStrictEqual(chosen.note !== null, true);
  deepStrictEqual(chooseTool(rows.slice(0, 2), tools), {
    tool: { kind: "ffi", procs: 1 },
    note: null,
  });
});
