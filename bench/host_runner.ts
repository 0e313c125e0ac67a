/**
 * The benchmark on this machine's kernel. One topology per datapath (e2e `createTopology`, pods
 * `udp-prio`, `udp-tai`, `tcp-prio` opted in, `opt-out` not), then:
 *
 * 1. restoration: the e2e observer on the NIC; for `none` and each strategy, one talker per traffic
 *    kind plus the opt-out sentinel, all at once; the observer's per-talker counters and the
 *    datapath's counters afterwards;
 * 2. throughput (observer removed): per traffic kind, `rounds` rounds of floods, each round running
 *    every arm (`none`, strategies) once in rotated order, the datapath attached only for its arm;
 *    delivered rate counted at the far end and at the NIC;
 * 3. bpf_stats: one more flood per strategy with stats on and an empty program appended at the
 *    saver's and the restorer's hooks (the stats overhead), and the store's occupancy during and
 *    after the flood.
 *
 * @module
 */
import { DEFAULT_STORE, type StoreName } from "@tsn-proxy/bpf/datapath";
import { BpfError, BpfObject, kernelHasTcx, possibleCpus } from "@tsn-proxy/bpf/libbpf";
import { PROGRAMS } from "@tsn-proxy/bpf/gen/tsn_core";
import {
  BIN,
  createTopology,
  installObserver,
  type Observer,
  type ObserverStats,
  type Proc,
  type Receiver,
  resolveTalkers,
  runTalker,
  spawnIn,
  startReceiver,
  type TalkerSpec,
  type Topology,
  waitListening,
} from "@tsn-proxy/e2e";
import { BENCH_OBJECTS, BENCH_PROGRAMS, type BenchObjects } from "./bpf/objects.ts";
import { type FloodTool, runFlood, toolName, UDP_PAYLOAD } from "./flood/launch.ts";
import { type Datapath, NONE, SENTINEL, type Traffic, trafficOn } from "./matrix.ts";
import { linkCounters, udpArrivals, UdpSink } from "./net.ts";
import { measureProgCosts, type ProgCostRow } from "./progcost.ts";
import { nsPerRun, type RunStats, runStatsOfFd, runStatsOfPin, StatsSession } from "./progstats.ts";
import { attachBenchProxy, attachFloor, type BenchProxy, type FloorProbe } from "./proxy.ts";
import type { DatapathOutcome, DatapathPlan, ProgCostPlan, Runner } from "./runner.ts";
import { rotation, round, summarize } from "./stats.ts";
import type {
  BpfStatsView,
  CalibrationRow,
  Capabilities,
  Cell,
  DatapathView,
  FloodSample,
  KernelInfo,
  Occupancy,
  Restoration,
  SentinelRow,
  Throughput,
} from "./types.ts";

/** Progress output. */
export type Log = (line: string) => void;

const RESTORATION_BASE_PORT = 41000;
/** The throughput arm with empty programs where the datapath's programs sit. */
const FLOOR = "floor";
const FLOOD_BASE_PORT = 45000;

/** The multicast group the far end joins on bridge-flood, as startReceiver takes it. */
function join(topo: Topology): { join?: { group: string; on: string } } {
  return topo.far.joinOn === undefined ? {} : { join: { group: topo.far.ip, on: topo.far.joinOn } };
}

/** Pod name of a traffic kind (and the sentinel's). */
export function podOf(t: Traffic): string {
  return t.id;
}

/**
 * Runs the benchmark on the kernel it runs on: this machine's (`host`), or a lab guest's when the
 * guest scenario builds it from objects compiled on the host ({@link HostRunner.fromObjects}).
 */
export class HostRunner implements Runner {
  readonly kernel: KernelInfo;
  #objects: BenchObjects;
  /** A temp dir this runner owns and removes, or null. */
  #dir: string | null;
  #log: Log;

  private constructor(dir: string | null, objects: BenchObjects, log: Log, kernel: KernelInfo) {
    this.#dir = dir;
    this.#objects = objects;
    this.#log = log;
    this.kernel = kernel;
  }

  /** A runner for this machine's kernel, with a temp dir of its own and the committed bench objects. */
  static async create(log: Log = () => {}): Promise<HostRunner> {
    const dir = await Deno.makeTempDir({ prefix: "tsn-bench-" });
    try {
      const kernel: KernelInfo = { id: "host", release: Deno.osRelease(), runner: "host" };
      return new HostRunner(dir, BENCH_OBJECTS, log, kernel);
    } catch (e) {
      await Deno.remove(dir, { recursive: true });
      throw e;
    }
  }

