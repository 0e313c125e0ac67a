/**
 * VM suite, the clone path: topology bridge-flood (nic0 is a port of the pods' bridge), talkers
 * send to a multicast group, and br_flood() hands every port, nic0 included, a clone of the
 * packet: the sk_buff at the NIC is not the one the saver keyed. skb-addr with the fexit/skb_clone
 * tracker, skb-addr with the tracker left out (same loader, the strategy's tracker list emptied:
 * sim/proxy.ts `trackers: false`), and skb-data (clones share skb->data). The traffic is the host
 * test's (sim/clone_flood.ts).
 * Result: lab/vm/results.ts CloneResult; checks: lab/vm/checks.ts checkClone.
 */
import { runCloneFlood } from "@tsn-proxy/sim/clone_flood";
import { checkClone } from "../../vm/checks.ts";
import { CLONE_COUNT } from "../../vm/scenarios.ts";
import type { CloneResult } from "../../vm/results.ts";
import { finish, guestKernel, proxyOut, talkerOut, timedRun } from "../vm/common.ts";

const COUNT = CLONE_COUNT;

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
      const { rows, timings: phases, stats } = await runCloneFlood({
        strategy,
        count: COUNT,
        trackers: tracker,
      });
      return { strategy, tracker, rows: rows.map(talkerOut), phases, proxy: proxyOut(stats) };
    }, () => ({ strategy, tracker })),
  );
}

const result: Omit<CloneResult, "failures"> = { scenario: "vm-clone", kernel, count: COUNT, runs };
await finish({ ...result, failures: checkClone(result) });
