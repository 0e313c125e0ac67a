/**
 * VM suite, taprio: node1's NIC is a 4-queue veth with taprio (software mode, CLOCK_TAI, base-time
 * 0, 40 us cycle: 0-10 us TC1, 10-20 us TC2, 20-40 us TC3, best effort). Priority 1 maps to TC1,
 * 2 to TC2, everything else (0 included) to TC3; TC0 is unused. Pods a (priority 1) and b
 * (priority 2) opted in, pod c is best effort. The children's counters say which class each
 * packet went through (6.1's `tc -s class show` repeats the root's totals for every class).
 * Result: lab/vm/results.ts TaprioResult; checks: lab/vm/checks.ts checkTaprio.
 */
import { BIN, type Netns, run } from "@tsn-proxy/sim/netns";
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { checkTaprio } from "../../vm/checks.ts";
import { TAPRIO, TAPRIO_COUNT } from "../../vm/scenarios.ts";
import type { ProxyOut, QdiscStats, TaprioResult } from "../../vm/results.ts";
import {
  classStats,
  finish,
  GUEST_TALKER_TIMEOUT_MS,
  guestKernel,
  proxyOut,
  qdiscStats,
  talkerOut,
  tc,
  timedRun,
} from "../vm/common.ts";

/** Writes `ip`'s entry on `dev` (in `ns`) as the MAC of `peerIf` in `peerNs`: no ARP needed. */
async function resolveNeighbour(
  ns: Netns,
  dev: string,
  peerNs: Netns,
  peerIf: string,
  ip: string,
): Promise<void> {
  const out = await run(peerNs, [BIN.ip, "-j", "link", "show", peerIf]);
  const mac = (JSON.parse(out.stdout) as { address: string }[])[0]?.address;
  if (!mac) throw new Error(`no MAC for ${peerIf}: ${out.stdout}`);
  await run(ns, [BIN.ip, "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent"]);
}

const COUNT = TAPRIO_COUNT;
const TALKERS: TalkerSpec[] = [
  { pod: "a", protocol: "udp", tool: "txtime", priority: 1, count: COUNT, name: "a-prio1" },
  { pod: "b", protocol: "udp", tool: "socat", priority: 2, count: COUNT, name: "b-prio2" },
  { pod: "c", protocol: "udp", tool: "txtime", priority: 0, count: COUNT, name: "c-best-effort" },
];

const kernel = guestKernel();
const runs: TaprioResult["runs"][number][] = [];
for (const strategy of [null, "skb-addr", "skb-data"]) {
  const label = `taprio ${strategy ?? "no proxy"}`;
  runs.push(
    await timedRun(label, async () => {
      let proxy: AttachedProxy | undefined;
      let stats: ProxyOut | null = null;
      let classes: Record<string, number> = {};
      let classShow: Record<string, number> = {};
      let qdiscs: QdiscStats[] = [];
      const { rows, timings: phases } = await runScenario({
        talkerTimeoutMs: GUEST_TALKER_TIMEOUT_MS,
        kind: "bridge-nat",
        nicTxQueues: 4,
        talkers: TALKERS,
        hooks: {
          async beforeTraffic(topo) {
            await tc(topo.node.ns, ["qdisc", "replace", "dev", topo.node.nic, ...TAPRIO.args]);
            // ext's address resolved before the talkers start: socat sends its datagrams within
            // milliseconds, and under TCG the ARP exchange through the 40 us schedule took longer
            // than the records' 100 ms age bound, so every datagram queued behind it reached the
            // restorer stale (rejected_stale, never another's metadata: a demo that lost pod b).
            await resolveNeighbour(
              topo.node.ns,
              topo.node.nic,
              topo.ext.ns,
              topo.ext.ifname,
              topo.ext.ip,
            );
            if (strategy) proxy = attachProxy(topo, { strategy, optedIn: ["a", "b"] });
          },
          async afterTraffic(topo) {
            qdiscs = await qdiscStats(topo.node.ns, topo.node.nic);
            classShow = await classStats(topo.node.ns, topo.node.nic);
            classes = Object.fromEntries(
              qdiscs.filter((q) => q.parent.startsWith(`${TAPRIO.handle}:`)).map((
                q,
              ) => [q.parent, q.sentPackets]),
            );
            if (proxy) {
              stats = proxyOut(proxy.stats());
              proxy.down();
            }
          },
        },
      });
      return {
        strategy,
        rows: rows.map(talkerOut),
        phases,
        proxy: stats,
        classes,
        classShow,
        qdiscs,
      };
    }, () => ({ strategy, classes: {}, classShow: {}, qdiscs: [] })),
  );
}

const result: Omit<TaprioResult, "failures"> = {
  scenario: "vm-taprio",
  kernel,
  count: COUNT,
  runs,
};
await finish({ ...result, failures: checkTaprio(result) });
