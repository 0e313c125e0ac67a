/**
 * @module
 * Packets per gate under taprio (lab guests only: the host kernel has no sch_taprio). The VM
 * suite's taprio (lab/vm/checks.ts `TAPRIO`: 4-queue veth NIC, software mode, CLOCK_TAI,
 * base-time 0, 40 us cycle: 0-10 us TC1, 10-20 us TC2, 20-40 us TC3; priority 1 → TC1, 2 → TC2,
 * everything else → TC3) on a bridge-nat node, vm-taprio's three talkers (a: priority 1, b:
 * priority 2, both opted in; c: best effort), once without the proxy and once per strategy. Per
 * arm: packets per taprio class (the child qdiscs), and each talker's packets folded into the
 * cycle by the gate probe (bench/gate.ts): the time its packets left the NIC, mod the cycle, per
 * bin. The headline is the fraction of a talker's packets inside its own class's window.
 *
 * `cycleScale` stretches the cycle (same proportions) for a second measurement when a 40 us
 * cycle is more than an emulated guest's timers can keep.
 */
import type { StoreName } from "@tsn-proxy/bpf/datapath";
import { type AttachedProxy, attachProxy } from "@tsn-proxy/sim/proxy";
import { runScenario, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { TAPRIO } from "@tsn-proxy/lab/scenarios";
import { qdiscStats, tc } from "@tsn-proxy/lab/guest/vm";
import { attachGate, gateBins, type GateHook, type GateProbe } from "./gate.ts";
import { strategyLabel } from "./proxy.ts";

/**
 * The cycle scale of the second measurement in an emulated (TCG) guest: 25 × 40 us = 1 ms, TC1
 * 0-250 us, TC2 250-500 us, TC3 500-1000 us. Measured on both lab kernels: at 40 us the fold at
 * the NIC is flat (with the proxy the priority-1 talker had 10-15 % of its packets in its 10 us
 * window, without it 25-28 %: the guest's hrtimers and softirqs run tens of us late); at 1 ms it
 * had 76-95 % with the proxy and < 5 % without.
 */
export const TAPRIO_TCG_SCALE = 25;

/** The arm without the proxy. */
const TAPRIO_NONE = "none";

/**
 * The far end's port that receives node1's NIC traffic: sim/topology.ts makes `ext0` in the ext
 * netns the veth peer of `nic0` and a port of ext's bridge.
 */
export const FAR_PORT = "ext0";

/** One gate window of the cycle: traffic class `tc` may send in [startNs, endNs). */
export interface GateWindow {
  readonly tc: number;
  readonly startNs: number;
  readonly endNs: number;
}

/** The taprio schedule as measured: tc arguments, cycle, windows, priority → class. */
export interface TaprioSchedule {
  /** `tc qdisc replace dev NIC ARGS`. */
  readonly args: readonly string[];
  readonly cycleNs: number;
  readonly windows: readonly GateWindow[];
  /** Traffic class of each priority 0..15. */
  readonly tcOfPriority: readonly number[];
}

/**
 * vm-taprio's schedule, every interval multiplied by `scale` (a positive integer).
 *
 * @example
 * ```ts
 * import { taprioSchedule } from "./taprio.ts";
 * const s = taprioSchedule();
 * console.log(s.cycleNs, s.windows[0]); // 40000 { tc: 1, startNs: 0, endNs: 10000 }
 * ```
 */
export function taprioSchedule(scale = 1): TaprioSchedule {
  if (!(Number.isInteger(scale) && scale >= 1)) throw new RangeError(`cycle scale ${scale}`);
  const src: readonly string[] = TAPRIO.args;
  const args: string[] = [];
  const windows: GateWindow[] = [];
  let tcOfPriority: number[] = [];
  let t = 0;
  for (let i = 0; i < src.length; i++) {
    const a = src[i]!;
    args.push(a);
    if (a === "map") {
      tcOfPriority = src.slice(i + 1, i + 17).map(Number);
    } else if (a === "sched-entry") {
      const mask = parseInt(src[i + 2]!, 16);
      const interval = Number(src[i + 3]) * scale;
      args.push(src[i + 1]!, src[i + 2]!, String(interval));
      i += 3;
      for (let tcIdx = 0; tcIdx < 16; tcIdx++) {
        if (mask & (1 << tcIdx)) windows.push({ tc: tcIdx, startNs: t, endNs: t + interval });
      }
      t += interval;
    }
  }
  if (tcOfPriority.length !== 16 || t === 0) throw new Error("TAPRIO: no map or no entries");
  return { args, cycleNs: t, windows, tcOfPriority };
}

/** A talker's packets per bin of the cycle at one hook. */
export interface GateRow {
  readonly talker: string;
  readonly priority: number;
  /** The traffic class its priority maps to. */
  readonly tc: number;
  /** Packets per bin (bin i covers [i * binNs, (i + 1) * binNs) of the cycle). */
  readonly bins: readonly number[];
}

/**
 * The fraction of a row's packets folded into a window of its own class; null when it has none.
 * A bin counts as inside when it lies wholly inside a window.
 *
 * @example
 * ```ts
 * import { ownWindowFraction, taprioSchedule } from "./taprio.ts";
 * const { windows } = taprioSchedule();
 * const bins = Array(40).fill(0);
 * bins[3] = 9; // 3-4 us: TC1's window
 * bins[25] = 1; // 25-26 us: TC3's
 * console.log(ownWindowFraction({ talker: "a", priority: 1, tc: 1, bins }, windows, 1000)); // 0.9
 * ```
 */
export function ownWindowFraction(
  row: GateRow,
  windows: readonly GateWindow[],
  binNs: number,
): number | null {
  let inside = 0, total = 0;
  for (const [i, n] of row.bins.entries()) {
    total += n;
    const lo = i * binNs, hi = lo + binNs;
    if (windows.some((w) => w.tc === row.tc && w.startNs <= lo && hi <= w.endNs)) inside += n;
  }
  return total ? inside / total : null;
}

/** A talker of one arm, as the sim observer and the far end counted it. */
export interface TaprioTalker {
  readonly talker: string;
  readonly priority: number;
  readonly tc: number;
  /** Sent by the talker / received at the far end / seen at the NIC / with the right priority. */
  readonly sent: number;
  readonly received: number;
  readonly seen: number;
  readonly prioRight: number;
}

/** One arm: no proxy, or one strategy. */
export interface TaprioArm {
  /** `none` or the strategy. */
  readonly strategy: string;
  /** The strategy as reported (`skb-addr (no tracker)` when its tracker was refused). */
  readonly label: string;
  readonly cycleNs: number;
  readonly binNs: number;
  readonly windows: readonly GateWindow[];
  /** Packets sent per taprio class (child qdisc `100:N` is TC N-1's queue). */
  readonly classes: Readonly<Record<string, number>>;
  readonly talkers: readonly TaprioTalker[];
  /** Where `histogram` was folded: the NIC's transmit when the kernel allows it, else the far end. */
  readonly hook: GateHook;
  /** Packets per bin per talker at `hook`. */
  readonly histogram: readonly GateRow[];
  /** The same at the far end's ingress (one NET_RX softirq later: see bench/bpf/gate.bpf.c). */
  readonly farHistogram: readonly GateRow[];
  /** Per talker: fraction of its packets at `hook` inside its own class's window. */
  readonly inOwnWindow: Readonly<Record<string, number | null>>;
  /** The same at the far end. */
  readonly farInOwnWindow: Readonly<Record<string, number | null>>;
  /** The core's `restored` counter (null for none). */
  readonly restored: number | null;
  /** gate_xmit: `attached` or why not. */
  readonly nicProbe: string;
  /** Wall-clock ms of the arm (setup, traffic, teardown). */
  readonly ms: number;
  /** Set when the arm failed; the other fields are then empty. */
  readonly error?: string;
}

/** What {@linkcode measureTaprio} returns: plain JSON. */
export interface TaprioMeasurement {
  /** `uname -r` of the kernel measured. */
  readonly kernel: string;
  /** Records per talker. */
  readonly count: number;
  readonly store: string | null;
  readonly cycleScale: number;
  readonly cycleNs: number;
  readonly binNs: number;
  readonly windows: readonly GateWindow[];
  readonly arms: readonly TaprioArm[];
  /** Wall-clock ms of the whole measurement. */
  readonly ms: number;
}

/** Options of {@linkcode measureTaprio}. */
export interface TaprioOptions {
  /** The compiled gate.bpf.o (`BENCH_OBJECTS.gate`; in a lab guest `/lab/extra/...`). */
  readonly gateObject: string;
  /** Strategies to measure after the no-proxy arm; default skb-addr, skb-data. */
  readonly strategies?: readonly string[];
  /** Record store of the proxy; default the datapath's. */
  readonly store?: StoreName;
  /** Records per talker (1..10000); default 400. */
  readonly count?: number;
  /** Multiplies every schedule interval (1 = the 40 us cycle); default 1. */
  readonly cycleScale?: number;
  /** Bin width in ns; default cycle / 40 (1 us at scale 1). Must divide every window. */
  readonly binNs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** vm-taprio's talkers (its scenario file runs when imported, so they are restated here). */
export function taprioTalkers(count: number): TalkerSpec[] {
  return [
    { pod: "a", protocol: "udp", tool: "txtime", priority: 1, count, name: "a-prio1" },
    { pod: "b", protocol: "udp", tool: "socat", priority: 2, count, name: "b-prio2" },
    { pod: "c", protocol: "udp", tool: "txtime", priority: 0, count, name: "c-best-effort" },
  ];
}

const OPTED_IN = ["a", "b"];

/**
 * Runs the taprio measurement on this kernel (root; a lab guest with sch_taprio): the no-proxy
 * arm, then one arm per strategy, each on a fresh bridge-nat topology that is torn down after it.
 * A failing arm is recorded with its `error` and the others still run.
 *
 * @example
 * ```ts ignore
 * import { measureTaprio } from "./taprio.ts";
 * const m = await measureTaprio({ gateObject: "/lab/extra/gate.bpf.o", store: "buckets" });
 * for (const a of m.arms) console.log(a.label, a.classes, a.inOwnWindow);
 * ```
 */
export async function measureTaprio(opts: TaprioOptions): Promise<TaprioMeasurement> {
  const t0 = performance.now();
  const scale = opts.cycleScale ?? 1;
  const sched = taprioSchedule(scale);
  const binNs = opts.binNs ?? sched.cycleNs / 40;
  gateBins(sched.cycleNs, binNs);
  for (const w of sched.windows) {
    if (w.startNs % binNs || w.endNs % binNs) {
      throw new RangeError(`bin ${binNs} ns does not divide the window ${w.startNs}-${w.endNs}`);
    }
  }
  const count = opts.count ?? 400;
  const log = opts.log ?? (() => {});
  const arms: TaprioArm[] = [];
  for (const strategy of [TAPRIO_NONE, ...(opts.strategies ?? ["skb-addr", "skb-data"])]) {
    const arm = await runArm(strategy, { ...opts, count, binNs }, sched);
    const own = Object.entries(arm.inOwnWindow).map(([k, v]) =>
      `${k} ${v === null ? "-" : (v * 100).toFixed(0)}%`
    );
    log(
      `taprio ${arm.label}: ${arm.ms} ms, classes ${JSON.stringify(arm.classes)}, ` +
        `in own window (${arm.hook}) ${own.join(", ")}${arm.error ? `, ERROR ${arm.error}` : ""}`,
    );
    arms.push(arm);
  }
  return {
    kernel: Deno.osRelease(),
    count,
    store: opts.store ?? null,
    cycleScale: scale,
    cycleNs: sched.cycleNs,
    binNs,
    windows: sched.windows,
    arms,
    ms: Math.round(performance.now() - t0),
  };
}

async function runArm(
  strategy: string,
  o: TaprioOptions & { count: number; binNs: number },
  sched: TaprioSchedule,
): Promise<TaprioArm> {
  const t0 = performance.now();
  const base = {
    strategy,
    cycleNs: sched.cycleNs,
    binNs: o.binNs,
    windows: sched.windows,
  };
  let proxy: AttachedProxy | undefined;
  let gate: GateProbe | undefined;
  let label = strategy;
  let classes: Record<string, number> = {};
  let restored: number | null = null;
  const hist: Record<GateHook, GateRow[]> = { far: [], nic: [] };
  const specs = taprioTalkers(o.count);
  try {
    const { rows } = await runScenario({
      kind: "bridge-nat",
      nicTxQueues: 4,
      talkers: specs,
      // A 40 us schedule is an hrtimer every 10-20 us: under TCG that takes most of the guest's
      // CPU, and a talker's Deno start alone has taken > 20 s (the default limit).
      talkerTimeoutMs: 90_000,
      hooks: {
        async beforeTraffic(topo, ctx) {
          await tc(topo.node.ns, ["qdisc", "replace", "dev", topo.node.nic, ...sched.args]);
          if (strategy !== TAPRIO_NONE) {
            proxy = attachProxy(topo, {
              strategy,
              optedIn: OPTED_IN,
              ...(o.store === undefined ? {} : { store: o.store }),
            });
            label = strategyLabel(strategy, proxy.trackers);
          }
          gate = attachGate({
            object: o.gateObject,
            far: { ns: topo.ext.ns, ifname: FAR_PORT },
            nic: { ns: topo.node.ns, ifname: topo.node.nic },
            cycleNs: sched.cycleNs,
            binNs: o.binNs,
            ports: ctx.talkers.map((t) => t.port),
          });
        },
        async afterTraffic(topo, ctx) {
          const qdiscs = await qdiscStats(topo.node.ns, topo.node.nic);
          classes = Object.fromEntries(
            qdiscs.filter((q) => q.parent.startsWith(`${TAPRIO.handle}:`))
              .map((q) => [q.parent, q.sentPackets]),
          );
          for (const hook of ["far", "nic"] as const) {
            hist[hook] = ctx.talkers.map((t) => ({
              talker: t.name,
              priority: t.priority,
              tc: sched.tcOfPriority[t.priority] ?? -1,
              bins: gate!.bins(hook, t.port),
            }));
          }
          if (proxy) {
            restored = Number(proxy.stats().counters["restored"] ?? 0n);
            proxy.down();
          }
          gate!.close();
        },
      },
    });
    const nicProbe = gate?.nic ?? "not attached";
    const hook: GateHook = nicProbe === "attached" ? "nic" : "far";
    const own = (h: GateRow[]) =>
      Object.fromEntries(h.map((r) => [r.talker, ownWindowFraction(r, sched.windows, o.binNs)]));
    return {
      ...base,
      label,
      classes,
      talkers: rows.map((r, i) => {
        const p = specs[i]?.priority ?? 0;
        return {
          talker: r.talker,
          priority: p,
          tc: sched.tcOfPriority[p] ?? -1,
          sent: r.sent,
          received: r.received,
          seen: r.seen,
          prioRight: r.prioRight,
        };
      }),
      hook,
      histogram: hist[hook],
      farHistogram: hist.far,
      inOwnWindow: own(hist[hook]),
      farInOwnWindow: own(hist.far),
      restored,
      nicProbe,
      ms: Math.round(performance.now() - t0),
    };
  } catch (e) {
    return {
      ...base,
      label,
      classes: {},
      talkers: [],
      hook: "far",
      histogram: [],
      farHistogram: [],
      inOwnWindow: {},
      farInOwnWindow: {},
      restored: null,
      nicProbe: gate?.nic ?? "not attached",
      ms: Math.round(performance.now() - t0),
      error: e instanceof Error ? (e.stack ?? e.message) : String(e),
    };
  } finally {
    // Normally done in afterTraffic, before the topology goes; after a failure, a best effort
    // (the tracing link is global: it must not outlive the arm).
    try {
      (gate as GateProbe | undefined)?.close();
    } catch { /* reported by the arm's error */ }
    try {
      (proxy as AttachedProxy | undefined)?.down();
    } catch { /* its netns is gone, and its pins with the topology's bpffs dir */ }
  }
}
