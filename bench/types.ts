/**
 * The shape of a benchmark run (`results.json`): what every runner returns and the report renders.
 * Numbers measured in one run only; ratios are against the `none` arm of the same round.
 *
 * @module
 */
import type { NodeCost } from "./node_cost.ts";
import type { ProgCostRow } from "./progcost.ts";
import type { Summary } from "./stats.ts";
import type { TaprioMeasurement } from "./taprio.ts";

/** Version of the results.json layout. */
export const RESULTS_SCHEMA = 3;

/** The kernel a runner measured on. */
export interface KernelInfo {
  /** `host`, `6.1`, `6.12`. */
  id: string;
  /** `uname -r`. */
  release: string;
  /** What ran it: `host` (this machine) or `lab` (a QEMU guest). */
  runner: "host" | "lab";
}

/** What the kernel allows, probed by loading things. */
export interface Capabilities {
  /** TCX links (6.6+); else clsact. */
  tcx: boolean;
  /** The skb-addr clone tracker (fexit) loads. */
  fexit: boolean;
  /** Why fexit was refused, when it was. */
  fexitReason: string | null;
  /** bpf_enable_stats works. */
  bpfStats: boolean;
  /** Possible CPUs. */
  cpus: number;
  /** A netkit pair can be created (probeNetkit); absent in results from before the probe. */
  netkit?: boolean;
}

/** Restoration of one talker, from the observer on the NIC (after the restorer). */
export interface Restoration {
  /** Records the talker sent. */
  sent: number;
  /** Records the far end received. */
  received: number;
  /** Packets the observer saw at the NIC (TCP: every segment). */
  packets: number;
  /** Packets with the talker's priority. */
  prioRight: number;
  /** Packets with priority 0 (nothing restored). */
  prioZero: number;
  /** Record packets with the right txtime value and clock type (null: no txtime traffic). */
  txtimeRight: number | null;
  /** Record packets whose txtime was lost (null: no txtime traffic). */
  txtimeMissing: number | null;
  /** Packets with metadata that is not their own. */
  wrong: {
    priority: number;
    txtime: number;
    clockType: number;
    invented: number;
    total: number;
  };
  /** Packets without their priority: packets - prioRight - wrong priority. */
  missed: number;
  /** prioRight / packets. */
  restoredFraction: number | null;
}

/** The datapath's own view after the restoration traffic. */
export interface DatapathView {
  /** Records still held after the traffic (saved, never restored). */
  recordsLeft: number;
  /** The store's capacity. */
  recordsMax: number;
  /** Counters summed over CPUs (every counter the core has). */
  counters: Record<string, number>;
}

/** One throughput round's measurement of one arm. */
export interface FloodSample {
  /** Round index. */
  round: number;
  /** Arm order in the round (0 = first). */
  position: number;
  /** Delivered per second at the far end (UDP datagrams; TCP bytes). */
  rate: number;
  /** Datagrams (UDP) or bytes (TCP) the senders handed to the kernel. */
  sent: number;
  /** UDP datagrams that reached the far end's UDP layer, or TCP bytes at the far interface. */
  far: number;
  /** Packets seen leaving the node NIC. */
  nic: number;
  /** Sending time. */
  elapsedMs: number;
  /**
   * Sender on-CPU ns per datagram (UDP) or per KiB (TCP): the transmit path's cost, softirq work
   * in the sender's context included. Unlike the rate it does not depend on how much CPU other
   * tenants left us. Null when the tool cannot tell.
   */
  cpuPerUnitNs: number | null;
}

/** Throughput of one arm (strategy or none) for one (datapath, traffic). */
export interface Throughput {
  /** `pps` (UDP) or `bytes/s` (TCP). */
  unit: "pps" | "bytes/s";
  /** Every round. */
  samples: FloodSample[];
  /** Absolute delivered rate. */
  rate: Summary;
  /** Per round: this arm's rate / the none arm's rate in the same round (null for none). */
  ratios: number[] | null;
  /** Summary of the ratios. */
  ratio: Summary | null;
  /**
   * Per round: none's sender CPU per unit / this arm's (1 = same cost; 0.9 = 11 % more CPU per
   * packet). What the rate ratio would be if the sender had a CPU to itself. Null for none.
   */
  cpuRatios: number[] | null;
  /** Summary of cpuRatios. */
  cpuRatio: Summary | null;
  /**
   * none only: per round, the rate with empty tc programs at the saver's and the restorer's hooks
   * / none's: what any program there costs.
   */
  floorRatio: Summary | null;
  /** Strategies only: per round, this arm's rate / the empty programs' rate. */
  vsFloor: Summary | null;
}

