/**
 * The benchmark on one kernel, given a {@link Runner}: capabilities, BPF_PROG_TEST_RUN costs, the
 * flood-sender calibration, then every datapath. The host bench calls it with a HostRunner; the
 * lab guest scenario (bench/lab/guest.ts) calls it with a HostRunner inside the guest, so both
 * kernels are measured by the same code. The plan is plain JSON: it travels to the guest.
 *
 * @module
 */
import type { StoreName } from "@tsn-proxy/bpf/datapath";
import type { Log } from "./host_runner.ts";
import { type FloodTool, toolName } from "@tsn-proxy/sim/flood";
import { getStrategy } from "@tsn-proxy/strategies";
import { type Datapath, DATAPATHS, TRAFFIC, type Traffic, UNTRACKED } from "./matrix.ts";
import type { ProgCostRow } from "./progcost.ts";
import type { Runner } from "./runner.ts";
import type { CalibrationRow, Capabilities, Cell, KernelInfo, SentinelRow } from "./types.ts";

/** What to measure on one kernel (JSON: it is handed to lab guests). */
export interface KernelPlan {
  /** Datapath ids (see DATAPATHS). */
  readonly datapaths: readonly string[];
  /** Traffic ids (see TRAFFIC). */
  readonly traffic: readonly string[];
  readonly strategies: readonly string[];
  readonly store: StoreName;
  readonly restorationCount: number;
  /** Paired throughput rounds (0: no throughput, no bpf_stats). */
  readonly rounds: number;
  readonly floodMs: number;
  readonly repeat: number;
  readonly samples: number;
  /** Flood tools to calibrate (the best FFI one is used), or one fixed tool. */
  readonly floodTools: readonly FloodTool[];
  /** Calibration flood length (0: use the first tool without calibrating). */
  readonly calibrateMs: number;
}

/** What one kernel gave. */
export interface KernelOutcome {
  kernel: KernelInfo;
  capabilities: Capabilities;
  progCost: ProgCostRow[];
  calibration: CalibrationRow[];
  /** The flood tool the throughput rounds used. */
  floodTool: string;
  cells: Cell[];
  sentinels: SentinelRow[];
}

function pick<T extends { id: string }>(all: readonly T[], ids: readonly string[], what: string) {
  return ids.map((id) => {
    const found = all.find((x) => x.id === id);
    if (!found) throw new Error(`unknown ${what} ${id}`);
    return found;
  });
}

/** The best flood tool of a calibration that can carry txtimes and TCP (the FFI sender). */
export function chooseTool(rows: readonly CalibrationRow[], tools: readonly FloodTool[]): {
  tool: FloodTool;
  note: string | null;
} {
  const best = rows.reduce((a, b) => (b.pps > a.pps ? b : a), rows[0]!);
  const tool = tools.find((t) => toolName(t) === best.tool) ?? tools[0]!;
  if (tool.kind === "ffi") return { tool, note: null };
  // socat cannot carry a txtime nor speak TCP: the FFI sender floods those.
  const ffi = tools.filter((t) => t.kind === "ffi");
  const bestFfi = rows.filter((r) => ffi.some((t) => toolName(t) === r.tool))
    .reduce((a, b) => (b.pps > a.pps ? b : a));
  return {
    tool: ffi.find((t) => toolName(t) === bestFfi.tool) ?? tool,
    note: `calibration: ${best.tool} floods best, but the matrix needs txtime and TCP`,
  };
}

/**
 * The datapaths a kernel can carry: netkit rows only where a netkit pair could be created.
 *
 * @example
 * ```ts
 * import { datapathsOn } from "./kernel_run.ts";
 * import { DATAPATHS } from "./matrix.ts";
 * const caps = { tcx: true, fexit: false, fexitReason: "EPERM", bpfStats: true, cpus: 2, netkit: false };
 * datapathsOn(DATAPATHS, caps).skipped; // ["routed-netkit-l3", "routed-netkit-l2"]
 * ```
 */
export function datapathsOn(
  datapaths: readonly Datapath[],
  caps: Capabilities,
): { measured: Datapath[]; skipped: string[] } {
  const measured = datapaths.filter((dp) => !dp.netkit || caps.netkit === true);
  const skipped = datapaths.filter((dp) => !measured.includes(dp)).map((dp) => dp.id);
  return { measured, skipped };
}

/**
 * The strategy arms of a kernel: every strategy and, where fexit loads, each strategy that has
 * trackers once more without them (`skb-addr/no-tracker`), to show what the tracker is for. Where
 * fexit is refused, the strategy itself already runs without its tracker.
 */
export function armsOn(strategies: readonly string[], caps: Capabilities): string[] {
  const untracked = caps.fexit
    ? strategies.filter((s) => getStrategy(s).trackers.length > 0).map((s) => `${s}${UNTRACKED}`)
    : [];
  return [...strategies, ...untracked];
}

/**
 * Measures `plan` with `runner`.
 *
 * @example
 * ```ts ignore
 * const out = await measureKernel(HostRunner.create(log), plan, log);
 * console.log(out.cells.length);
 * ```
 */
export async function measureKernel(
  runner: Runner,
  plan: KernelPlan,
  log: Log,
  signal?: AbortSignal,
): Promise<KernelOutcome> {
  const datapaths: Datapath[] = pick(DATAPATHS, plan.datapaths, "datapath");
  const traffic: Traffic[] = pick(TRAFFIC, plan.traffic, "traffic");
  const capabilities = await runner.capabilities();
  log(`kernel ${runner.kernel.id} ${runner.kernel.release}: ${JSON.stringify(capabilities)}`);
  const { measured, skipped } = datapathsOn(datapaths, capabilities);
  if (skipped.length) log(`no netkit on this kernel: ${skipped.join(", ")} not measured`);
  const progCost = await runner.progCost({
    strategies: plan.strategies,
    repeat: plan.repeat,
    samples: plan.samples,
  });
  let tool = plan.floodTools[0]!;
  let calibration: CalibrationRow[] = [];
  if (
    measured.length > 0 && plan.rounds > 0 && plan.calibrateMs > 0 &&
    plan.floodTools.length > 1
  ) {
    calibration = await runner.calibrate(measured[0]!, plan.floodTools, plan.calibrateMs);
    const chosen = chooseTool(calibration, plan.floodTools);
    tool = chosen.tool;
    if (chosen.note) log(chosen.note);
  }
  const arms = armsOn(plan.strategies, capabilities);
  const out: KernelOutcome = {
    kernel: runner.kernel,
    capabilities,
    progCost,
    calibration,
    floodTool: toolName(tool),
    cells: [],
    sentinels: [],
  };
  for (const dp of measured) {
    signal?.throwIfAborted();
    const t1 = performance.now();
    log(`[${runner.kernel.id} ${dp.id}] start`);
    const r = await runner.runDatapath({
      datapath: dp,
      strategies: arms,
      store: plan.store,
      traffic,
      restorationCount: plan.restorationCount,
      throughput: plan.rounds > 0
        ? { rounds: plan.rounds, durationMs: plan.floodMs, tool, statsArm: true }
        : null,
      ...(signal ? { signal } : {}),
    });
    out.cells.push(...r.cells);
    out.sentinels.push(...r.sentinels);
    log(
      `[${runner.kernel.id} ${dp.id}] done in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
    );
  }
  return out;
}
