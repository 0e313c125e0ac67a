/**
 * @module
 * tsn-proxy's public API: restores the SO_PRIORITY and SCM_TXTIME metadata of pod packets that the
 * kernel scrubs on the veth crossing, so TSN qdiscs on the node's NIC schedule them right.
 *
 * - the datapath: load the BPF core for a strategy, attach restorers and pod savers, stats;
 * - the strategies that key packets (`skb-addr`, `skb-data`);
 * - the node agent and its config (CNI plugin server, conf reconciler, metrics).
 *
 * @example
 * ```ts ignore
 * import { Datapath, getStrategy } from "./mod.ts";
 * const dp = Datapath.open({ stateFile: "/run/tsn-proxy/datapath.json", bpffs: "/sys/fs/bpf/tsn" });
 * dp.up({ strategy: getStrategy("skb-addr"), restoreOn: ["nic0"] });
 * dp.attach({ id: "pod1", netns: "/run/netns/pod1", ifname: "eth0", maxPriority: 3 });
 * console.log(dp.stats().counters.restored);
 * ```
 */
export * from "@tsn-proxy/bpf/datapath";
export * from "@tsn-proxy/strategies";
export {
  agentCommand,
  type AgentConfig,
  loadConfig,
  parseConfig,
  runAgent,
} from "@tsn-proxy/agent";