/** bpf_stats of the programs on real packets (one flood with stats on). */
export interface BpfStatsView {
  /** ns per run of the saver (all opted-in pods). */
  saverNs: number | null;
  /** ns per run of the restorer on the NIC. */
  restorerNs: number | null;
  /** ns per run of the empty program appended at pod eth0 egress (stats + dispatch floor). */
  floorPodNs: number | null;
  /** ns per run of the empty program appended at the NIC's egress. */
  floorNicNs: number | null;
  /** saverNs - floorPodNs. */
  saverNetNs: number | null;
  /** restorerNs - floorNicNs. */
  restorerNetNs: number | null;
  /** Runs counted. */
  saverRuns: number;
  /** Runs counted. */
  restorerRuns: number;
}

/** Records held by the store around a flood. */
export interface Occupancy {
  /** Sampled while the flood ran. */
  during: number | null;
  /** After the flood ended. */
  after: number | null;
  /** The store's capacity. */
  capacity: number | null;
}

/** One cell of the matrix: (kernel, datapath, strategy, traffic). */
export interface Cell {
  kernel: string;
  datapath: string;
  /** `none` or a strategy name. */
  strategy: string;
  /** The strategy as reported, e.g. `skb-addr (no tracker)`. */
  strategyLabel: string;
  /** Record store (null for none). */
  store: string | null;
  traffic: string;
  restoration: Restoration | null;
  /** The datapath's counters after the restoration traffic (shared by the cell's datapath run). */
  datapathView: DatapathView | null;
  throughput: Throughput | null;
  bpfStats: BpfStatsView | null;
  occupancy: Occupancy | null;
  /** What went wrong while measuring this cell (the cell may be partial). */
  errors: string[];
}

/** The pod that did not opt in, per (kernel, datapath, strategy). */
export interface SentinelRow {
  kernel: string;
  datapath: string;
  strategy: string;
  restoration: Restoration;
}

/** One flood tool tried in the sender calibration. */
export interface CalibrationRow {
  /** e.g. `ffi sendmmsg x2`. */
  tool: string;
  /** Datagrams per second delivered at the far end. */
  pps: number;
  /** Datagrams sent. */
  sent: number;
  /** Datagrams that arrived. */
  far: number;
}

/** A target the project set, and where the run stands. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
  /** Where the project analyses these figures: the reasons, when the target is not met. */
  analysis?: string;
}

/** results.json. */
export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  mode: "quick" | "full";
  startedAt: string;
  finishedAt: string;
  durationS: number;
  git: { commit: string; dirty: boolean } | null;
  host: { cpus: number; loadavgStart: string; loadavgEnd: string; deno: string };
  params: Record<string, unknown>;
  kernels: Array<{ kernel: KernelInfo; capabilities: Capabilities }>;
  calibration: CalibrationRow[];
  floodTool: string;
  progCost: Array<{ kernel: string; rows: ProgCostRow[] }>;
  /**
   * The CPU dimension: test-run costs in 6.12 guests booted with more possible CPUs (2 running).
   * The regular 6.12 entry of progCost is the 2-CPU point. Under TCG only ratios count.
   */
  cpuDimension: Array<{ kernel: string; cpus: number; rows: ProgCostRow[] }>;
  /** taprio per lab kernel, one measurement per cycle scale (the host kernel has no sch_taprio). */
  taprio: Array<{ kernel: string; measurements: TaprioMeasurement[] }>;
  cells: Cell[];
  sentinels: SentinelRow[];
  targets: TargetCheck[];
  /**
   * CNI ADD latency with and without tsn-proxy and the agent's memory, per node (not per cell);
   * null when not measured (reason in notMeasured).
   */
  nodeCost: NodeCost | null;
  /** Kernels or dimensions asked for but not measured, with the reason. */
  notMeasured: Array<{ what: string; reason: string }>;
}
