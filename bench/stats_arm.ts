/**
 * The benchmark's bpf_stats arm: one more flood per strategy with stats on and an empty program
 * appended at the saver's and the restorer's hooks (the stats overhead), and the store's occupancy
 * during and after the flood.
 *
 * @module
 */
import type { Topology } from "@tsn-proxy/sim";
import type { BenchObjects } from "./bpf/build.ts";
import { nsPerRun, type RunStats, runStatsOfFd, runStatsOfPin, StatsSession } from "./progstats.ts";
import { attachBenchProxy, attachFloor, type FloorProbe } from "./proxy.ts";
import type { DatapathPlan } from "./runner.ts";
import { round } from "./stats.ts";
import type { BpfStatsView, FloodSample, Occupancy } from "./types.ts";
import { podOf } from "./matrix.ts";

/** One strategy's bpf_stats and store occupancy under a flood. */
export async function statsArm(
  objects: BenchObjects,
  topo: Topology,
  plan: DatapathPlan,
  arm: string,
  floodPod: string,
  flood: (midway?: () => void) => Promise<FloodSample>,
): Promise<{ stats: BpfStatsView; occupancy: Occupancy }> {
  const proxy = attachBenchProxy(topo, arm, plan.store, plan.traffic.map(podOf));
  const floors: FloorProbe[] = [];
  try {
    const pod = topo.pod(floodPod);
    floors.push(attachFloor(objects.empty, pod.ns.path, pod.ifname));
    floors.push(attachFloor(objects.empty, topo.node.ns.path, topo.node.nic));
    // Every opted-in pod's saver counts: the flood comes from one of them, the others are idle.
    const saverPins = [...proxy.saverPins.values()];
    const snap = () => ({
      savers: saverPins.map(runStatsOfPin),
      restorer: runStatsOfPin(proxy.restorerPin),
      floors: floors.map((f) => runStatsOfFd(f.fd)),
    });
    const occupancy: Occupancy = { during: null, after: null, capacity: null };
    using _stats = StatsSession.enable();
    const before = snap();
    await flood(() => {
      const s = proxy.stats();
      occupancy.during = s.records;
      occupancy.capacity = s.recordsMax;
    });
    const after = snap();
    occupancy.after = proxy.stats().records;
    const saver = combined(before.savers, after.savers);
    const restorerNs = nsPerRun(before.restorer, after.restorer);
    const floorPodNs = nsPerRun(before.floors[0]!, after.floors[0]!);
    const floorNicNs = nsPerRun(before.floors[1]!, after.floors[1]!);
    const net = (a: number | null, b: number | null) =>
      a === null || b === null ? null : round(a - b);
    return {
      stats: {
        saverNs: saver.ns === null ? null : round(saver.ns),
        restorerNs: restorerNs === null ? null : round(restorerNs),
        floorPodNs: floorPodNs === null ? null : round(floorPodNs),
        floorNicNs: floorNicNs === null ? null : round(floorNicNs),
        saverNetNs: net(saver.ns, floorPodNs),
        restorerNetNs: net(restorerNs, floorNicNs),
        saverRuns: saver.runs,
        restorerRuns: Number(after.restorer.runCnt - before.restorer.runCnt),
      },
      occupancy,
    };
  } finally {
    for (const f of floors) f.close();
    proxy.down();
  }
}

/** Several programs' stats combined: total time / total runs. */
function combined(before: RunStats[], after: RunStats[]): { ns: number | null; runs: number } {
  let time = 0n;
  let runs = 0n;
  for (const [i, a] of after.entries()) {
    const b = before[i]!;
    time += a.runTimeNs - b.runTimeNs;
    runs += a.runCnt - b.runCnt;
  }
  return { ns: runs > 0n ? Number(time) / Number(runs) : null, runs: Number(runs) };
}
