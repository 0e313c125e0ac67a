/**
 * Simulated Kubernetes nodes in network namespaces, for the paths tsn-proxy must survive:
 *
 * - `bridge-nat`: pods on a bridge `cni0` (10.244.1.0/24, gateway .1) and MASQUERADE of
 *   10.244.0.0/16 out of `nic0` (Flannel / bridge CNI).
 * - `routed-nat`: pods with /32 addresses, one host route per pod veth, the pod's default route via
 *   the node's veth address (kindnet / ptp CNI), MASQUERADE out of `nic0`.
 * - `vxlan`: pods on `cni0` as above; a second node ("node2") with its own pod subnet 10.244.2.0/24
 *   and one remote pod; a `vxlan42` device on each node (VNI 42, dstport 4789) routes the remote
 *   subnet. The underlay is 192.0.2.0/24 across the ext bridge, so the encapsulated packets leave
 *   node1 through `nic0`. No NAT between pods.
 *
 * - `bridge-flood` (the clone path; not in {@linkcode TOPOLOGY_KINDS}): pods on `cni0` as above,
 *   and `nic0` is itself a port of `cni0` (no address, no NAT): the external TSN bridge is part of
 *   the pods' L2 segment. Talkers send to the multicast group 239.1.1.1, which the bridge floods to
 *   every port but the sender's; `br_flood()` hands each port a clone (`skb_clone()`), so the
 *   packet reaching `nic0` is a clone with a new sk_buff address. ext's `br0` also holds
 *   10.244.1.254/24, where the receivers join the group.
 *
 * Every topology has an "ext" netns standing for the external TSN bridge: a bridge `br0`
 * (192.0.2.2/24) whose port `ext0` is the peer of node1's `nic0` (192.0.2.1/24); in `vxlan` its port
 * `ext1` is the peer of node2's `nic0` (192.0.2.3/24). The far end to send to is ext itself
 * (192.0.2.2) for the NAT kinds and the remote pod (10.244.2.10) for `vxlan`.
 *
 * Every topology is dual-stack ({@linkcode ADDR6}): each IPv4 address above has an IPv6 peer, pods
 * in fd00:10:244:1::/64 (routed-nat: /128 with the host veth's link-local fe80::1 as gateway, as
 * the ptp plugin does), the underlay in 2001:db8::/64, MASQUERADE of fd00:10:244::/48 on the NAT
 * kinds, IPv6 inner packets in the same VXLAN over the IPv4 underlay, and the group ff15::7357
 * (transient, site scope) on `bridge-flood`.
 *
 * @module
 */

import {
  BIN,
  createNetns,
  deleteNetns,
  exists,
  ipBatch,
  type Netns,
  netns,
  run,
  spawnIn,
  sysctl,
  uniquePrefix,
} from "./netns.ts";
import type { Proc } from "./process.ts";

/** The supported node datapaths. */
export type TopologyKind = "bridge-nat" | "routed-nat" | "vxlan" | "bridge-flood";

/** The node paths tests loop over: every kind but the special-purpose `bridge-flood`. */
export const TOPOLOGY_KINDS: readonly TopologyKind[] = ["bridge-nat", "routed-nat", "vxlan"];

/** A pod to create on node1. */
export interface PodSpec {
  /** Short name, [a-z0-9-], unique in the topology. */
  name: string;
}

/** Options of {@linkcode createTopology}. */
export interface TopologyOptions {
  /** The datapath. */
  kind: TopologyKind;
  /** Pods on node1 (at most 200). */
  pods: readonly PodSpec[];
  /** Run AF_PACKET captures (`tcpdump -w /dev/null`) on each pod's host veth and the bridge. */
  taps?: boolean;
  /** Name prefix; default a fresh `tsnt<4 hex>`. */
  prefix?: string;
  /**
   * TX and RX queues of node1's `nic0` veth (and its peer), 1..64; default the kernel's (1). A
   * multiqueue NIC is what mqprio and taprio need (one queue per traffic class).
   */
  nicTxQueues?: number;
}

