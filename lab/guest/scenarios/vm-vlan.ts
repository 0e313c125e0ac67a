/**
 * VM suite, VLAN: node1 reaches the far end through `nic0.100` (8021q, VLAN 100, egress-qos-map
 * 0:0 .. 7:7), so vlan_dev_hard_start_xmit() writes skb->priority into the tag's PCP. A tc
 * ingress counter on the far side's port (ext0, lab/bpf/vlan_pcp.bpf.c) reads the PCP off the
 * wire. Runs: no proxy; the restorer on nic0.100 (skb-addr, skb-data), where the PCP comes out
 * right; and the restorer on nic0 only, below the VLAN device: the priority is restored after the
 * tag was written.
 * Result: lab/vm/results.ts VlanResult; checks: lab/vm/checks.ts checkVlan.
 */
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { BIN, exec, run } from "@tsn-proxy/sim";
import { fromBpftoolBytes } from "@tsn-proxy/sim/observer_codec";
import { runScenario, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { ensureClsact } from "@tsn-proxy/sim/tc";
import type { Topology } from "@tsn-proxy/sim/topology";
import { GUEST_SHARE } from "../../share.ts";
import { checkVlan } from "../../vm/checks.ts";
import { VLAN, VLAN_COUNT } from "../../vm/scenarios.ts";
import type { ProxyOut, VlanResult } from "../../vm/results.ts";
import {
  finish,
  GUEST_TALKER_TIMEOUT_MS,
  guestKernel,
  proxyOut,
  talkerOut,
  timedRun,
} from "../vm/common.ts";
import { addVlan } from "../vm/vlan.ts";

const COUNT = VLAN_COUNT;
const TALKERS: TalkerSpec[] = [
  {
    pod: "a",
    protocol: "udp",
    tool: "txtime",
    clock: "tai",
    priority: 5,
    count: COUNT,
    name: "a-tai",
  },
  { pod: "b", protocol: "udp", tool: "socat", priority: 3, count: COUNT, name: "b-socat" },
  {
    pod: "c",
    protocol: "udp",
    tool: "txtime",
    clock: "tai",
    priority: 6,
    count: COUNT,
    name: "c-optout",
  },
];

/** Loads the PCP counter and attaches it to ext0's ingress; returns its map pin. */
async function addPcpCounter(topo: Topology): Promise<string> {
  const dir = `${topo.bpffsDir}/pcp`;
  await Deno.mkdir(dir, { recursive: true });
  await exec([
    BIN.bpftool,
    "prog",
    "loadall",
    `${GUEST_SHARE}/obj/vlan_pcp.bpf.o`,
    `${dir}/prog`,
    "pinmaps",
    `${dir}/maps`,
  ]);
  await ensureClsact(topo.ext.ns, "ext0");
  await run(topo.ext.ns, [
    BIN.tc,
    "filter",
    "add",
    "dev",
    "ext0",
    "ingress",
    "pref",
    "10",
    "bpf",
    "direct-action",
    "pinned",
    `${dir}/prog/vlan_pcp`,
  ]);
  return `${dir}/maps/pcp_counts`;
}

/** port → (PCP label → frames): "5" for VLAN 100 PCP 5, "untagged", "vid7/5" for another VLAN. */
async function readPcp(pin: string): Promise<Map<number, Record<string, number>>> {
  const out = await exec([BIN.bpftool, "-j", "map", "dump", "pinned", pin]);
  const rows = JSON.parse(out.stdout) as Array<{ key: string[]; value: string[] }>;
  const byPort = new Map<number, Record<string, number>>();
  for (const r of rows) {
    const k = fromBpftoolBytes(r.key);
    const v = fromBpftoolBytes(r.value);
    const kv = new DataView(k.buffer);
    const port = kv.getUint16(0, true);
    const vid = kv.getUint16(2, true);
    const pcp = kv.getUint8(4);
    const label = vid === 0xffff ? "untagged" : vid === VLAN.id ? `${pcp}` : `vid${vid}/${pcp}`;
    const m = byPort.get(port) ?? {};
    m[label] = (m[label] ?? 0) + Number(new DataView(v.buffer).getBigUint64(0, true));
    byPort.set(port, m);
  }
  return byPort;
}

const kernel = guestKernel();
const runs: VlanResult["runs"][number][] = [];
/** [strategy, the interface the restorer is on]. */
const arms: [string | null, string | null][] = [
  [null, null],
  ["skb-addr", VLAN.dev],
  ["skb-data", VLAN.dev],
  ["skb-addr", "nic0"],
];
for (const [strategy, restoreOn] of arms) {
  const label = strategy ? `vlan ${strategy} restorer@${restoreOn}` : "vlan no proxy";
  runs.push(
    await timedRun(label, async () => {
      let proxy: AttachedProxy | undefined;
      let stats: ProxyOut | null = null;
      let pin = "";
      const pcp: Record<string, Record<string, number>> = {};
      const { rows, timings: phases } = await runScenario({
        talkerTimeoutMs: GUEST_TALKER_TIMEOUT_MS,
        kind: "bridge-nat",
        talkers: TALKERS,
        hooks: {
          async beforeTraffic(topo) {
            await addVlan(topo, VLAN.dev);
            pin = await addPcpCounter(topo);
            if (strategy && restoreOn) {
              proxy = attachProxy(topo, { strategy, optedIn: ["a", "b"], restoreOn: [restoreOn] });
            }
          },
          async afterTraffic(_topo, ctx) {
            const byPort = await readPcp(pin);
            for (const t of ctx.talkers) pcp[t.name] = byPort.get(t.port) ?? {};
            if (proxy) {
              stats = proxyOut(proxy.stats());
              proxy.down();
            }
          },
        },
      });
      return {
        strategy,
        restoreOn,
        rows: rows.map(talkerOut),
        phases,
        proxy: stats,
        pcp,
      };
    }, () => ({ strategy, restoreOn, pcp: {} })),
  );
}

const result: Omit<VlanResult, "failures"> = { scenario: "vm-vlan", kernel, count: COUNT, runs };
await finish({ ...result, failures: checkVlan(result) });
