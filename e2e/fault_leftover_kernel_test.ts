/**
 * Records whose packets never reach a restorer must never be applied to a later packet, and must
 * not pile up. Builds on e2e/stale_kernel_test.ts (pod-to-pod leftovers) with the two other ways a
 * saved packet never reaches the NIC:
 *
 * - dropped by a firewall: an nftables `drop` in the node netns' forward hook for everything the
 *   opted-in pod x sends;
 * - delivered to the node itself: the opted-in pod n sends to the node's bridge address, where
 *   a socket reads it.
 *
 * Both flood 500 000 datagrams each (1 M, sim/flood's FFI sendmmsg sender; SO_PRIORITY 7 and 6;
 * plus 20 000 each with a TAI txtime from the txtime talker, so leftovers carry txtimes too) while
 * a pod that did not opt in (c) and an opted-in pod (d) send to the far end through the NIC. The
 * observer after the restorer counts every packet of c and d that left with a priority, txtime or
 * clock type that was not its own: 0 for every strategy and store. Everything runs on one CPU, so
 * the slab hands the flood's freed sk_buffs and buffers to c's and d's packets (the keys come
 * back; the fingerprint must refuse them). During the flood the store is sampled: occupancy never
 * exceeds its capacity; once traffic stops, no record is applicable after the age bound (100 ms).
 */
import { equal, ok } from "node:assert/strict";
import { runFlood } from "@tsn-proxy/sim/flood";
import type { StoreName } from "@tsn-proxy/bpf/datapath";
import { since } from "./fault_fixture.ts";
import { BIN, run, spawnIn } from "@tsn-proxy/sim/netns";
import { onOneCpu, type Proc, sleep } from "@tsn-proxy/sim/process";
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerRow } from "@tsn-proxy/sim/scenario";
import { runTxtimeSender } from "@tsn-proxy/sim/talkers/txtime";
import type { SenderResult } from "@tsn-proxy/sim/talkers/txtime_sender";
import { ADDR } from "@tsn-proxy/sim/topology";

const FLOOD = 500_000; // per flooding pod: 1 M in all
const TIMED = 20_000; // per flooding pod, with a TAI txtime
const MAX_AGE_MS = 100; // the datapath's default age bound

interface Case {
  readonly strategy: string;
  readonly store?: StoreName;
}

const CASES: readonly Case[] = [
  { strategy: "skb-addr" },
  { strategy: "skb-data" },
  { strategy: "skb-addr", store: "lru" },
];

