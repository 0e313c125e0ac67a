/**
 * A pod cannot take what it was not given, through the real chain (Debian's bridge + host-local,
 * then the built tsn-proxy plugin and agent), with talkers that set both SO_PRIORITY and a
 * SCM_TXTIME on every datagram:
 *
 * - a pod that did not opt in (annotation "false") sends priority 4 with TAI txtimes: the NIC sees
 *   priority 0, and the datapath's counters do not move for it (no save, no restore of a priority
 *   or a tstamp; every packet is a `missed` lookup). On 6.18 the kernel itself keeps the TAI txtime
 *   across the veth, so "txtime intact" is the kernel's doing, and the counters prove tsn-proxy
 *   restored nothing (kernels before 6.11, where the txtime is cleared: the kernel lab);
 * - opted-in pods above their namespace's maximum are clamped and counted, exactly one count per
 *   packet, their txtimes untouched: namespace `capped` (max 2) sends 6, a namespace the policy does
 *   not list falls under `defaultMaxPriority` 0 and sends 4; a namespace with `unlimited` keeps 5.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { type DatapathStats, readStats } from "@tsn-proxy/bpf/datapath";
import { agentHttp } from "@tsn-proxy/sim/cni_fixture";
import { type BenchPod, CniBench, recorded, since } from "./fault_fixture.ts";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const COUNT = 200;

type Counters = DatapathStats["counters"];

function delta(a: Counters, b: Counters): Record<keyof Counters, number> {
  const out = {} as Record<keyof Counters, number>;
  for (const k of Object.keys(a) as (keyof Counters)[]) out[k] = Number(b[k] - a[k]);
  return out;
}

Deno.test("through the CNI chain: no opt-in, no restore (priority and txtime); the policy clamps and counts", async () => {
  requireKernelTests();
  const t0 = performance.now();
  const bench = await CniBench.create({
    policy: { defaultMaxPriority: 0, namespaces: { capped: 2, cell: "unlimited" } },
  });
  try {
    await bench.startAgent();
    const stateFile = join(bench.node.stateDir, "datapath.json");
    const counters = () => readStats(stateFile).counters;
    const p = await bench.pod("plain", { optIn: false, namespace: "cell" });
    const c = await bench.pod("capped", { optIn: true, namespace: "capped" });
    const a = await bench.pod("cell", { optIn: true, namespace: "cell" });
    const d = await bench.pod("other", { optIn: true, namespace: "elsewhere" });
    for (const pod of [p, c, a, d]) await bench.add(pod);
    equal(recorded(bench.node).savers.length, 3, "savers for the three opted-in pods only");

    const measure = async (pod: BenchPod, priority: number, expect: number) => {
      const before = counters();
      const [s] = await bench.traffic([{ pod, priority, expect, clock: "tai", count: COUNT }]);
      return { s: s!, d: delta(before, counters()) };
    };

    // The pod that did not opt in: nothing saved, nothing restored, priority 0 at the NIC.
    const plain = await measure(p, 4, 4);
    equal(plain.s.packets, COUNT);
    equal(plain.s.prioRight + plain.s.prioWrong, 0, "a priority reached the NIC");
    equal(plain.s.prioZero, COUNT);
    equal(plain.d.saved, 0, "its packets were saved");
    equal(plain.d.restored, 0, "a record was applied to its packets");
    equal(plain.d.restoredTstamp, 0, "a txtime was restored on its packets");
    equal(plain.d.tstampKept, 0);
    ok(plain.d.missed >= COUNT, `every one of its packets is a miss (${plain.d.missed})`);
    equal(plain.s.txtimeWrong + plain.s.typeWrong + plain.s.tstampInvented, 0);

    // Opted in, namespace max 2: 6 becomes 2, counted once per packet, txtime untouched.
    const capped = await measure(c, 6, 2);
    equal(capped.s.prioRight, COUNT, "clamped to the namespace's maximum");
    equal(capped.d.saveClamped, COUNT, "one clamp count per packet");
    equal(capped.d.restored, COUNT);
    equal(capped.s.txtimeRight, COUNT, "txtime (value and TAI clock) untouched by the clamp");

    // Opted in, a namespace the policy does not list: defaultMaxPriority 0.
    const other = await measure(d, 4, 0);
    equal(other.s.prioRight, COUNT, "clamped to defaultMaxPriority 0");
    equal(other.d.saveClamped, COUNT);
    equal(other.s.txtimeRight, COUNT);

    // Opted in, unlimited: nothing clamped.
    const cell = await measure(a, 5, 5);
    equal(cell.s.prioRight, COUNT);
    equal(cell.d.saveClamped, 0);

    const metrics = (await agentHttp(bench.node, "/metrics")).body;
    for (
      const line of [
        'tsnproxy_policy_clamps_total{namespace="capped"} 1',
        'tsnproxy_policy_clamps_total{namespace="elsewhere"} 1',
        `tsnproxy_priority_clamped_packets_total ${2 * COUNT}`,
        // The plugin never asked the agent about the pod that did not opt in.
        'tsnproxy_cni_requests_total{command="ADD",result="ok"} 3',
      ]
    ) ok(metrics.includes(line), `missing ${line}`);
    ok(!metrics.includes('tsnproxy_policy_clamps_total{namespace="cell"}'), "cell is unlimited");
    console.log(
      `opt-in/policy through the chain: not opted in: ${plain.s.prioZero}/${COUNT} priority 0, ` +
        `saved ${plain.d.saved}, restored ${plain.d.restored}, tstamp restored ` +
        `${plain.d.restoredTstamp}, missed ${plain.d.missed}; capped 6->2 ${capped.s.prioRight}/` +
        `${COUNT} (clamp count ${capped.d.saveClamped}, txtime right ${capped.s.txtimeRight}); ` +
        `default 4->0 ${other.s.prioRight}/${COUNT}; unlimited 5 ${cell.s.prioRight}/${COUNT}; ` +
        `${since(t0)} ms`,
    );
  } finally {
    await bench.destroy();
  }
});
