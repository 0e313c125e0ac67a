/**
 * The clock gate on real packets (issue #17 point 3): with `txtime.requireSyncedClock` the agent's
 * ClockGate judges the clock facts and writes the pinned `clock_gate` map; while it says
 * "unsynchronised" the restorer gives back priorities but no txtimes (`rejected_unsynced_clock`).
 *
 * The gate is driven as the agent drives it: {@link ClockGate} over `probeClock()` with a fake
 * node (a synchronised adjtimex, a /proc tree where ptp4l runs, a pmc that answers with the
 * master offset of the case) and `mapClockSwitch()` on the proxy's own pin. ptp4l 200 ns off its
 * master is within the 1 µs bound (open); 50 µs is not (closed).
 *
 * The talkers send SCM_TXTIME on CLOCK_REALTIME: an untyped txtime, which skb_scrub_packet()
 * clears at the veth crossing on every kernel (skb_clear_tstamp() keeps only typed ones), so the
 * restorer has a txtime to give back or refuse. TAI and MONOTONIC txtimes survive the crossing on
 * 6.11+ and the restorer only confirms them (`tstamp_kept`), so they never reach the gate there.
 * "plain" (not opted in) probes that the running kernel does clear them.
 */
import { deepEqual, equal } from "node:assert/strict";
import { join } from "node:path";
import {
  ClockGate,
  type ClockVerdict,
  mapClockSwitch,
  probeClock,
  queryPtp4l,
  type TimexState,
} from "@tsn-proxy/agent/clock";
import { type DatapathStats, PinLayout } from "@tsn-proxy/bpf/datapath";
import { BpfMap } from "@tsn-proxy/bpf/libbpf";
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { runScenario, type TalkerRow } from "@tsn-proxy/sim/scenario";

const COUNT = 200;
const BOUND_NS = 1_000;
const SYNCED: TimexState = {
  state: "TIME_OK",
  status: 0,
  synchronized: true,
  taiOffsetS: 37,
  maxErrorUs: 10,
  estErrorUs: 1,
};

/** pmc's answer for a slave clock at `offsetNs` from its master (linuxptp's layout). */
function pmcAnswer(offsetNs: number): string {
  return `sending: GET TIME_STATUS_NP
	90e2ba.fffe.2d4ccc-0 seq 0 RESPONSE MANAGEMENT TIME_STATUS_NP 
		master_offset              ${offsetNs}
		ingress_time               1508420006893588624
		gmPresent                  true
		gmIdentity                 001b21.fffe.6f1c3e
`;
}

/** The agent's gate over a fake node whose ptp4l is `offsetNs` off, writing the proxy's pin. */
async function driveGate(bpffs: string, offsetNs: number): Promise<ClockVerdict> {
  const proc = await Deno.makeTempDir({ prefix: "tsn-clock-proc-" });
  try {
    await Deno.mkdir(join(proc, "7"));
    await Deno.writeTextFile(join(proc, "7", "comm"), "ptp4l\n");
    await Deno.writeTextFile(join(proc, "7", "cmdline"), "ptp4l\0-i\0nic0\0");
    const gate = new ClockGate({
      probe: () =>
        probeClock({
          ifaces: [],
          procRoot: proc,
          timex: () => SYNCED,
          ptp4l: () =>
            queryPtp4l(() =>
              Promise.resolve({ success: true, stdout: pmcAnswer(offsetNs), stderr: "" })
            ),
        }),
      bounds: { maxPtpOffsetNs: BOUND_NS },
      require: true,
      sink: mapClockSwitch(() => BpfMap.fromPinned(new PinLayout(bpffs).clockGate)),
      log: () => {},
    });
    const verdict = await gate.run();
    if (!verdict) throw new Error("the gate did not run");
    return verdict;
  } finally {
    await Deno.remove(proc, { recursive: true });
  }
}

for (const strategy of ["skb-addr", "skb-data"]) {
  for (const open of [true, false]) {
    const gateName = open ? "open (ptp4l 200 ns off)" : "closed (ptp4l 50 us off)";
    Deno.test(`${strategy}: clock gate ${gateName}: txtimes ${open ? "restored" : "refused"}, priorities restored`, async () => {
      requireKernelTests();
      let proxy: AttachedProxy | undefined;
      let stats: DatapathStats | undefined;
      let verdict: ClockVerdict | undefined;
      const talker = (name: string, pod: string) => ({
        name,
        pod,
        protocol: "udp" as const,
        clock: "realtime" as const,
        priority: 3,
        count: COUNT,
      });
      const { rows } = await runScenario({
        kind: "bridge-nat",
        talkers: [talker("rt", "rt"), talker("plain", "plain")],
        hooks: {
          async beforeTraffic(topo) {
            proxy = attachProxy(topo, { strategy, optedIn: ["rt"] });
            verdict = await driveGate(join(topo.bpffsDir, "proxy"), open ? 200 : 50_000);
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
        `${strategy} gate ${open ? "open" : "closed"} (${
          verdict!.reasons.join("; ") || "synced"
        }):` +
          `\n  ${rows.map(line).join("\n  ")}\n  counters: restored ${c.restored}, ` +
          `restored_tstamp ${c.restoredTstamp}, rejected_unsynced_clock ${c.rejectedUnsyncedClock}`,
      );
      equal(verdict!.synced, open, `the gate's verdict: ${verdict!.reasons.join("; ")}`);
      for (const r of rows) {
        equal(r.sent, COUNT, `${r.talker}: every datagram sent`);
        equal(r.seen, COUNT, `${r.talker}: every datagram seen at the NIC`);
        equal(
          r.txtimeWrong + r.typeWrong + r.prioWrong + r.invented,
          0,
          `${r.talker}: nothing wrong`,
        );
      }
      // This kernel must clear an untyped txtime at the crossing, or the gate has nothing to do.
      equal(row("plain").txtimeMissing, COUNT, `plain: the crossing clears REALTIME txtimes`);
      const rt = row("rt");
      equal(rt.prioRight, COUNT, "rt: every priority restored, whatever the gate");
      deepEqual(
        [rt.txtimeRight, rt.txtimeMissing],
        open ? [COUNT, 0] : [0, COUNT],
        `rt: txtimes ${open ? "restored" : "refused"}`,
      );
      equal(c.restored, BigInt(COUNT), "restored");
      equal(c.restoredTstamp, open ? BigInt(COUNT) : 0n, "restored_tstamp");
      equal(c.rejectedUnsyncedClock, open ? 0n : BigInt(COUNT), "rejected_unsynced_clock");
    });
  }
}
