/**
 * @module
 * The tsn-proxy datapath: load the BPF core for a strategy, attach restorers and pod savers, read
 * its stats, remove it. Everything is pinned under one bpffs directory and recorded in one state
 * file, so a restarted process adopts what is running instead of reloading it. The strategy comes
 * resolved from the caller (`@tsn-proxy/strategies` holds the registry; this package never reads it).
 *
 * @example
 * ```ts ignore
 * import { Datapath } from "@tsn-proxy/bpf/datapath";
 * import { getStrategy } from "@tsn-proxy/strategies";
 * const dp = Datapath.open({ stateFile: "/run/tsn-proxy/datapath.json", bpffs: "/sys/fs/bpf/tsn" });
 * dp.up({ strategy: getStrategy("skb-addr"), restoreOn: ["nic0"] });
 * dp.attach({ id: "pod1", netns: "/run/netns/pod1", ifname: "eth0" });
 * console.log(dp.stats().counters);
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
export { Datapath, type DatapathLocation } from "./datapath.ts";
export { type DatapathStrategy, isIfname, type RestorerCheck, type UpOptions } from "./node.ts";
export { type AttachPodOptions, fnv1a32, ownerId, type PodSettings } from "./pod.ts";
export { type DatapathStats, type HeldRecord, listRecords, sumCounters } from "./stats.ts";
export {
  type AttachMode,
  type DatapathState,
  emptyState,
  loadState,
  parseState,
  type PodState,
  type RestorerState,
  type TrackerState,
} from "./state.ts";
export { Rollback } from "./rollback.ts";