  /**
   * A runner on objects compiled elsewhere (a lab guest has no clang), reporting as `kernel`.
   *
   * @example
   * ```ts ignore
   * const runner = HostRunner.fromObjects(objects, { id: "6.1", release: Deno.osRelease(), runner: "lab" });
   * ```
   */
  static fromObjects(objects: BenchObjects, kernel: KernelInfo, log: Log = () => {}): HostRunner {
    return new HostRunner(null, objects, log, kernel);
  }

  /** The compiled objects (for tests). */
  get objects(): BenchObjects {
    return this.#objects;
  }

  capabilities(): Promise<Capabilities> {
    let fexit = false;
    let fexitReason: string | null = null;
    const autoload = Object.fromEntries(
      [
        ...Object.values(PROGRAMS).map((p) => p.name),
        BENCH_PROGRAMS.saveRestore,
        BENCH_PROGRAMS.lruCycle,
      ].map((n) => [n, n === PROGRAMS.tsnTrackClone.name]),
    );
    const obj = BpfObject.open(this.#objects.costs, { autoload });
    try {
      obj.load();
      fexit = true;
    } catch (e) {
      fexitReason = e instanceof BpfError ? `${e.code}` : String(e).split("\n")[0] ?? "";
    } finally {
      obj.close();
    }
    let bpfStats = false;
    try {
      StatsSession.enable().close();
      bpfStats = true;
    } catch { /* reported as false */ }
    return Promise.resolve({
      tcx: kernelHasTcx(),
      fexit,
      fexitReason,
      bpfStats,
      cpus: possibleCpus(),
    });
  }

  progCost(plan: ProgCostPlan): Promise<ProgCostRow[]> {
    return Promise.resolve(measureProgCosts({
      objects: this.#objects,
      strategies: plan.strategies,
      repeat: plan.repeat,
      samples: plan.samples,
      log: this.#log,
    }));
  }

  async calibrate(
    datapath: Datapath,
    tools: readonly FloodTool[],
    durationMs: number,
  ): Promise<CalibrationRow[]> {
    const udp = { id: "udp-prio" } as Traffic;
    const topo = await createTopology({
      kind: datapath.kind,
      pods: [{ name: podOf(udp) }],
      taps: datapath.taps,
    });
    const rows: CalibrationRow[] = [];
    try {
      using _sink = new UdpSink(topo.far.ns.path, FLOOD_BASE_PORT);
      for (const tool of tools) {
        const far0 = udpArrivals(topo.far.ns.path);
        const out = await runFlood(topo.pod(podOf(udp)).ns, tool, {
          proto: "udp",
          dst: topo.far.ip,
          port: FLOOD_BASE_PORT,
          priority: 5,
          clock: "none",
          durationMs,
          maxPackets: durationMs * 1000,
        });
        await settle();
        const far = udpArrivals(topo.far.ns.path) - far0;
        const pps = far / (out.elapsedMs / 1000);
        rows.push({ tool: toolName(tool), pps: Math.round(pps), sent: out.sent, far });
        this.#log(`calibration ${toolName(tool)}: ${Math.round(pps)} pps delivered`);
      }
    } finally {
      await topo.destroy();
    }
    return rows;
  }

  async runDatapath(given: DatapathPlan): Promise<DatapathOutcome> {
    const dp = given.datapath;
    const plan: DatapathPlan = { ...given, traffic: trafficOn(dp, given.traffic) };
    const pods = [...plan.traffic, SENTINEL].map((t) => ({ name: podOf(t) }));
    const topo = await createTopology({ kind: dp.kind, pods, taps: dp.taps });
    const cells = new Map<string, Cell>();
    const sentinels: SentinelRow[] = [];
    const arms = [NONE, ...plan.strategies];
    const labels = new Map<string, string>([[NONE, "none (no proxy)"]]);
    const cellOf = (arm: string, t: Traffic): Cell => {
      const key = `${arm}|${t.id}`;
      let c = cells.get(key);
      if (!c) {
        c = {
          kernel: this.kernel.id,
          datapath: dp.id,
          strategy: arm,
          strategyLabel: labels.get(arm) ?? arm,
          store: arm === NONE ? null : plan.store,
          traffic: t.id,
          restoration: null,
          datapathView: null,
          throughput: null,
          bpfStats: null,
          occupancy: null,
          errors: [],
        };
        cells.set(key, c);
      }
      return c;
    };
    try {
      for (const [i, arm] of arms.entries()) {
        plan.signal?.throwIfAborted();
        try {
          const r = await this.#restoration(topo, plan, arm, RESTORATION_BASE_PORT + 10 * i);
          if (r.label) labels.set(arm, r.label);
          for (const t of plan.traffic) {
            const c = cellOf(arm, t);
            c.strategyLabel = labels.get(arm) ?? arm;
            c.restoration = r.rows.get(t.id) ?? null;
            c.datapathView = r.view;
          }
          const s = r.rows.get(SENTINEL.id);
          if (s) {
            sentinels.push({
              kernel: this.kernel.id,
              datapath: dp.id,
              strategy: arm,
              restoration: s,
            });
          }
        } catch (e) {
          if (plan.signal?.aborted) throw e;
          for (const t of plan.traffic) cellOf(arm, t).errors.push(`restoration: ${message(e)}`);
          this.#log(`[${dp.id}] restoration ${arm} failed: ${message(e)}`);
        }
      }
      if (plan.throughput) {
        for (const [i, t] of plan.traffic.entries()) {
          plan.signal?.throwIfAborted();
          try {
            await this.#throughput(topo, plan, t, FLOOD_BASE_PORT + i, (arm) => cellOf(arm, t));
          } catch (e) {
            if (plan.signal?.aborted) throw e;
            for (const arm of arms) cellOf(arm, t).errors.push(`throughput: ${message(e)}`);
            this.#log(`[${dp.id}] throughput ${t.id} failed: ${message(e)}`);
          }
        }
      }
    } finally {
      await topo.destroy();
    }
    for (const c of cells.values()) c.strategyLabel = labels.get(c.strategy) ?? c.strategy;
    return { cells: [...cells.values()], sentinels };
  }

  async #restoration(
    topo: Topology,
    plan: DatapathPlan,
    arm: string,
    basePort: number,
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
      observer = await installObserver({
        ns: topo.node.ns,
        ifname: topo.node.nic,
        bpffsDir: topo.bpffsDir,
      });
      for (const t of talkers) {
        await observer.expect(t.port, {
          pod: t.podId,
          priority: t.priority,
          record: t.protocol === "udp",
        });
        receivers.push(await startReceiver(topo.far.ns, t.protocol, t.port, undefined, join(topo)));
      }
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
      this.#log(
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

  async #throughput(
    topo: Topology,
    plan: DatapathPlan,
    t: Traffic,
    port: number,
    cellOf: (arm: string) => Cell,
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
              attachFloor(this.#objects.empty, pod.ns.path, pod.ifname),
              attachFloor(this.#objects.empty, topo.node.ns.path, topo.node.nic),
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
        this.#log(
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
          const { stats, occupancy } = await this.#statsArm(
            topo,
            plan,
            arm,
            pod.name,
            flood,
          );
          cellOf(arm).bpfStats = stats;
          cellOf(arm).occupancy = occupancy;
          this.#log(
            `[${plan.datapath.id}] ${t.id} bpf_stats ${arm}: saver ${
              stats.saverNs?.toFixed(0)
            } ns ` +
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

  async #statsArm(
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
      floors.push(attachFloor(this.#objects.empty, pod.ns.path, pod.ifname));
      floors.push(attachFloor(this.#objects.empty, topo.node.ns.path, topo.node.nic));
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

  async close(): Promise<void> {
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
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

function fmtRate(rate: number, t: Traffic): string {
  return t.protocol === "udp"
    ? `${(rate / 1000).toFixed(1)} kpps`
    : `${(rate / 1e6).toFixed(1)} MB/s`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] ?? "" : String(e);
}

/** Lets packets still in flight (softirq backlog) reach the counters. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}

/** The default store, re-exported for callers that build plans. */
export const BENCH_DEFAULT_STORE: StoreName = DEFAULT_STORE;

/** Payload of the flood datagrams (for the report). */
export const FLOOD_UDP_PAYLOAD = UDP_PAYLOAD;