/** A simulated node. */
export interface NodeHandle {
  /** Its netns. */
  ns: Netns;
  /** The TSN-facing NIC (a veth whose peer is in ext). */
  nic: string;
  /** The NIC's address. */
  ip: string;
  /** The NIC's IPv6 address (bridge-flood: the bridge's). */
  ip6: string;
  /** The pod bridge, or null (routed-nat). */
  bridge: string | null;
  /** The VXLAN device, or null. */
  vxlan: string | null;
  /** The node's pod subnet. */
  podCidr: string;
  /** The node's IPv6 pod subnet. */
  podCidr6: string;
}

/** A pod: its own netns with `eth0`, the peer of a host veth in its node's netns. */
export interface PodHandle {
  /** The name given in {@linkcode PodSpec}. */
  name: string;
  /** 1-based id (order of creation); talkers put it in their records. */
  id: number;
  /** The pod's netns. */
  ns: Netns;
  /** The pod-side interface. */
  ifname: string;
  /** The pod's IPv4 address. */
  ip: string;
  /** The pod's IPv6 address. */
  ip6: string;
  /** The node the pod lives on. */
  node: NodeHandle;
  /** The host-side veth in the node's netns. */
  hostIfname: string;
}

/**
 * The node side of a routed (ptp-style) pod, as `ip -batch` lines for the node's netns: the pod's
 * host device holds the gateway addresses and one route per pod address. The topology's routed
 * pods and the lab's netkit pods (lab/guest/vm/netkit.ts) use the same addressing.
 *
 * @example
 * ```ts ignore
 * await ipBatch(node.ns, topo.pods.flatMap(routedNodeSide));
 * ```
 */
export function routedNodeSide(p: Pick<PodHandle, "hostIfname" | "ip" | "ip6">): string[] {
  return [
    `addr add ${ADDR.gateway1}/32 dev ${p.hostIfname}`,
    `addr add ${ADDR6.routedGateway}/64 dev ${p.hostIfname} nodad`,
    `link set ${p.hostIfname} up`,
    `route add ${p.ip}/32 dev ${p.hostIfname} scope link`,
    `route add ${p.ip6}/128 dev ${p.hostIfname}`,
  ];
}

/**
 * The pod side of a routed pod, as `ip -batch` lines for the pod's netns: /32 and /128 addresses
 * and default routes via the node's gateway addresses.
 *
 * @example
 * ```ts ignore
 * await ipBatch(pod.ns, routedPodSide(pod));
 * ```
 */
export function routedPodSide(p: Pick<PodHandle, "ifname" | "ip" | "ip6">): string[] {
  return [
    `addr add ${p.ip}/32 dev ${p.ifname}`,
    `addr add ${p.ip6}/128 dev ${p.ifname} nodad`,
    `link set ${p.ifname} up`,
    `route add ${ADDR.gateway1}/32 dev ${p.ifname} scope link`,
    `route add default via ${ADDR.gateway1} dev ${p.ifname}`,
    `route add default via ${ADDR6.routedGateway} dev ${p.ifname}`,
  ];
}

/** The external TSN bridge. */
export interface ExtHandle {
  /** Its netns. */
  ns: Netns;
  /** The bridge carrying its address. */
  ifname: string;
  /** Its address (on the underlay). */
  ip: string;
  /** Its IPv6 address. */
  ip6: string;
}

/** Where test traffic goes: a netns to run the receiver in and the address to send to. */
export interface FarEnd {
  /** The receiver's netns. */
  ns: Netns;
  /** The destination address (bridge-flood: a multicast group). */
  ip: string;
  /** When `ip` is a multicast group: the local address whose interface the receivers join on. */
  joinOn?: string;
  /** The IPv6 destination (bridge-flood: an IPv6 multicast group). */
  ip6: string;
  /** When `ip6` is a multicast group: the interface the receivers join it on. */
  joinIf6?: string;
}

/** A running capture. */
export interface Tap {
  /** Where it runs. */
  ns: Netns;
  /** The captured interface. */
  ifname: string;
  /** The tcpdump process. */
  proc: Proc;
}