for (const c of CASES) {
  const label = `${c.strategy}${c.store ? ` (${c.store} store)` : ""}`;
  Deno.test(`${label}: firewall-dropped and node-local leftovers never land, stay bounded, age out`, async () => {
    const t0 = performance.now();
    let proxy: AttachedProxy | undefined;
    let floods: Promise<unknown[]> | undefined;
    const locals: Proc[] = [];
    let sampling = true;
    let sampler: Promise<void> | undefined;
    let maxHeld = 0, samples = 0, capacity = 0;
    let sent = 0, timedSent = 0, floodMs = 0;
    let rejected = 0n, fingerprint = 0n, stale = 0n, restored = 0n, saved = 0n, missed = 0n;
    let liveAfter = -1, staleAfter = -1, drainMs = -1;
    const { rows } = await onOneCpu(() =>
      runScenario({
        kind: "bridge-nat",
        pods: [{ name: "x" }, { name: "n" }, { name: "c" }, { name: "d" }],
        talkers: [
          {
            pod: "c",
            protocol: "udp",
            clock: "tai",
            priority: 3,
            count: 3000,
            intervalUs: 100,
            name: "c",
          },
          {
            pod: "d",
            protocol: "udp",
            clock: "mono",
            priority: 2,
            count: 3000,
            intervalUs: 100,
            name: "d",
          },
        ],
        talkerTimeoutMs: 60_000,
        hooks: {
          async beforeTraffic(topo) {
            proxy = attachProxy(topo, {
              strategy: c.strategy,
              optedIn: ["x", "n", "d"],
              ...(c.store ? { store: c.store } : {}),
            });
            capacity = proxy.stats().recordsMax;
            const x = topo.pod("x"), n = topo.pod("n");
            // The firewall: x's packets cross the veth (saved) and die in the node's forward hook.
            await run(topo.node.ns, [BIN.nft, "-f", "-"], {
              stdin: `table inet ${topo.prefix}_fw {\n  chain forward {\n` +
                "    type filter hook forward priority filter; policy accept;\n" +
                `    ip saddr ${x.ip} counter drop\n  }\n}\n`,
            });
            // The node itself: sockets on the bridge address read what n sends.
            for (const port of [47001, 47003]) {
              const rx = spawnIn(topo.node.ns, [
                BIN.socat,
                "-u",
                `UDP4-RECV:${port},bind=${ADDR.gateway1}`,
                "/dev/null",
              ]);
              locals.push(rx);
            }
            await sleep(100);
            const tool = { kind: "ffi", procs: 1 } as const;
            const flood = (from: typeof x, dst: string, port: number, priority: number) =>
              runFlood(from.ns, tool, {
                proto: "udp",
                dst,
                port,
                priority,
                clock: "none",
                durationMs: 30_000,
                maxPackets: FLOOD,
              });
            const timed = (from: typeof x, dst: string, port: number, priority: number) =>
              runTxtimeSender(from.ns, {
                dst,
                port,
                count: TIMED,
                priority,
                clock: "tai",
                pod: from.id,
                intervalUs: 1,
              }, 60_000);
            const tf = performance.now();
            floods = Promise.all([
              flood(x, topo.far.ip, 47000, 7).then((r) => (sent += r.sent, floodMs = since(tf))),
              flood(n, ADDR.gateway1, 47001, 6).then((r) => (sent += r.sent, floodMs = since(tf))),
              timed(x, topo.far.ip, 47002, 7).then((r: SenderResult) => (timedSent += r.sent)),
              timed(n, ADDR.gateway1, 47003, 6).then((r: SenderResult) => (timedSent += r.sent)),
            ]);
            // Occupancy while the flood runs (bounded: one sample at a time, at most 200).
            sampler = (async () => {
              for (let i = 0; i < 200 && sampling; i++) {
                const s = proxy!.stats();
                maxHeld = Math.max(maxHeld, s.records + s.staleRecords);
                samples++;
                await sleep(100);
              }
            })();
            await sleep(300); // the talkers start with the flood in full swing
          },
          async afterTraffic() {
            await floods;
            sampling = false;
            await sampler;
            const tStop = performance.now();
            // Every record is applicable for at most the age bound after traffic stops. (A
            // snapshot of the store takes tens of ms: the time noted is when the read began.)
            for (let i = 0; i < 100 && since(tStop) < 2000; i++) {
              const at = since(tStop);
              if (proxy!.stats().records === 0) {
                drainMs = at;
                break;
              }
              await sleep(5);
            }
            const wait = MAX_AGE_MS + 50 - since(tStop);
            if (wait > 0) await sleep(wait);
            const s = proxy!.stats();
            liveAfter = s.records;
            staleAfter = s.staleRecords;
            maxHeld = Math.max(maxHeld, s.records + s.staleRecords);
            fingerprint = s.counters.rejectedFingerprint;
            stale = s.counters.rejectedStale;
            rejected = fingerprint + stale;
            restored = s.counters.restored;
            saved = s.counters.saved;
            missed = s.counters.missed;
            for (const p of locals) await p.stop();
            proxy!.down();
          },
        },
      })
    ).finally(async () => {
      sampling = false;
      for (const p of locals) await p.stop();
      proxy?.down();
    });
    const row = (name: string): TalkerRow => rows.find((r) => r.talker === name)!;
    const rc = row("c"), rd = row("d");
    const wrongC = rc.prioRight + rc.prioWrong + rc.txtimeWrong + rc.typeWrong + rc.invented;
    const wrongD = rd.prioWrong + rd.txtimeWrong + rd.typeWrong + rd.invented;
    console.log(
      `${label}: flood ${sent} (+${timedSent} with TAI txtime) in ${floodMs} ms, saved ${saved}; ` +
        `c (not opted in) ${rc.packets} packets, wrong ${wrongC}; d ${rd.prioRight}/${rd.packets} ` +
        `restored, wrong ${wrongD}; refused ${rejected} (fingerprint ${fingerprint}, stale ` +
        `${stale}), restored ${restored}, missed ${missed}; store max ${maxHeld}/${capacity} ` +
        `over ${samples} samples; live records 0 after ${drainMs} ms, ${liveAfter} live / ` +
        `${staleAfter} stale at +${MAX_AGE_MS + 50} ms; ${since(t0)} ms`,
    );
    equal(sent, 2 * FLOOD, "the flood was cut short (time bound)");
    equal(timedSent, 2 * TIMED);
    ok(saved >= BigInt(2 * FLOOD), "the savers did not record the flood");
    equal(rc.packets, 3000, "c: every packet seen at the NIC");
    equal(rd.packets, 3000, "d: every packet seen at the NIC");
    equal(wrongC, 0, "a pod that did not opt in left with someone's metadata");
    equal(wrongD, 0, "an opted-in pod left with another packet's metadata");
    if (c.strategy === "skb-addr") equal(rd.prioRight, rd.packets, "d restored");
    ok(maxHeld <= capacity, `store over capacity: ${maxHeld} > ${capacity}`);
    equal(liveAfter, 0, `records still applicable ${MAX_AGE_MS + 50} ms after traffic stopped`);
    ok(drainMs >= 0, "live records never drained");
    ok(staleAfter > 0, "no leftovers: the test did not set up its case");
    ok(rejected > 0n, "no leftover record was ever looked up: the guard was not exercised");
  });
}
