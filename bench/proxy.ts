/**
 * The real tsn-proxy datapath on a benchmark topology, through the same loader the agent uses:
 * `up` in node1's netns with the restorer on its NIC, a saver on each opted-in pod's eth0, pins
 * under the topology's own bpffs directory (removed with the topology). Also the floor program
 * attached next to them, for the bpf_stats overhead, and the pin paths bpf_stats are read from.
 *
 * @module
 */
import { join } from "node:path";
import {
  Datapath,
  type DatapathStats,
  PinLayout,
  type StoreName,
  type TrackerState,
} from "@tsn-proxy/bpf/datapath";
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
import { getStrategy } from "@tsn-proxy/strategies";
import type { Topology } from "@tsn-proxy/e2e";
import { BENCH_PROGRAMS } from "./bpf/objects.ts";
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
 * its trackers left out, as e2e/proxy.ts does) into node1 of `topo` and attaches savers to the
 * `optedIn` pods.
 */
export function attachBenchProxy(
  topo: Topology,
  arm: string,
  store: StoreName,
  optedIn: readonly string[],
): BenchProxy {
  const bpffs = join(topo.bpffsDir, "proxy");
  const stateDir = Deno.makeTempDirSync({ prefix: `${topo.prefix}-bench-` });
  const stateFile = join(stateDir, "datapath.json");
  const { strategy: strategyName, trackers } = armOf(arm);
  const registered = getStrategy(strategyName);
  const strategy = trackers ? registered : { ...registered, trackers: [] };
  const datapath = Datapath.open({ stateFile, bpffs });
  let state;
  try {
    state = withNetns(
      topo.node.ns.path,
      () => datapath.up({ strategy, restoreOn: [topo.node.nic], store }),
    );
  } catch (e) {
    Deno.removeSync(stateDir, { recursive: true });
    throw e;
  }
  const pins = new PinLayout(bpffs);
  const saverPins = new Map<string, string>();
  let isDown = false;
  const proxy: BenchProxy = {
    strategy: arm,
    store,
    trackers: state.trackers,
    label: trackers ? strategyLabel(strategyName, state.trackers) : `${strategyName} (no tracker)`,
    restorerPin: pins.restorer,
    saverPins,
    stats: () => datapath.stats(),
    down() {
      if (isDown) return;
      isDown = true;
      try {
        withNetns(topo.node.ns.path, () => datapath.down());
      } finally {
        Deno.removeSync(stateDir, { recursive: true });
      }
    },
  };
  try {
    for (const name of optedIn) {
      const pod = topo.pod(name);
      const id = `${topo.prefix}-${name}`;
      datapath.attach({ id, netns: pod.ns.path, ifname: pod.ifname });
      saverPins.set(name, pins.podSaver(id));
    }
  } catch (e) {
    proxy.down();
    throw e;
  }
  return proxy;
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