/** A built topology; {@linkcode Topology.destroy} removes every trace of it. */
export interface Topology {
  /** The datapath. */
  readonly kind: TopologyKind;
  /** The unique name prefix of every object it created. */
  readonly prefix: string;
  /** node1, whose `nic` the observer and the restorer watch. */
  readonly node: NodeHandle;
  /** node2 (vxlan only). */
  readonly node2: NodeHandle | null;
  /** The external bridge. */
  readonly ext: ExtHandle;
  /** The destination of test traffic. */
  readonly far: FarEnd;
  /** node1's pods, in spec order. */
  readonly pods: readonly PodHandle[];
  /** Running captures. */
  readonly taps: readonly Tap[];
  /** Every netns it created. */
  readonly namespaces: readonly Netns[];
  /** `/sys/fs/bpf/<prefix>`: pin BPF objects of the run here; destroy() removes it. */
  readonly bpffsDir: string;
  /** The pod with that name; throws when unknown. */
  pod(name: string): PodHandle;
  /** Stops the captures, deletes the namespaces and the bpffs dir. Idempotent. */
  destroy(): Promise<void>;
}

/** The addresses every topology uses. */
export const ADDR = {
  underlayPrefix: 24,
  node1: "192.0.2.1",
  ext: "192.0.2.2",
  node2: "192.0.2.3",
  podCidr1: "10.244.1.0/24",
  podCidr2: "10.244.2.0/24",
  gateway1: "10.244.1.1",
  gateway2: "10.244.2.1",
  vtep1: "10.244.1.0",
  vtep2: "10.244.2.0",
  remotePod: "10.244.2.10",
  clusterCidr: "10.244.0.0/16",
  /** bridge-flood: ext's address in the pods' subnet, and the group the talkers send to. */
  floodExt: "10.244.1.254",
  floodGroup: "239.1.1.1",
} as const;

/**
 * The IPv6 addresses every topology uses beside {@linkcode ADDR}: unique local pod subnets, the
 * documentation prefix for the underlay.
 */
export const ADDR6 = {
  underlayPrefix: 64,
  node1: "2001:db8::1",
  ext: "2001:db8::2",
  node2: "2001:db8::3",
  podPrefix: 64,
  podCidr1: "fd00:10:244:1::/64",
  podCidr2: "fd00:10:244:2::/64",
  gateway1: "fd00:10:244:1::1",
  gateway2: "fd00:10:244:2::1",
  /** routed-nat: every host veth's link-local address, the pods' gateway. */
  routedGateway: "fe80::1",
  /** The VTEPs' addresses (the subnet-router anycast address a /64's ::0 is not usable here). */
  vtep1: "fd00:10:244:ff::1",
  vtep2: "fd00:10:244:ff::2",
  remotePod: "fd00:10:244:2::10",
  clusterCidr: "fd00:10:244::/48",
  floodExt: "fd00:10:244:1::fe",
  floodGroup: "ff15::7357",
} as const;

/** The IPv6 address of node1's pod with 0-based index i (mirrors 10.244.1.(10 + i)). */
function podIp6(i: number): string {
  return `fd00:10:244:1::${10 + i}`;
}

/** VXLAN parameters (Flannel's defaults but VNI 42). */
export const VXLAN = { vni: 42, port: 4789, device: "vxlan42", mtu: 1450 } as const;

/** Routing on a node, both families. */
const FORWARDING = { "net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1 } as const;

/** The root of the bpffs. */
export const BPFFS = "/sys/fs/bpf";

const NIC = "nic0";
const BRIDGE = "cni0";

/** Builds a topology; on failure it removes what it built and rethrows. */
export async function createTopology(opts: TopologyOptions): Promise<Topology> {
  const prefix = opts.prefix ?? uniquePrefix();
  if (opts.pods.length > 200) throw new Error("createTopology: at most 200 pods");
  const queues = opts.nicTxQueues;
  if (queues !== undefined && !(Number.isInteger(queues) && queues >= 1 && queues <= 64)) {
    throw new RangeError(`createTopology: nicTxQueues ${queues}`);
  }
  const names = new Set<string>();
  for (const p of opts.pods) {
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(p.name) || names.has(p.name)) {
      throw new Error(`createTopology: bad or duplicate pod name "${p.name}"`);
    }
    names.add(p.name);
  }
  const topo = new Built(opts.kind, prefix);
  try {
    await topo.build(opts);
    return topo;
  } catch (e) {
    await topo.destroy();
    throw e;
  }
}

