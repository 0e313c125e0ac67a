/**
 * The benchmark on this machine's kernel. One topology per datapath (sim's `createTopology`, pods
 * `udp-prio`, `udp-tai`, `tcp-prio` opted in, `opt-out` not), then its arms, one module each:
 *
 * 1. restoration (./restoration_arm.ts): the observer's and the datapath's counters per talker;
 * 2. throughput (./throughput_arm.ts): rounds of floods per traffic kind, every arm in rotated
 *    order, the rate delivered at the far end and at the NIC;
 * 3. bpf_stats (./stats_arm.ts): the programs' cost and the store's occupancy under a flood.
 *
 * This class holds the compiled objects, probes capabilities, calibrates, and assembles the cells.
 *
 * @module
 */
import {
  BpfError,
  BpfObject,
  kernelHasTcx,
  possibleCpus,
  probeNetkit,
} from "@tsn-proxy/bpf/libbpf";
import { PROGRAMS } from "@tsn-proxy/bpf/gen/tsn_core";
import { createTopology } from "@tsn-proxy/sim";
import { netkitPods } from "@tsn-proxy/sim/netkit";
import { BENCH_OBJECTS, BENCH_PROGRAMS, type BenchObjects } from "./bpf/objects.ts";
import { type FloodTool, runFlood, toolName } from "@tsn-proxy/sim/flood";
import { type Datapath, NONE, podOf, SENTINEL, type Traffic, trafficOn } from "./matrix.ts";
import { udpArrivals, UdpSink } from "./net.ts";
import { measureProgCosts, type ProgCostRow } from "./progcost.ts";
import { StatsSession } from "./progstats.ts";
import type { DatapathOutcome, DatapathPlan, ProgCostPlan, Runner } from "./runner.ts";
import { restorationArm } from "./restoration_arm.ts";
import { settle, throughputArm } from "./throughput_arm.ts";
import type { CalibrationRow, Capabilities, Cell, KernelInfo, SentinelRow } from "./types.ts";

/** Progress output. */
export type Log = (line: string) => void;

const RESTORATION_BASE_PORT = 41000;
const FLOOD_BASE_PORT = 45000;

/**
 * Runs the benchmark on the kernel it runs on: this machine's (`host`), or a lab guest's when the
 * guest scenario builds it from objects compiled on the host ({@link HostRunner.fromObjects}).
 */
export class HostRunner implements Runner {
  readonly kernel: KernelInfo;
  #objects: BenchObjects;
  #log: Log;

  private constructor(objects: BenchObjects, log: Log, kernel: KernelInfo) {
    this.#objects = objects;
    this.#log = log;
    this.kernel = kernel;
  }

  /** A runner for this machine's kernel, on the committed bench objects. */
  static create(log: Log = () => {}): HostRunner {
    const kernel: KernelInfo = { id: "host", release: Deno.osRelease(), runner: "host" };
    return new HostRunner(BENCH_OBJECTS, log, kernel);
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
    return new HostRunner(objects, log, kernel);
  }

  /** The compiled objects (for tests). */
  get objects(): BenchObjects {
    return this.#objects;
  }

  async capabilities(): Promise<Capabilities> {
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
    const netkit = (await probeNetkit()).supported === true;
    return {
      tcx: kernelHasTcx(),
      fexit,
      fexitReason,
      bpfStats,
      cpus: possibleCpus(),
      netkit,
    };
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
      if (datapath.netkit) await netkitPods(topo, datapath.netkit, "default");
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
    try {
      if (dp.netkit) await netkitPods(topo, dp.netkit, "default");
    } catch (e) {
      await topo.destroy();
      throw e;
    }
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
          const r = await restorationArm(
            topo,
            plan,
            arm,
            RESTORATION_BASE_PORT + 10 * i,
            this.#log,
          );
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
          for (const t of plan.traffic) cellOf(arm, t).errors.push(`restoration: ${firstLine(e)}`);
          this.#log(`[${dp.id}] restoration ${arm} failed: ${firstLine(e)}`);
        }
      }
      if (plan.throughput) {
        for (const [i, t] of plan.traffic.entries()) {
          plan.signal?.throwIfAborted();
          try {
            await throughputArm(
              this.#objects,
              topo,
              plan,
              t,
              FLOOD_BASE_PORT + i,
              (arm) => cellOf(arm, t),
              this.#log,
            );
          } catch (e) {
            if (plan.signal?.aborted) throw e;
            for (const arm of arms) cellOf(arm, t).errors.push(`throughput: ${firstLine(e)}`);
            this.#log(`[${dp.id}] throughput ${t.id} failed: ${firstLine(e)}`);
          }
        }
      }
    } finally {
      await topo.destroy();
    }
    for (const c of cells.values()) c.strategyLabel = labels.get(c.strategy) ?? c.strategy;
    return { cells: [...cells.values()], sentinels };
  }
}

/**
 * The first line of what a caught value says (reports keep one line per failure). Not
 * agent/log.ts's errorMessage: this module also runs in lab guests, which share no agent/.
 */
function firstLine(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] ?? "" : String(e);
}
