/**
 * The benchmark's restoration arm: the observer on the NIC and, for `none` or one strategy, one
 * talker per traffic kind plus the opt-out sentinel, all at once; the observer's per-talker
 * counters and the datapath's counters afterwards.
 *
 * @module
 */
import {
  type Observer,
  type ObserverStats,
  type Receiver,
  resolveTalkers,
  runTalker,
  type TalkerSpec,
  type Topology,
  watchTalkers,
} from "@tsn-proxy/sim";
import { NONE, podOf, SENTINEL, type Traffic } from "./matrix.ts";
import { attachBenchProxy, type BenchProxy } from "./proxy.ts";
import type { DatapathPlan } from "./runner.ts";
import { round } from "./stats.ts";
import type { DatapathView, Restoration } from "./types.ts";

/** One arm's restoration rows (by traffic id), the datapath's view and its label. */
export async function restorationArm(
  topo: Topology,
  plan: DatapathPlan,
  arm: string,
  basePort: number,
  log: (line: string) => void,
): Promise<{ rows: Map<string, Restoration>; view: DatapathView | null; label: string | null }> {
  const all = [...plan.traffic, SENTINEL];
  const specs: TalkerSpec[] = all.map((t) => ({
    name: t.id,
    pod: podOf(t),
    protocol: t.protocol,
    tool: t.tool,
    priority: t.priority,
    ...(t.clock === "none" ? {} : { clock: t.clock }),
    count: plan.restorationCount,
    intervalUs: 100,
  }));
  const talkers = resolveTalkers(specs, new Map(topo.pods.map((p) => [p.name, p.id])), basePort);
  const receivers: Receiver[] = [];
  let observer: Observer | undefined;
  let proxy: BenchProxy | undefined;
  try {
    const watch = await watchTalkers(topo, talkers);
    observer = watch.observer;
    receivers.push(...watch.receivers);
    if (arm !== NONE) {
      proxy = attachBenchProxy(topo, arm, plan.store, plan.traffic.map(podOf));
    }
    const sent = await Promise.all(talkers.map((t) => runTalker(topo, t, 20_000)));
    for (const [i, rx] of receivers.entries()) await rx.waitRecords(sent[i] ?? 0, 2000);
    const stats = await observer.allStats();
    const rows = new Map<string, Restoration>();
    for (const [i, t] of talkers.entries()) {
      const s = stats.get(t.port);
      if (!s) throw new Error(`observer has no entry for port ${t.port}`);
      const traffic = all[i]!;
      rows.set(traffic.id, restorationOf(s, traffic, sent[i] ?? 0, receivers[i]?.records() ?? 0));
    }
    let view: DatapathView | null = null;
    if (proxy) {
      const ds = proxy.stats();
      view = {
        recordsLeft: ds.records,
        recordsMax: ds.recordsMax,
        counters: Object.fromEntries(
          Object.entries(ds.counters).map(([k, v]) => [k, Number(v)]),
        ),
      };
    }
    const label = proxy?.label ?? null;
    log(
      `[${plan.datapath.id}] restoration ${label ?? arm}: ` +
        [...rows.entries()].map(([k, r]) =>
          `${k} ${r.prioRight}/${r.packets}${r.wrong.total ? ` WRONG ${r.wrong.total}` : ""}`
        ).join(", ") + (view ? `, records left ${view.recordsLeft}` : ""),
    );
    return { rows, view, label };
  } finally {
    proxy?.down();
    for (const rx of receivers) await rx.stop();
    await observer?.destroy();
  }
}

/** One talker's restoration from its observer counters. */
export function restorationOf(
  s: ObserverStats,
  t: Traffic,
  sent: number,
  received: number,
): Restoration {
  const wrong = {
    priority: s.prioWrong,
    txtime: s.txtimeWrong,
    clockType: s.typeWrong,
    invented: s.tstampInvented,
    total: 0,
  };
  wrong.total = wrong.priority + wrong.txtime + wrong.clockType + wrong.invented;
  const timed = t.clock !== "none";
  return {
    sent,
    received,
    packets: s.packets,
    prioRight: s.prioRight,
    prioZero: s.prioZero,
    txtimeRight: timed ? s.txtimeRight : null,
    txtimeMissing: timed ? s.txtimeMissing : null,
    wrong,
    missed: Math.max(0, s.packets - s.prioRight - s.prioWrong),
    restoredFraction: s.packets > 0 ? round(s.prioRight / s.packets, 4) : null,
  };
}