class Built implements Topology {
  node: NodeHandle;
  node2: NodeHandle | null = null;
  ext: ExtHandle;
  far: FarEnd;
  pods: PodHandle[] = [];
  taps: Tap[] = [];
  namespaces: Netns[] = [];
  bpffsDir: string;
  #destroying: Promise<void> | null = null;

  constructor(readonly kind: TopologyKind, readonly prefix: string) {
    this.node = {
      ns: netns(`${prefix}-node`),
      nic: NIC,
      // bridge-flood: the NIC is a bridge port without an address; the node's is the bridge's.
      ip: kind === "bridge-flood" ? ADDR.gateway1 : ADDR.node1,
      ip6: kind === "bridge-flood" ? ADDR6.gateway1 : ADDR6.node1,
      bridge: kind === "routed-nat" ? null : BRIDGE,
      vxlan: kind === "vxlan" ? VXLAN.device : null,
      podCidr: ADDR.podCidr1,
      podCidr6: ADDR6.podCidr1,
    };
    this.ext = { ns: netns(`${prefix}-ext`), ifname: "br0", ip: ADDR.ext, ip6: ADDR6.ext };
    this.far = { ns: this.ext.ns, ip: ADDR.ext, ip6: ADDR6.ext };
    this.bpffsDir = `${BPFFS}/${prefix}`;
  }

