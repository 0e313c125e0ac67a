/**
 * @module
 * The tsn-proxy benchmark: a matrix of strategy (`none`, `skb-addr`, `skb-data`, and
 * `skb-addr/no-tracker` where fexit loads) × datapath (bridge-nat, routed-nat, vxlan, each also
 * with taps, and the clone-heavy bridge-flood) × traffic (UDP + SO_PRIORITY, UDP + SCM_TXTIME TAI,
 * TCP + SO_PRIORITY) × kernel (the host; Debian's 6.1 and 6.12 in lab guests, with taprio),
 * measuring restoration (observer on the NIC), per-program cost (BPF_PROG_TEST_RUN and bpf_stats),
 * delivered rate against the no-proxy baseline and against empty programs in paired rounds, store
 * occupancy, and taprio's packets per gate. `deno task bench [--quick]`.
 *
 * @example
 * ```ts ignore
 * import { defaultOptions, runBench } from "@tsn-proxy/bench";
 * const res = await runBench(defaultOptions("quick", "/tmp/bench", console.error));
 * console.log(res.targets);
 * ```
 */
export {
  type BenchOptions,
  defaultOptions,
  type LabOptions,
  labPlan,
  publishLatest,
  resultsRoot,
  runBench,
  stamp,
} from "./bench.ts";
export { HostRunner, type Log } from "./host_runner.ts";
export { restorationOf } from "./restoration_arm.ts";
export {
  type AgentMemory,
  measureNodeCost,
  type NodeCost,
  type PodPoint,
  type RestorerCost,
} from "./node_cost.ts";
export {
  type Datapath,
  DATAPATHS,
  KERNEL_IDS,
  type KernelId,
  NONE,
  pickDatapaths,
  pickTraffic,
  SENTINEL,
  TRAFFIC,
  type Traffic,
} from "./matrix.ts";
export {
  type DatapathOutcome,
  type DatapathPlan,
  type ProgCostPlan,
  type Runner,
} from "./runner.ts";
export { type KernelOutcome, type KernelPlan, measureKernel } from "./kernel_run.ts";
export { type LabOutcome, measureLabKernel } from "./lab_runner.ts";
export { measureProgCosts, type ProgCostOptions, type ProgCostRow } from "./progcost.ts";
export {
  decodeRunStats,
  nsPerRun,
  type RunStats,
  runStatsOfFd,
  runStatsOfPin,
  StatsSession,
} from "./progstats.ts";
export { stdoutSummary, writeReport } from "./report.ts";
export { checkTargets, TARGETS, wrongByStrategy } from "./verdicts.ts";
export { renderReport, summaryTable } from "./report_tables.ts";
export { renderPlots } from "./report_plots.ts";
export { REPORT_FILES } from "./report_format.ts";
export {
  measureTaprio,
  TAPRIO_TCG_SCALE,
  type TaprioArm,
  type TaprioMeasurement,
  type TaprioOptions,
} from "./taprio.ts";
export { taprioMarkdown, taprioSvg } from "./taprio_report.ts";
export { attachGate, type GateOptions, type GateProbe } from "./gate.ts";
export type * from "./types.ts";
