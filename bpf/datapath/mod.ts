/**
 * @module
 * The tsn-proxy datapath: load the BPF core for a strategy, attach restorers and pod savers, read
 * its stats, remove it. Everything is pinned under one bpffs directory and recorded in one state
 * file, so a restarted process adopts what is running instead of reloading it.
 *
 * @example
 * ```ts ignore
 * import { attachPod, readStats, up } from "@tsn-proxy/bpf/datapath";
 * import { getStrategy } from "@tsn-proxy/strategies";
 * const stateFile = "/run/tsn-proxy/datapath.json";
 * up({ strategy: getStrategy("skb-addr"), bpffs: "/sys/fs/bpf/tsn", restoreOn: ["nic0"], stateFile });
 * attachPod({ stateFile, id: "pod1", netns: "/run/netns/pod1", ifname: "eth0" });
 * console.log(readStats(stateFile).counters);
 * ```
 */
export {
  coreConfig,
  coreObjectPath,
  DEFAULT_MAX_AGE_NS,
  DEFAULT_STORE,
  NO_CLAMP,
  openCore,
  STORE_MAPS,
  type StoreName,
  storeName,
  STORES,
  type TxtimeRule,
} from "./core.ts";
export { checkPodId, PinLayout } from "./layout.ts";
export { checkRestorers, down, isIfname, type RestorerCheck, up, type UpOptions } from "./node.ts";
export {
  attachPod,
  type AttachPodOptions,
  detachPod,
  fnv1a32,
  ownerId,
  removePodAttachment,
  setPodClamp,
  setPodSettings,
} from "./pod.ts";
export {
  type DatapathStats,
  type HeldRecord,
  listRecords,
  readStats,
  sumCounters,
} from "./stats.ts";
export {
  type AttachMode,
  type DatapathState,
  loadState,
  type PodState,
  type RestorerState,
  type TrackerState,
} from "./state.ts";
export { Rollback } from "./rollback.ts";