  pod(name: string): PodHandle {
    const p = this.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod "${name}" in ${this.prefix}`);
    return p;
  }

  async #ns(name: string): Promise<Netns> {
    // Recorded only once created: a name that was taken is someone else's to delete.
    const ns = await createNetns(name);
    this.namespaces.push(ns);
    return ns;
  }

  async build(opts: TopologyOptions): Promise<void> {
    await Deno.mkdir(this.bpffsDir, { recursive: true });
    const node = this.node;
    await this.#ns(node.ns.name);
    await this.#ns(this.ext.ns.name);
    await sysctl(node.ns, FORWARDING);

    // ext: the TSN bridge, and node1's NIC as one of its ports.
    const q = opts.nicTxQueues === undefined
      ? ""
      : ` numtxqueues ${opts.nicTxQueues} numrxqueues ${opts.nicTxQueues}`;
    const flood = this.kind === "bridge-flood";
    await ipBatch(node.ns, [
      `link add ${NIC}${q} type veth peer name ext0${q} netns ${this.ext.ns.name}`,
      ...(flood ? [] : [
        `addr add ${ADDR.node1}/${ADDR.underlayPrefix} dev ${NIC}`,
        `addr add ${ADDR6.node1}/${ADDR6.underlayPrefix} dev ${NIC} nodad`,
      ]),
      `link set ${NIC} up`,
    ]);
    const extLines = [
      // No IGMP snooping: an unregistered group is flooded, whoever joined it.
      `link add br0 type bridge${flood ? " mcast_snooping 0" : ""}`,
      `addr add ${ADDR.ext}/${ADDR.underlayPrefix} dev br0`,
      `addr add ${ADDR6.ext}/${ADDR6.underlayPrefix} dev br0 nodad`,
      ...(flood
        ? [
          `addr add ${ADDR.floodExt}/24 dev br0`,
          `addr add ${ADDR6.floodExt}/${ADDR6.podPrefix} dev br0 nodad`,
        ]
        : []),
      "link set ext0 master br0",
      "link set ext0 up",
      "link set br0 up",
    ];

    if (this.kind === "vxlan") {
      const node2: NodeHandle = {
        ns: netns(`${this.prefix}-node2`),
        nic: NIC,
        ip: ADDR.node2,
        ip6: ADDR6.node2,
        bridge: BRIDGE,
        vxlan: VXLAN.device,
        podCidr: ADDR.podCidr2,
        podCidr6: ADDR6.podCidr2,
      };
      this.node2 = node2;
      await this.#ns(node2.ns.name);
      await sysctl(node2.ns, FORWARDING);
      await ipBatch(node2.ns, [
        `link add ${NIC} type veth peer name ext1 netns ${this.ext.ns.name}`,
        `addr add ${ADDR.node2}/${ADDR.underlayPrefix} dev ${NIC}`,
        `addr add ${ADDR6.node2}/${ADDR6.underlayPrefix} dev ${NIC} nodad`,
        `link set ${NIC} up`,
      ]);
      extLines.push("link set ext1 master br0", "link set ext1 up");
    }
    await ipBatch(this.ext.ns, extLines);

    for (const [i, spec] of opts.pods.entries()) {
      this.pods.push({
        name: spec.name,
        id: i + 1,
        ns: netns(`${this.prefix}-${spec.name}`),
        ifname: "eth0",
        ip: `10.244.1.${10 + i}`,
        ip6: podIp6(i),
        node,
        hostIfname: `veth${i}`,
      });
    }
    for (const p of this.pods) await this.#ns(p.ns.name);

    switch (this.kind) {
      case "bridge-nat":
        await this.#bridgePods(node, [ADDR.gateway1, ADDR6.gateway1], 1500);
        await this.#masquerade(node);
        break;
      case "routed-nat":
        await this.#routedPods(node);
        await this.#masquerade(node);
        break;
      case "vxlan":
        await this.#bridgePods(node, [ADDR.gateway1, ADDR6.gateway1], VXLAN.mtu);
        await this.#vxlan();
        break;
      case "bridge-flood":
        await this.#bridgePods(node, [ADDR.gateway1, ADDR6.gateway1], 1500);
        await ipBatch(node.ns, [
          `link set ${BRIDGE} type bridge mcast_snooping 0`,
          `link set ${NIC} master ${BRIDGE}`,
        ]);
        this.far = {
          ns: this.ext.ns,
          ip: ADDR.floodGroup,
          joinOn: ADDR.floodExt,
          ip6: ADDR6.floodGroup,
          joinIf6: this.ext.ifname,
        };
        break;
    }
    for (const ns of this.namespaces) await waitLinksReady(ns);
    if (opts.taps) await this.#startTaps();
  }

  /** Pods on a bridge: cni0 with the gateway addresses, pods in the same /24 and /64. */
  async #bridgePods(
    node: NodeHandle,
    [gateway, gateway6]: [string, string],
    mtu: number,
  ): Promise<void> {
    const lines = [
      `link add ${BRIDGE} type bridge`,
      `addr add ${gateway}/24 dev ${BRIDGE}`,
      `addr add ${gateway6}/${ADDR6.podPrefix} dev ${BRIDGE} nodad`,
      `link set ${BRIDGE} up`,
    ];
    const pods = this.pods.filter((p) => p.node === node);
    for (const p of pods) {
      lines.push(
        `link add ${p.hostIfname} mtu ${mtu} type veth peer name ${p.ifname} netns ${p.ns.name}`,
        `link set ${p.hostIfname} master ${BRIDGE}`,
        `link set ${p.hostIfname} up`,
      );
    }
    await ipBatch(node.ns, lines);
    for (const p of pods) {
      await ipBatch(p.ns, [
        `addr add ${p.ip}/24 dev ${p.ifname}`,
        `addr add ${p.ip6}/${ADDR6.podPrefix} dev ${p.ifname} nodad`,
        `link set ${p.ifname} up`,
        `route add default via ${gateway} dev ${p.ifname}`,
        `route add default via ${gateway6} dev ${p.ifname}`,
      ]);
    }
  }

  /** ptp-style pods: /32 addresses, the node veth holds the gateway address, one route per pod. */
  async #routedPods(node: NodeHandle): Promise<void> {
    const lines: string[] = [];
    for (const p of this.pods) {
      lines.push(
        `link add ${p.hostIfname} type veth peer name ${p.ifname} netns ${p.ns.name}`,
        ...routedNodeSide(p),
      );
    }
    await ipBatch(node.ns, lines);
    for (const p of this.pods) {
      await ipBatch(p.ns, routedPodSide(p));
    }
  }

  /** MASQUERADE of the cluster CIDRs (both families) out of the NIC, in the node's own nftables. */
  async #masquerade(node: NodeHandle): Promise<void> {
    const table = `table inet ${this.prefix}_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${ADDR.clusterCidr} oifname "${NIC}" masquerade
    ip6 saddr ${ADDR6.clusterCidr} oifname "${NIC}" masquerade
  }
}
`;
    await run(node.ns, [BIN.nft, "-f", "-"], { stdin: table });
  }

  /** node2 with its remote pod, and the VXLAN overlay between the nodes (Flannel-style routes). */
  async #vxlan(): Promise<void> {
    const node2 = this.node2;
    if (!node2) throw new Error("vxlan: node2 missing");
    const remote: PodHandle = {
      name: "far",
      id: 0,
      ns: netns(`${this.prefix}-far`),
      ifname: "eth0",
      ip: ADDR.remotePod,
      ip6: ADDR6.remotePod,
      node: node2,
      hostIfname: "veth0",
    };
    await this.#ns(remote.ns.name);
    await ipBatch(node2.ns, [
      `link add ${BRIDGE} type bridge`,
      `addr add ${ADDR.gateway2}/24 dev ${BRIDGE}`,
      `addr add ${ADDR6.gateway2}/${ADDR6.podPrefix} dev ${BRIDGE} nodad`,
      `link set ${BRIDGE} up`,
      `link add ${remote.hostIfname} mtu ${VXLAN.mtu} type veth peer name eth0 netns ${remote.ns.name}`,
      `link set ${remote.hostIfname} master ${BRIDGE}`,
      `link set ${remote.hostIfname} up`,
    ]);
    await ipBatch(remote.ns, [
      `addr add ${remote.ip}/24 dev eth0`,
      `addr add ${remote.ip6}/${ADDR6.podPrefix} dev eth0 nodad`,
      "link set eth0 up",
      `route add default via ${ADDR.gateway2} dev eth0`,
      `route add default via ${ADDR6.gateway2} dev eth0`,
    ]);
    // [node, local underlay, remote underlay, this VTEP, the other's, the other's pod CIDRs]
    const ends: Array<[NodeHandle, string, string, [string, string], [string, string], string[]]> =
      [
        [this.node, ADDR.node1, ADDR.node2, [ADDR.vtep1, ADDR6.vtep1], [ADDR.vtep2, ADDR6.vtep2], [
          ADDR.podCidr2,
          ADDR6.podCidr2,
        ]],
        [node2, ADDR.node2, ADDR.node1, [ADDR.vtep2, ADDR6.vtep2], [ADDR.vtep1, ADDR6.vtep1], [
          ADDR.podCidr1,
          ADDR6.podCidr1,
        ]],
      ];
    for (const [node, local, remoteIp, [vtep, vtep6], [other, other6], [cidr, cidr6]] of ends) {
      // The IPv6 inner packets ride the same IPv4 underlay tunnel (one FDB: the remote node).
      await ipBatch(node.ns, [
        `link add ${VXLAN.device} type vxlan id ${VXLAN.vni} dstport ${VXLAN.port} ` +
        `local ${local} remote ${remoteIp} dev ${NIC}`,
        `addr add ${vtep}/32 dev ${VXLAN.device}`,
        `addr add ${vtep6}/128 dev ${VXLAN.device} nodad`,
        `link set ${VXLAN.device} up`,
        `route add ${cidr} via ${other} dev ${VXLAN.device} onlink`,
        `route add ${cidr6} via ${other6} dev ${VXLAN.device} onlink`,
      ]);
    }
    this.far = { ns: remote.ns, ip: remote.ip, ip6: remote.ip6 };
    await this.#resolveOverlay(remote);
  }

  /**
   * Resolves node1's neighbours on the way to the remote pod (the other VTEP over both families,
   * and node2 on the underlay) before any test traffic. A test's first packets would otherwise
   * wait in the neighbours' queues (unres_qlen_bytes) for ARP/NDP across two tunnel ends and four
   * namespaces; on a loaded machine a lost request means a 1 s retry, and everything a talker
   * sends meanwhile beyond the queue is discarded (seen: 434 of 610 forwarded datagrams,
   * unresolved_discards in /proc/net/stat/arp_cache). One datagram per family to the discard port
   * of the remote pod (nothing listens; the answer is an ICMP error) starts the resolution.
   */
  async #resolveOverlay(remote: PodHandle): Promise<void> {
    for (const [v, dst] of [["4", remote.ip], ["6", `[${remote.ip6}]`]] as const) {
      await run(this.node.ns, [BIN.socat, "-u", "STDIN", `UDP${v}-SENDTO:${dst}:9`], {
        stdin: "x",
      });
    }
    const want = [
      `${NIC} ${ADDR.node2}`,
      `${VXLAN.device} ${ADDR.vtep2}`,
      `${VXLAN.device} ${ADDR6.vtep2}`,
    ];
    let pending: string[] = want;
    for (let i = 0; i < 300 && pending.length; i++) {
      if (i) await new Promise((resolve) => setTimeout(resolve, 10));
      const out = await run(this.node.ns, [BIN.ip, "-j", "neigh", "show"]);
      const known = (JSON.parse(out.stdout) as NeighJson[])
        .filter((n) => !(n.state ?? ["NONE"]).some((s) => UNRESOLVED.has(s)))
        .map((n) => `${n.dev} ${n.dst}`);
      pending = want.filter((w) => !known.includes(w));
    }
    if (pending.length) throw new Error(`${this.node.ns.name}: unresolved: ${pending.join(", ")}`);
  }

  async #startTaps(): Promise<void> {
    const where = [...this.pods.map((p) => p.hostIfname)];
    if (this.node.bridge) where.push(this.node.bridge);
    for (const ifname of where) {
      const proc = spawnIn(this.node.ns, [
        BIN.tcpdump,
        "-i",
        ifname,
        "-n",
        "-s",
        "128",
        "-w",
        "/dev/null",
      ]);
      this.taps.push({ ns: this.node.ns, ifname, proc });
    }
    // tcpdump says "listening on IF" once its AF_PACKET socket is bound: only then is it a tap.
    for (const t of this.taps) await t.proc.waitForText("listening on", 5000);
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroy();
    return this.#destroying;
  }

  async #destroy(): Promise<void> {
    const errors: unknown[] = [];
    for (const t of this.taps) {
      try {
        await t.proc.stop();
      } catch (e) {
        errors.push(e);
      }
    }
    for (const ns of [...this.namespaces].reverse()) {
      try {
        await deleteNetns(ns);
      } catch (e) {
        errors.push(e);
      }
    }
    try {
      if (await exists(this.bpffsDir)) await Deno.remove(this.bpffsDir, { recursive: true });
    } catch (e) {
      errors.push(e);
    }
    if (errors.length) {
      throw new AggregateError(errors, `destroy ${this.prefix}: ${errors.length} errors`);
    }
  }
}

/**
 * Waits until every interface that is administratively up in ns has its qdisc attached and carrier
 * on. Until the link watcher gets to a device (up to 1 s for a bridge) its qdisc is `noop`, which
 * drops everything: the first ARP reply of a fresh topology would be lost and the first packet
 * would wait a second for the retry.
 */
export async function waitLinksReady(ns: Netns, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending: string[] = [];
  for (let i = 0; i < 300; i++) {
    const out = await run(ns, [BIN.ip, "-j", "-d", "link", "show"]);
    pending = (JSON.parse(out.stdout) as LinkJson[]).filter((l) => !linkReady(l)).map((l) =>
      l.ifname
    );
    if (pending.length === 0) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${ns.name}: links not ready after ${timeoutMs} ms: ${pending.join(", ")}`);
}

