/**
 * Records whose packets never reach a restorer must never land on a later packet. An opted-in pod
 * floods another pod on the same node (delivered locally: its records are never consumed) while a
 * pod that did not opt in and an opted-in pod send to the NIC. The slab recycles sk_buffs and data
 * buffers within microseconds, so the keys of those leftover records come back on the NIC-bound
 * packets; every such lookup must be refused by the fingerprint. docs/kernel-facts.md: 15-27 % of the
 * second pod's packets leaving with the first pod's priority and txtime when the map had no guard.
 */
import { equal, ok } from "node:assert/strict";
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerRow } from "@tsn-proxy/sim/scenario";
import { runTxtimeSender } from "@tsn-proxy/sim/talkers/txtime";
import { onOneCpu } from "@tsn-proxy/sim/process";
import type { SenderResult } from "@tsn-proxy/sim/talkers/txtime_sender";

const FLOOD = 100_000;

for (const strategy of ["skb-addr", "skb-data"]) {
  Deno.test(`${strategy}: records left by pod-to-pod traffic never land on another packet`, async () => {
    let proxy: AttachedProxy | undefined;
    let flood: Promise<SenderResult> | undefined;
    let rejected = 0n, restored = 0n, floodSent = 0, liveAfter = -1, staleAfter = -1;
    const { rows } = await onOneCpu(() =>
      runScenario({
        kind: "bridge-nat",
        pods: [{ name: "x" }, { name: "y" }, { name: "c" }, { name: "d" }],
        talkers: [
          {
            pod: "c",
            protocol: "udp",
            clock: "tai",
            priority: 3,
            count: 3000,
            intervalUs: 20,
            name: "c",
          },
          {
            pod: "d",
            protocol: "udp",
            clock: "mono",
            priority: 2,
            count: 3000,
            intervalUs: 20,
            name: "d",
          },
        ],
        hooks: {
          beforeTraffic(topo) {
            proxy = attachProxy(topo, { strategy, optedIn: ["x", "d"] });
            // x -> y on the same bridge: delivered to y's socket, never crosses a restorer.
            flood = runTxtimeSender(topo.pod("x").ns, {
              dst: topo.pod("y").ip,
              port: 9,
              count: FLOOD,
              priority: 7,
              clock: "tai",
              pod: topo.pod("x").id,
              intervalUs: 1,
            });
          },
          async afterTraffic() {
            floodSent = (await flood!).sent;
            const s = proxy!.stats();
            rejected = s.counters.rejectedFingerprint + s.counters.rejectedStale;
            restored = s.counters.restored;
            // The age bound (100 ms) retires every leftover: none may still be applicable.
            await new Promise((r) => setTimeout(r, 150));
            const later = proxy!.stats();
            liveAfter = later.records;
            staleAfter = later.staleRecords;
            proxy!.down();
          },
        },
      })
    );
    const row = (name: string): TalkerRow => rows.find((r) => r.talker === name)!;
    const c = row("c"), d = row("d");
    console.log(
      `${strategy}: flood ${floodSent}, c prio right/zero/wrong ${c.prioRight}/${c.prioZero}/` +
        `${c.prioWrong}, d ${d.prioRight}/${d.packets}, restored ${restored}, refused ${rejected}, ` +
        `left ${staleAfter} stale / ${liveAfter} live after the age bound`,
    );
    equal(floodSent, FLOOD);
    for (const r of [c, d]) {
      equal(r.prioWrong, 0, `${r.talker}: packets with another pod's priority`);
      equal(r.txtimeWrong + r.typeWrong + r.invented, 0, `${r.talker}: another pod's txtime`);
    }
    equal(c.prioRight, 0, "the pod that did not opt in got a priority");
    if (strategy === "skb-addr") equal(d.prioRight, d.packets, "d restored");
    equal(liveAfter, 0, "records still applicable after the age bound");
    ok(staleAfter > 0, "the flood left no records behind: the test did not set up its case");
    // How often a leftover key comes back is up to the slab (0-14 refusals per run here);
    // e2e/fault_leftover_kernel_test.ts drives it into the thousands (1000-2000 per run).
    if (rejected === 0n) console.log(`${strategy}: no leftover key came back in this run`);
  });
}
