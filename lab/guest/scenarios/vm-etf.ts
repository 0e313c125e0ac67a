/**
 * VM suite, mqprio + etf: node1's NIC is a 4-queue veth with mqprio (hw 0, num_tc 2, priority 3 →
 * TC1 on queue 1, everything else TC0 on queue 0) and etf on queue 1 (CLOCK_TAI, skip_sock_check
 * because forwarded packets have no socket, delta 450 ms: a TCG guest's softirqs run late on a
 * busy host). Pod a sends SCM_TXTIME on CLOCK_TAI 500 ms ahead with priority 3 (opted in); pod c
 * sends untimed packets through queue 0. Without the proxy a tc u32 + skbedit filter (pref 50, after a restorer, before
 * the observer) steers a's packets to etf's queue, as the lost priority no longer does; with the
 * proxy nothing steers: the restored priority does.
 * Result: lab/vm/results.ts EtfResult; checks: lab/vm/checks.ts checkEtf.
 */
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { checkEtf } from "../../vm/checks.ts";
import { ETF, ETF_COUNT } from "../../vm/scenarios.ts";
import type { EtfResult, ProxyOut, QdiscStats } from "../../vm/results.ts";
import {
  finish,
  GUEST_TALKER_TIMEOUT_MS,
  guestKernel,
  proxyOut,
  qdiscStats,
  talkerOut,
  tc,
  timedRun,
} from "../vm/common.ts";

const COUNT = ETF_COUNT;
const TALKERS: TalkerSpec[] = [
  {
    pod: "a",
    protocol: "udp",
    tool: "txtime",
    clock: "tai",
    priority: ETF.priority,
    count: COUNT,
    aheadUs: ETF.aheadUs,
    name: "a-tai",
  },
  { pod: "c", protocol: "udp", tool: "txtime", priority: 0, count: COUNT, name: "c-untimed" },
];

const kernel = guestKernel();
const runs: EtfResult["runs"][number][] = [];
const arms: [string | null, boolean][] = [[null, true], ["skb-addr", false], ["skb-data", false]];
for (const [strategy, steer] of arms) {
  const label = `etf ${strategy ?? "no proxy"}${steer ? " +steer" : ""}`;
  runs.push(
    await timedRun(label, async () => {
      let proxy: AttachedProxy | undefined;
      let stats: ProxyOut | null = null;
      let qdiscs: QdiscStats[] = [];
      const { rows, timings: phases } = await runScenario({
        talkerTimeoutMs: GUEST_TALKER_TIMEOUT_MS,
        kind: "bridge-nat",
        nicTxQueues: 4,
        talkers: TALKERS,
        // One talker at a time: a Deno starting next to the timed talker starves the guest's
        // softirqs, and etf drops what it dequeues after its txtime.
        sequential: true,
        hooks: {
          async beforeTraffic(topo, ctx) {
            const nic = topo.node.nic;
            await tc(topo.node.ns, ["qdisc", "replace", "dev", nic, ...ETF.mqprio]);
            await tc(topo.node.ns, ["qdisc", "replace", "dev", nic, ...ETF.etf]);
            const timed = ctx.talkers.find((t) => t.name === "a-tai");
            if (!timed) throw new Error("no timed talker");
            if (steer) {
              await tc(topo.node.ns, [
                "filter",
                "add",
                "dev",
                nic,
                "egress",
                "pref",
                "50",
                "protocol",
                "ip",
                "u32",
                "match",
                "ip",
                "protocol",
                "17",
                "0xff",
                "match",
                "ip",
                "dport",
                String(timed.port),
                "0xffff",
                "action",
                "skbedit",
                "priority",
                String(ETF.priority),
                // Not the default "pipe": a match would end the chain before the observer.
                "continue",
              ]);
            }
            if (strategy) proxy = attachProxy(topo, { strategy, optedIn: ["a"] });
          },
          async afterTraffic(topo) {
            qdiscs = await qdiscStats(topo.node.ns, topo.node.nic);
            if (proxy) {
              stats = proxyOut(proxy.stats());
              proxy.down();
            }
          },
        },
      });
      const etf = qdiscs.find((q) => q.kind === "etf") ?? null;
      return { strategy, steer, rows: rows.map(talkerOut), phases, proxy: stats, etf, qdiscs };
    }, () => ({ strategy, steer, etf: null, qdiscs: [] })),
  );
}

const result: Omit<EtfResult, "failures"> = {
  scenario: "vm-etf",
  kernel,
  count: COUNT,
  aheadUs: ETF.aheadUs,
  deltaNs: ETF.deltaNs,
  runs,
};
await finish({ ...result, failures: checkEtf(result) });
