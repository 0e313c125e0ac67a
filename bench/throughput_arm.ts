/**
 * The benchmark's throughput arm (observer removed): per traffic kind, `rounds` rounds of floods,
 * each round running every arm (`none`, the floor, the strategies) once in rotated order, the
 * datapath attached only for its arm; the delivered rate counted at the far end and at the NIC.
 * Ends with the bpf_stats arm (./stats_arm.ts).
 *
 * @module
 */
import { BIN, type Proc, spawnIn, type Topology, waitListening } from "@tsn-proxy/sim";
import type { BenchObjects } from "./bpf/objects.ts";
import { runFlood } from "@tsn-proxy/sim/flood";
import { NONE, podOf, type Traffic } from "./matrix.ts";
import { linkCounters, udpArrivals, UdpSink } from "./net.ts";
import { attachBenchProxy, attachFloor } from "./proxy.ts";
import type { DatapathPlan } from "./runner.ts";
import { rotation, round, summarize } from "./stats.ts";
import type { Cell, FloodSample, Throughput } from "./types.ts";
import { statsArm } from "./stats_arm.ts";

/** The throughput arm with empty programs where the datapath's programs sit. */
const FLOOR = "floor";

/** The multicast group the far end joins on bridge-flood, as startReceiver takes it. */
function join(topo: Topology): { join?: { group: string; on: string } } {
  return topo.far.joinOn === undefined ? {} : { join: { group: topo.far.ip, on: topo.far.joinOn } };
}