/** Neighbour states in which a packet to it would wait or be dropped. */
const UNRESOLVED = new Set(["NONE", "INCOMPLETE", "FAILED"]);

interface NeighJson {
  dst: string;
  dev: string;
  state?: string[];
}

interface LinkJson {
  ifname: string;
  flags?: string[];
  qdisc?: string;
  linkinfo?: { info_slave_kind?: string; info_slave_data?: { state?: string } };
}

function linkReady(l: LinkJson): boolean {
  const flags = l.flags ?? [];
  if (!flags.includes("UP")) return true; // not ours to wait for
  if (l.qdisc === "noop" || flags.includes("NO-CARRIER") || !flags.includes("LOWER_UP")) {
    return false;
  }
  const li = l.linkinfo;
  return li?.info_slave_kind !== "bridge" || li.info_slave_data?.state === "forwarding";
}

/** Leftovers of a prefix: netns names and the bpffs dir, if any (empty when clean). */
export async function leftovers(prefix: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir("/run/netns")) {
      if (e.name.startsWith(prefix)) out.push(`/run/netns/${e.name}`);
    }
  } catch { /* no /run/netns */ }
  if (await exists(`${BPFFS}/${prefix}`)) out.push(`${BPFFS}/${prefix}`);
  return out.sort();
}
