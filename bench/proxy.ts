/**
 * The real tsn-proxy datapath on a benchmark topology (sim/proxy.ts: the loader the agent uses,
 * pins under the topology's bpffs directory), labelled by the bench's arm. Also the floor program
 * attached next to them, for the bpf_stats overhead, and the pin paths bpf_stats are read from.
 *
 * @module
 */
import type { DatapathStats, StoreName, TrackerState } from "@tsn-proxy/bpf/datapath";
import {
  attachTcx,
  type BpfLink,
  BpfObject,
  ifindex,
  kernelHasTcx,
  tcAttach,
  tcDetach,
  withNetns,
} from "@tsn-proxy/bpf/libbpf";
import type { Topology } from "@tsn-proxy/sim";
import { attachProxy } from "@tsn-proxy/sim/proxy";
import { BENCH_PROGRAMS } from "./bpf/build.ts";
import { armOf } from "./matrix.ts";

/** An attached datapath. */
export interface BenchProxy {
  /** The arm: a strategy name, or `<name>/no-tracker`. */
  readonly strategy: string;
  /** The store it runs with. */
  readonly store: StoreName;
  /** Tracker outcome at load. */
  readonly trackers: readonly TrackerState[];
  /** `skb-addr (no tracker)` when a tracker was refused, else the strategy name. */
  readonly label: string;
  /** Pin of the node's restorer program. */
  readonly restorerPin: string;
  /** Pin of each opted-in pod's saver program, by pod name. */
  readonly saverPins: ReadonlyMap<string, string>;
  /** The datapath's stats now. */
  stats(): DatapathStats;
  /** Removes everything (idempotent). */
  down(): void;
}

/** Strategy label as the report shows it: a refused tracker is part of the name. */
export function strategyLabel(name: string, trackers: readonly TrackerState[]): string {
  return trackers.some((t) => t.state === "unavailable") ? `${name} (no tracker)` : name;
}

/**
 * Loads the datapath of `arm` (a strategy name, or `<name>/no-tracker`: the same strategy with
 * its trackers left out) into node1 of `topo` through sim's `attachProxy` and attaches savers to
 * the `optedIn` pods.
 */
export function attachBenchProxy(
  topo: Topology,
  arm: string,
  store: StoreName,
  optedIn: readonly string[],
): BenchProxy {
  const { strategy: strategyName, trackers } = armOf(arm);
  const proxy = attachProxy(topo, { strategy: strategyName, trackers, store, optedIn });
  return {
    strategy: arm,
    store,
    trackers: proxy.trackers,
    label: trackers ? strategyLabel(strategyName, proxy.trackers) : `${strategyName} (no tracker)`,
    restorerPin: proxy.pins.restorer,
    saverPins: new Map(optedIn.map((n) => [n, proxy.pins.podSaver(proxy.podId(n))])),
    stats: proxy.stats,
    down: proxy.down,
  };
}

/** The empty program attached at one egress hook (after whatever is there). */
export interface FloorProbe {
  /** Its program fd (for bpf_stats). */
  readonly fd: number;
  /** Detaches and unloads it. Idempotent. */
  close(): void;
}

/** Clsact handle/priority the benchmark uses where TCX is missing (after every other filter). */
const FLOOR_CLSACT = { handle: 0xbe, priority: 0xfff8 };

/**
 * Loads `bench_empty` from `emptyObject` and appends it at egress of `ifname` in the netns at
 * `nsPath`: a TCX link kept open by this process (closed by `close()`, or by the kernel when the
 * process exits), or a clsact filter on kernels without TCX.
 */
export function attachFloor(emptyObject: string, nsPath: string, ifname: string): FloorProbe {
  const obj = BpfObject.open(emptyObject);
  try {
    obj.load();
    const prog = obj.program(BENCH_PROGRAMS.empty);
    const index = withNetns(nsPath, () => ifindex(ifname));
    let link: BpfLink | undefined;
    if (kernelHasTcx()) {
      link = withNetns(nsPath, () => attachTcx(prog, index, "egress"));
    } else {
      withNetns(nsPath, () => tcAttach(prog, index, "egress", { ...FLOOR_CLSACT, replace: true }));
    }
    let closed = false;
    return {
      fd: prog.fd,
      close() {
        if (closed) return;
        closed = true;
        try {
          if (link) {
            try {
              link.detach();
            } catch {
              link.close(); // the device (and so the attachment) is gone already
            }
          } else {
            withNetns(nsPath, () => {
              try {
                tcDetach(index, "egress", FLOOR_CLSACT);
              } catch { /* the device is gone */ }
            });
          }
        } finally {
          obj.close();
        }
      },
    };
  } catch (e) {
    obj.close();
    throw e;
  }
}
