/**
 * VM suite, the clone path: topology bridge-flood (nic0 is a port of the pods' bridge), talkers
 * send to a multicast group, and br_flood() hands every port, nic0 included, a clone of the
 * packet: the sk_buff at the NIC is not the one the saver keyed. skb-addr with the fexit/skb_clone
 * tracker, skb-addr with the tracker left out (same loader, the strategy's tracker list emptied:
 * e2e/proxy.ts `trackers: false`), and skb-data (clones share skb->data).
 * Result: lab/vm/results.ts CloneResult; checks: lab/vm/checks.ts checkClone.
 */
import { type AttachedProxy, attachProxy } from "../../../e2e/proxy.ts";
import { runScenario, type TalkerSpec } from "../../../e2e/scenario.ts";
import { checkClone, CLONE_COUNT } from "../../vm/checks.ts";
import type { CloneResult, ProxyOut } from "../../vm/results.ts";
import { finish, guestKernel, proxyOut, talkerOut, timedRun } from "../vm/common.ts";

const COUNT = CLONE_COUNT;

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
  { pod: "b", protocol: "udp", tool: "socat", priority: 6, count: COUNT, name: "b-socat" },
  {
    pod: "c",
    protocol: "udp",
    tool: "txtime",
    clock: "tai",
    priority: 3,
    count: COUNT,
    name: "c-optout",
  },
];

const kernel = guestKernel();
const runs: CloneResult["runs"][number][] = [];
for (
  const [strategy, tracker] of [["skb-addr", true], ["skb-addr", false], ["skb-data", false]] as [
    string,
    boolean,
  ][]
) {
  const label = `bridge-flood ${strategy}${
    strategy === "skb-addr" ? (tracker ? " +tracker" : " -tracker") : ""
  }`;
  runs.push(
    await timedRun(label, async () => {
      let proxy: AttachedProxy | undefined;
      let stats: ProxyOut | null = null;
      const { rows, timings: phases } = await runScenario({
        kind: "bridge-flood",
        talkers: TALKERS,
        hooks: {
          beforeTraffic(topo) {
            proxy = attachProxy(topo, { strategy, optedIn: ["a", "b"], trackers: tracker });
          },
          afterTraffic() {
            stats = proxyOut(proxy!.stats());
            proxy!.down();
          },
        },
      });
      return { strategy, tracker, rows: rows.map(talkerOut), phases, proxy: stats };
    }, () => ({ strategy, tracker })),
  );
}

const result: Omit<CloneResult, "failures"> = { scenario: "vm-clone", kernel, count: COUNT, runs };
await finish({ ...result, failures: checkClone(result) });
