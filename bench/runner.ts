/**
 * What measures the matrix on one kernel: `HostRunner` (./host_runner.ts) on the kernel it runs
 * on, this machine's or, inside a lab guest (bench/lab/guest.ts), the guest's. kernel_run.ts
 * drives it the same way in both places.
 *
 * @module
 */
import type { StoreName } from "@tsn-proxy/bpf/datapath";
import type { FloodTool } from "@tsn-proxy/sim/flood";
import type { Datapath, Traffic } from "./matrix.ts";
import type { ProgCostRow } from "./progcost.ts";
import type { CalibrationRow, Capabilities, Cell, KernelInfo, SentinelRow } from "./types.ts";

/** What to measure on one datapath. */
export interface DatapathPlan {
  readonly datapath: Datapath;
  /** Strategy names (the `none` arm is always measured too). */
  readonly strategies: readonly string[];
  /** The record store the strategies run with. */
  readonly store: StoreName;
  readonly traffic: readonly Traffic[];
  /** Records per restoration talker. */
  readonly restorationCount: number;
  /** Paired throughput rounds, or null to skip throughput. */
  readonly throughput: {
    /** Rounds; each runs every arm once, in rotated order. */
    readonly rounds: number;
    /** Flood length per arm. */
    readonly durationMs: number;
    /** The sender. */
    readonly tool: FloodTool;
    /** One more flood per strategy with bpf_stats on and the floor programs attached. */
    readonly statsArm: boolean;
  } | null;
  /** Stops the plan between arms (everything attached is still removed). */
  readonly signal?: AbortSignal;
}

/** What one datapath gave. */
export interface DatapathOutcome {
  readonly cells: Cell[];
  readonly sentinels: SentinelRow[];
}

/** Options of {@link Runner.progCost}. */
export interface ProgCostPlan {
  readonly strategies: readonly string[];
  readonly repeat: number;
  readonly samples: number;
}

/** Measures the benchmark on one kernel. */
export interface Runner {
  /** The kernel it runs on. */
  readonly kernel: KernelInfo;
  /** What the kernel allows (probed by loading programs). */
  capabilities(): Promise<Capabilities>;
  /** Per-program cost by BPF_PROG_TEST_RUN. */
  progCost(plan: ProgCostPlan): Promise<ProgCostRow[]>;
  /** Tries flood tools on the first datapath without a proxy; returns delivered pps of each. */
  calibrate(
    datapath: Datapath,
    tools: readonly FloodTool[],
    durationMs: number,
  ): Promise<CalibrationRow[]>;
  /** Restoration, throughput, bpf_stats and occupancy of every strategy and traffic. */
  runDatapath(plan: DatapathPlan): Promise<DatapathOutcome>;
}