/** Floods traffic kind `t` for every arm and fills in the cells' throughput. */
export async function throughputArm(
  objects: BenchObjects,
  topo: Topology,
  plan: DatapathPlan,
  t: Traffic,
  port: number,
  cellOf: (arm: string) => Cell,
  log: (line: string) => void,
): Promise<void> {
  const tp = plan.throughput!;
  // FLOOR: empty programs at the flooding pod's eth0 and the NIC, where the saver and the
  // restorer sit: what any tc program there costs, so a strategy's own cost can be told apart.
  const arms = [NONE, FLOOR, ...plan.strategies];
  const pod = topo.pod(podOf(t));
  const optedIn = plan.traffic.map(podOf);
  const farIf = topo.far.ns.name === topo.ext.ns.name ? "ext0" : "eth0";
  let sink: UdpSink | undefined;
  let tcpRx: Proc | undefined;
  try {
    if (t.protocol === "udp") {
      sink = new UdpSink(topo.far.ns.path, port, join(topo).join);
    } else {
      tcpRx = spawnIn(topo.far.ns, [
        BIN.socat,
        "-u",
        `TCP4-LISTEN:${port},reuseaddr,fork`,
        "GOPEN:/dev/null",
      ]);
      if (!(await waitListening(topo.far.ns, "tcp", port, 3000))) {
        throw new Error(`tcp sink :${port} not listening\n${tcpRx.stderr}`);
      }
    }
    const flood = async (midway?: () => void): Promise<FloodSample> => {
      const count = () =>
        t.protocol === "udp"
          ? udpArrivals(topo.far.ns.path)
          : linkCounters(topo.far.ns.path, farIf).rxBytes;
      const far0 = count();
      const nic0 = linkCounters(topo.node.ns.path, topo.node.nic).txPackets;
      const running = runFlood(pod.ns, tp.tool, {
        proto: t.protocol,
        dst: topo.far.ip,
        port,
        priority: t.priority,
        clock: t.clock,
        durationMs: tp.durationMs,
        maxPackets: t.protocol === "udp" ? tp.durationMs * 1000 : tp.durationMs * 100,
      });
      if (midway) {
        await new Promise((r) => setTimeout(r, tp.durationMs / 2));
        midway();
      }
      const out = await running;
      await settle();
      const far = count() - far0;
      const nic = linkCounters(topo.node.ns.path, topo.node.nic).txPackets - nic0;
      return {
        round: 0,
        position: 0,
        rate: far / (out.elapsedMs / 1000),
        sent: t.protocol === "udp" ? out.sent : out.bytes,
        far,
        nic,
        elapsedMs: round(out.elapsedMs),
        cpuPerUnitNs: out.cpuNs === null || out.sent === 0 ? null : round(
          t.protocol === "udp" ? out.cpuNs / out.sent : out.cpuNs / (out.bytes / 1024),
        ),
      };
    };

    const samples = new Map<string, FloodSample[]>(arms.map((a) => [a, []]));
    for (let r = 0; r < tp.rounds; r++) {
      for (const [position, arm] of rotation(arms, r).entries()) {
        plan.signal?.throwIfAborted();
        const proxy = arm === NONE || arm === FLOOR
          ? undefined
          : attachBenchProxy(topo, arm, plan.store, optedIn);
        const floors = arm === FLOOR
          ? [
            attachFloor(objects.empty, pod.ns.path, pod.ifname),
            attachFloor(objects.empty, topo.node.ns.path, topo.node.nic),
          ]
          : [];
        try {
          const s = await flood();
          samples.get(arm)!.push({ ...s, round: r, position });
        } finally {
          proxy?.down();
          for (const f of floors) f.close();
        }
      }
      log(
        `[${plan.datapath.id}] ${t.id} round ${r + 1}/${tp.rounds}: ` +
          arms.map((a) => {
            const s = samples.get(a)!.at(-1);
            return `${a} ${fmtRate(s?.rate ?? NaN, t)} (${s?.cpuPerUnitNs ?? "?"} cpu-ns/${
              t.protocol === "udp" ? "pkt" : "KiB"
            })`;
          }).join(", "),
      );
    }
    const base = samples.get(NONE)!;
    const floor = samples.get(FLOOR)!;
    const perRound = (own: FloodSample[], of: FloodSample[]) =>
      own.map((s) => s.rate / (of.find((b) => b.round === s.round)?.rate ?? NaN));
    for (const arm of arms.filter((a) => a !== FLOOR)) {
      const own = samples.get(arm)!;
      const ratios = arm === NONE ? null : perRound(own, base);
      const cpuRatios = arm === NONE ? null : own.flatMap((s) => {
        const b = base.find((x) => x.round === s.round)?.cpuPerUnitNs;
        return b && s.cpuPerUnitNs ? [b / s.cpuPerUnitNs] : [];
      });
      const th: Throughput = {
        unit: t.protocol === "udp" ? "pps" : "bytes/s",
        samples: own.map((s) => ({ ...s, rate: Math.round(s.rate) })),
        rate: summarize(own.map((s) => s.rate)),
        ratios: ratios?.map((x) => round(x, 4)) ?? null,
        ratio: ratios ? summarize(ratios) : null,
        cpuRatios: cpuRatios?.map((x) => round(x, 4)) ?? null,
        cpuRatio: cpuRatios?.length ? summarize(cpuRatios) : null,
        floorRatio: arm === NONE ? summarize(perRound(floor, base)) : null,
        vsFloor: arm === NONE ? null : summarize(perRound(own, floor)),
      };
      cellOf(arm).throughput = th;
    }

    if (tp.statsArm) {
      for (const arm of plan.strategies) {
        const { stats, occupancy } = await statsArm(objects, topo, plan, arm, pod.name, flood);
        cellOf(arm).bpfStats = stats;
        cellOf(arm).occupancy = occupancy;
        log(
          `[${plan.datapath.id}] ${t.id} bpf_stats ${arm}: saver ${stats.saverNs?.toFixed(0)} ns ` +
            `(floor ${stats.floorPodNs?.toFixed(0)}), restorer ${
              stats.restorerNs?.toFixed(0)
            } ns ` +
            `(floor ${stats.floorNicNs?.toFixed(0)}); records during ${occupancy.during}, ` +
            `after ${occupancy.after}`,
        );
      }
    }
  } finally {
    sink?.close();
    await tcpRx?.stop();
  }
}

/** A rate as the log shows it. */
function fmtRate(rate: number, t: Traffic): string {
  return t.protocol === "udp"
    ? `${(rate / 1000).toFixed(1)} kpps`
    : `${(rate / 1e6).toFixed(1)} MB/s`;
}

/** Lets packets still in flight (softirq backlog) reach the counters. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}
