/**
 * The extension point for kernels: a `Runner` measures the matrix on one kernel. `HostRunner`
 * (./host_runner.ts) runs on this machine's kernel. A lab runner for the QEMU guests of lab/ (6.1,
 * 6.12: fexit loads there, taprio/etf/mqprio exist) implements the same interface; what it needs
 * is listed in {@link LAB_RUNNER_NEEDS} and bench/README.md.
 *
 * @module
 */
import type { StoreName } from "@tsn-proxy/bpf/datapath";
import type { FloodTool } from "./flood/launch.ts";
import type { Datapath, KernelId, Traffic } from "./matrix.ts";
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
  /** Releases what the runner holds (objects, temp dirs). */
  close(): Promise<void>;
}

/**
 * What a lab runner (kernels 6.1 and 6.12 in QEMU) still needs before it can implement
 * {@link Runner}; the CLI prints it when such a kernel is asked for.
 */
export const LAB_RUNNER_NEEDS: readonly string[] = [
  "a guest entry point (e.g. bench/lab/guest.ts) that builds a HostRunner inside the guest, runs " +
  "the DatapathPlan it is given and writes the DatapathOutcome with writeResult(); the host side " +
  "calls runLab({ kernel, scenarios: ['bench/lab/guest.ts'], repoPaths: ['bench', 'bpf', 'e2e', " +
  "'strategies'] })",
  "a way to hand the plan to the guest scenario (runLab option for env or an extra file in the " +
  "9p share)",
  "socat, nft, tcpdump, nsenter and sysctl in the initramfs, and e2e's BIN paths resolvable " +
  "there (/bin/ip and /bin/tc in the guest, /usr/sbin/* on the host)",
  "the bench and observer BPF objects compiled on the host and shared (no clang in the guest)",
  "taprio on the guest NIC (software mode, CLOCK_TAI) and a per-class counter read (tc -s class " +
  "show) as an extra restoration metric: the packet reached the right traffic class",
  "clsact instead of TCX on 6.1 (the datapath falls back by itself; the floor probe does too)",
  "throughput under TCG is emulated: report guest ratios only, never compare absolute rates " +
  "with the host",
];

/** Error for a kernel no runner exists for yet. */
export class RunnerUnavailableError extends Error {
  constructor(readonly kernel: KernelId) {
    super(
      `kernel ${kernel}: the lab runner is not wired yet; it needs:\n- ` +
        LAB_RUNNER_NEEDS.join("\n- "),
    );
    this.name = "RunnerUnavailableError";
  }
}
