/**
 * The namespace txtime rules on real packets (issue #14 point 5): savers of a namespace denied
 * txtimes, and savers with a 10 ms horizon, on the bridge + MASQUERADE node, unmodified FFI
 * senders with SO_PRIORITY and SCM_TXTIME in the pods, the observer after the restorer on the NIC.
 *
 * - "deny" (txtimes denied) sends TAI and MONOTONIC txtimes 5 ms ahead: none may leave the NIC
 *   with a txtime. Kernels from 6.11 keep both across the veth (skb_scrub_packet() no longer
 *   clears them), so there the restorer must clear them itself (`tstamp_dropped`).
 * - "far" (horizon 10 ms) sends TAI txtimes 500 ms ahead: none may leave with one
 *   (`txtime_beyond_horizon`); "near" (same horizon) sends them 5 ms ahead and keeps every one.
 * - "open" (allowed, no horizon) and "plain" (no saver) are the controls: "plain" is the probe of
 *   what the running kernel does with a TAI txtime by itself.
 * Every opted-in pod's priority is restored whatever happens to its txtimes.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { DatapathStats } from "@tsn-proxy/bpf/datapath";
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerRow } from "@tsn-proxy/sim/scenario";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const COUNT = 300;
const HORIZON = { allowed: true, horizonNs: 10_000_000n };

for (const strategy of ["skb-addr", "skb-data"]) {
  Deno.test(`${strategy}: denied and too-distant txtimes never leave the NIC; priorities still do`, async () => {
    requireKernelTests();
    let proxy: AttachedProxy | undefined;
    let stats: DatapathStats | undefined;
    const talker = (name: string, pod: string, clock: "tai" | "mono", aheadUs?: number) => ({
      name,
      pod,
      protocol: "udp" as const,
      clock,
      priority: 3,
      count: COUNT,
      ...(aheadUs === undefined ? {} : { aheadUs }),
    });
    const { rows } = await runScenario({
      kind: "bridge-nat",
      talkers: [
        talker("deny-tai", "deny", "tai"),
        talker("deny-mono", "deny", "mono"),
        talker("far", "far", "tai", 500_000),
        talker("near", "near", "tai", 5_000),
        talker("open", "open", "tai"),
        talker("plain", "plain", "tai"),
      ],
      hooks: {
        beforeTraffic(topo) {
          proxy = attachProxy(topo, {
            strategy,
            optedIn: ["deny", "far", "near", "open"],
            pods: {
              deny: { txtime: { allowed: false, horizonNs: 0n } },
              far: { txtime: HORIZON },
              near: { txtime: HORIZON },
            },
          });
        },
        afterTraffic() {
          stats = proxy!.stats();
          proxy!.down();
        },
      },
    });
    const row = (name: string): TalkerRow => rows.find((r) => r.talker === name)!;
    const c = stats!.counters;
    const line = (r: TalkerRow) =>
      `${r.talker}: sent ${r.sent} seen ${r.seen} prio ${r.prioRight} txtime right/missing/` +
      `wrong/type ${r.txtimeRight}/${r.txtimeMissing}/${r.txtimeWrong}/${r.typeWrong}`;
    console.log(
      `${strategy}:\n  ${rows.map(line).join("\n  ")}\n  counters: txtime_denied ` +
        `${c.txtimeDenied}, txtime_beyond_horizon ${c.txtimeBeyondHorizon}, tstamp_dropped ` +
        `${c.tstampDropped}, restored ${c.restored}`,
    );
    for (const r of rows) {
      equal(r.sent, COUNT, `${r.talker}: every datagram sent`);
      equal(r.seen, COUNT, `${r.talker}: every datagram seen at the NIC`);
    }
    // What the running kernel does with a TAI txtime across the veth, on its own.
    const plain = row("plain");
    const keeps = plain.txtimeRight === COUNT;
    ok(keeps || plain.txtimeMissing === COUNT, `plain: neither kept nor cleared: ${line(plain)}`);
    equal(row("open").txtimeRight, COUNT, "open: the control keeps its txtimes");
    equal(row("near").txtimeRight, COUNT, "near: 5 ms ahead is within the 10 ms horizon");
    for (const name of ["deny-tai", "deny-mono", "far"]) {
      const r = row(name);
      deepEqual(
        [r.txtimeRight, r.txtimeWrong, r.typeWrong, r.txtimeMissing],
        [0, 0, 0, COUNT],
        `${name}: no packet may leave with a txtime`,
      );
    }
    for (const name of ["deny-tai", "deny-mono", "far", "near", "open"]) {
      equal(row(name).prioRight, COUNT, `${name}: priority restored`);
    }
    equal(c.txtimeDenied, BigInt(2 * COUNT), "txtime_denied: each of deny's datagrams");
    equal(c.txtimeBeyondHorizon, BigInt(COUNT), "txtime_beyond_horizon: far's, never near's");
    // A kernel that clears the txtime by itself leaves the restorer nothing to clear (6.1).
    equal(c.tstampDropped, keeps ? BigInt(3 * COUNT) : 0n, "tstamp_dropped");
  });
}
