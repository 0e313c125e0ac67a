/**
 * Plugs the real tsn-proxy datapath into a simulated topology: `up` in node1's netns with restorers on
 * its NIC, savers on the opted-in pods' eth0, stats and teardown through the same loader the agent
 * uses. Pins go under the topology's own bpffs directory.
 *
 * @example
 * ```ts ignore
 * import { attachProxy } from "./proxy.ts";
 * const proxy = attachProxy(topo, { strategy: "skb-addr", optedIn: ["a", "b"] });
 * // ... traffic ...
 * console.log(proxy.stats().counters.restored);
 * proxy.down();
 * ```
 */
import { join } from "node:path";
import {
  attachPod,
  type AttachPodOptions,
  type DatapathStats,
  down,
  listRecords,
  PinLayout,
  readStats,
  removePodAttachment,
  type StoreName,
  STORES,
  type TrackerState,
  up,
} from "@tsn-proxy/bpf/datapath";
import { BpfMap, monotonicNs, withNetns } from "@tsn-proxy/bpf/libbpf";
import { getStrategy } from "@tsn-proxy/strategies";
import type { Topology } from "./topology.ts";

/** The proxy as a test sees it. */
export interface AttachedProxy {
  /** Tracker outcome at load. */
  readonly trackers: readonly TrackerState[];
  /** The pins under the topology's bpffs directory (restorer, savers, maps). */
  readonly pins: PinLayout;
  /** The datapath id of a pod's attachment (for `pins.podSaver`). */
  podId(name: string): string;
  /** The datapath's stats right now. */
  stats(): DatapathStats;
  /** Records still applicable (younger than the age bound) of TCP and UDP packets. */
  liveTalkerRecords(): number;
  /** Removes everything (idempotent). */
  down(): void;
}

/** What to attach. */
export interface ProxyOptions {
  /** Strategy name. */
  readonly strategy: string;
  /** Pods (by name) that get a saver; the others did not opt in. */
  readonly optedIn: readonly string[];
  /** Priority clamp for the opted-in pods. */
  readonly maxPriority?: number;
  /**
   * Per opted-in pod (by name), what its namespace policy and annotations would give its saver:
   * a clamp (overrides `maxPriority`), a default class, a txtime rule. Default: none of them.
   */
  readonly pods?: Readonly<
    Record<string, Pick<AttachPodOptions, "maxPriority" | "defaultPriority" | "txtime">>
  >;
  /**
   * Load the strategy's trackers (default true). false loads the same strategy with its tracker
   * list emptied: what a node whose kernel refuses fexit runs, on a kernel that would allow it.
   */
  readonly trackers?: boolean;
  /** Interfaces of node1 that get a restorer; default `[topo.node.nic]`. */
  readonly restoreOn?: readonly string[];
  /** Record store (default: the datapath's default). */
  readonly store?: StoreName;
}

/** Loads the datapath into node1 of `topo` and attaches savers to the opted-in pods. */
export function attachProxy(topo: Topology, opts: ProxyOptions): AttachedProxy {
  const bpffs = join(topo.bpffsDir, "proxy");
  const stateDir = Deno.makeTempDirSync({ prefix: `${topo.prefix}-state-` });
  const stateFile = join(stateDir, "datapath.json");
  const registered = getStrategy(opts.strategy);
  const strategy = opts.trackers === false ? { ...registered, trackers: [] } : registered;
  const restoreOn = opts.restoreOn ?? [topo.node.nic];
  let state;
  try {
    state = withNetns(
      topo.node.ns.path,
      () =>
        up({
          strategy,
          bpffs,
          restoreOn,
          stateFile,
          ...(opts.store === undefined ? {} : { store: opts.store }),
        }),
    );
  } catch (e) {
    Deno.removeSync(stateDir, { recursive: true });
    throw e;
  }
  const pins = new PinLayout(bpffs);
  const podId = (name: string) => `${topo.prefix}-${name}`;
  let isDown = false;
  const proxy: AttachedProxy = {
    trackers: state.trackers,
    pins,
    podId,
    stats: () => readStats(stateFile),
    liveTalkerRecords() {
      // Pods also send kernel control packets with a priority (MLD, ND: TC_PRIO_CONTROL) that
      // never leave through the NIC; only TCP/UDP records are a talker's.
      using records = BpfMap.fromPinned(pins.records);
      using buckets = BpfMap.fromPinned(pins.buckets);
      const now = monotonicNs();
      return listRecords(STORES[state.store], { records, buckets }).filter((h) =>
        now - h.record.savedNs <= BigInt(state.maxAgeNs) &&
        (h.record.origin.proto === 6 || h.record.origin.proto === 17)
      ).length;
    },
    down() {
      if (isDown) return;
      isDown = true;
      try {
        withNetns(
          topo.node.ns.path,
          () => down(bpffs, stateFile, (p) => removePodAttachment(bpffs, p)),
        );
      } finally {
        Deno.removeSync(stateDir, { recursive: true });
      }
    },
  };
  try {
    const unknown = Object.keys(opts.pods ?? {}).filter((n) => !opts.optedIn.includes(n));
    if (unknown.length) throw new Error(`pods ${unknown.join(", ")} have settings but no saver`);
    for (const name of opts.optedIn) {
      const pod = topo.pod(name);
      attachPod({
        stateFile,
        id: podId(name),
        netns: pod.ns.path,
        ifname: pod.ifname,
        ...(opts.maxPriority === undefined ? {} : { maxPriority: opts.maxPriority }),
        ...opts.pods?.[name],
      });
    }
  } catch (e) {
    proxy.down();
    throw e;
  }
  return proxy;
}
