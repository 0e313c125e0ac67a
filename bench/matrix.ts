/**
 * The benchmark's dimensions: kernels, strategies (with `none`, the no-proxy baseline), datapaths
 * (the sim topologies, each also with AF_PACKET taps: the clone-heavy variant) and traffic.
 *
 * @module
 */
import type { TopologyKind } from "@tsn-proxy/sim";
import type { NetkitMode } from "@tsn-proxy/bpf/libbpf";

/** The no-proxy baseline arm. */
export const NONE = "none";

/** A datapath of the matrix: a sim topology, with or without taps. */
export interface Datapath {
  /** `bridge-nat`, `vxlan+taps`, ... */
  readonly id: string;
  /** The sim topology kind. */
  readonly kind: TopologyKind;
  /** tcpdump on every pod veth and the bridge: every packet is cloned on its way. */
  readonly taps: boolean;
  /**
   * The pods' veths replaced by netkit pairs in this mode, default scrub, as Cilium's netkit mode
   * wires them (sim/netkit.ts; routed-nat only; kernels where probeNetkit creates a pair).
   */
  readonly netkit?: NetkitMode;
}

const KINDS: readonly TopologyKind[] = ["bridge-nat", "routed-nat", "vxlan"];

/**
 * Every datapath: the three topologies, the same with taps, and the clone-heavy path
 * `bridge-flood` (nic0 a port of the pods' bridge, talkers sending to a multicast group: br_flood()
 * hands nic0 a clone of every packet, the case skb-addr's tracker exists for; UDP only), and the
 * routed datapath with netkit pods in l3 and l2 mode (measured only where the kernel has netkit).
 */
export const DATAPATHS: readonly Datapath[] = [
  ...KINDS.map((kind): Datapath => ({ id: kind, kind, taps: false })),
  ...KINDS.map((kind): Datapath => ({ id: `${kind}+taps`, kind, taps: true })),
  { id: "bridge-flood", kind: "bridge-flood", taps: false },
  ...(["l3", "l2"] as const).map((mode): Datapath => ({
    id: `routed-netkit-${mode}`,
    kind: "routed-nat",
    taps: false,
    netkit: mode,
  })),
];

/** The traffic a datapath can carry (a multicast flood has no TCP). */
export function trafficOn(dp: Datapath, traffic: readonly Traffic[]): Traffic[] {
  return dp.kind === "bridge-flood" ? traffic.filter((t) => t.protocol === "udp") : [...traffic];
}

/** Suffix of the arm that runs a strategy with its trackers left out. */
export const UNTRACKED = "/no-tracker";

/** An arm's strategy name and whether its trackers load: `skb-addr/no-tracker` -> no. */
export function armOf(arm: string): { strategy: string; trackers: boolean } {
  return arm.endsWith(UNTRACKED)
    ? { strategy: arm.slice(0, -UNTRACKED.length), trackers: false }
    : { strategy: arm, trackers: true };
}

/** A kind of traffic the talkers send. */
export interface Traffic {
  /** `udp-prio`, `udp-tai`, `tcp-prio`. */
  readonly id: string;
  /** What the report calls it. */
  readonly label: string;
  /** Transport. */
  readonly protocol: "udp" | "tcp";
  /** SCM_TXTIME clock, or none. */
  readonly clock: "none" | "tai";
  /** The SO_PRIORITY it sets. */
  readonly priority: number;
  /** Restoration talker: socat (an unmodified SO_PRIORITY application) or the FFI txtime sender. */
  readonly tool: "socat" | "txtime";
}

/** Every traffic kind. */
export const TRAFFIC: readonly Traffic[] = [
  {
    id: "udp-prio",
    label: "UDP, SO_PRIORITY",
    protocol: "udp",
    clock: "none",
    priority: 5,
    tool: "socat",
  },
  {
    id: "udp-tai",
    label: "UDP, SO_PRIORITY + SCM_TXTIME (TAI)",
    protocol: "udp",
    clock: "tai",
    priority: 4,
    tool: "txtime",
  },
  {
    id: "tcp-prio",
    label: "TCP, SO_PRIORITY",
    protocol: "tcp",
    clock: "none",
    priority: 2,
    tool: "socat",
  },
];

/**
 * The pod that did not opt in: it sends UDP with a TAI txtime and priority 3 at the same time as
 * the opted-in pods, and must never come out with a restored priority (nor anyone's txtime).
 */
export const SENTINEL: Traffic = {
  id: "opt-out",
  label: "UDP + TAI from a pod that did not opt in",
  protocol: "udp",
  clock: "tai",
  priority: 3,
  tool: "txtime",
};

/**
 * A kernel to run on. `host` is the machine's own kernel; `6.1` and `6.12` are the lab's QEMU
 * guests (Debian's stock kernels, where fexit, taprio and etf exist; lab_runner.ts).
 */
export type KernelId = "host" | "6.1" | "6.12";

/** Every kernel id the CLI knows. */
export const KERNEL_IDS: readonly KernelId[] = ["host", "6.1", "6.12"];

/** Looks up datapaths by id; throws on an unknown one. */
export function pickDatapaths(ids: readonly string[] | undefined): Datapath[] {
  if (!ids) return [...DATAPATHS];
  return ids.map((id) => {
    const d = DATAPATHS.find((x) => x.id === id);
    if (!d) {
      throw new Error(`unknown datapath ${id}; known: ${DATAPATHS.map((x) => x.id).join(", ")}`);
    }
    return d;
  });
}

/** Looks up traffic kinds by id; throws on an unknown one. */
export function pickTraffic(ids: readonly string[] | undefined): Traffic[] {
  if (!ids) return [...TRAFFIC];
  return ids.map((id) => {
    const t = TRAFFIC.find((x) => x.id === id);
    if (!t) throw new Error(`unknown traffic ${id}; known: ${TRAFFIC.map((x) => x.id).join(", ")}`);
    return t;
  });
}

/** Pod name of a traffic kind (and the sentinel's). */
export function podOf(t: Traffic): string {
  return t.id;
}
