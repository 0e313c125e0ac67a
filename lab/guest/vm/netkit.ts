/**
 * @module
 * Guest-side parts of vm-netkit (the netkit pods themselves: sim/netkit.ts): puts a CNI stand-in
 * on each pair's peer hook with a probe placed before it (lab/bpf/netkit_cni.bpf.c), and reads
 * what they saw.
 */
import {
  attachNetkit,
  type BpfLink,
  BpfProgram,
  createNetkit,
  deleteLink,
  getLink,
  ifindex,
  type LinkInfo,
  netkitQuery,
  podLinkVerdict,
  withNetns,
} from "@tsn-proxy/bpf/libbpf";
import { BIN, exec } from "@tsn-proxy/sim";
import { fromBpftoolBytes } from "@tsn-proxy/sim/observer_codec";
import type { Topology } from "@tsn-proxy/sim/topology";
import type { NetkitLinkOut, PeerSeenOut } from "../../vm/results.ts";
import { GUEST_SHARE } from "../../share.ts";

/** A link's netkit facts as plain JSON. */
function linkOut(
  ifname: string,
  l: LinkInfo,
  forwardUpdatesPriority?: boolean,
): NetkitLinkOut {
  const verdict = podLinkVerdict(
    l,
    forwardUpdatesPriority === undefined ? {} : { forwardUpdatesPriority },
  );
  return {
    ifname,
    kind: l.kind ?? null,
    primary: l.netkit?.primary ?? false,
    mode: l.netkit?.mode ?? null,
    scrub: l.netkit?.scrub ?? null,
    peerScrub: l.netkit?.peerScrub ?? null,
    saverNeeded: verdict.saverNeeded,
    reason: verdict.reason,
  };
}

/**
 * The pods' devices (pod side) as the kernel reports them, with status's verdict given the node's
 * ip_forward_update_priority.
 */
export function podLinks(topo: Topology, forwardUpdatesPriority: boolean): NetkitLinkOut[] {
  return topo.pods.map((p) =>
    linkOut(
      `${p.name}/${p.ifname}`,
      withNetns(p.ns.path, () => getLink({ name: p.ifname })),
      forwardUpdatesPriority,
    )
  );
}

/** The CNI stand-in and the probe on every pod's peer hook. */
export interface PeerPrograms {
  /** Program names on the first pod's peer hook, in run order. */
  order(): string[];
  /** Packets the CNI stand-in handled. */
  cniPackets(): Promise<number>;
  /** UDP destination port -> what the probe saw. */
  seen(): Promise<Map<number, PeerSeenOut>>;
  /** Detaches (closes the links). */
  close(): void;
}

/**
 * Loads lab/bpf/obj/netkit_cni.bpf.o, attaches `cni_peer` to each pod pair's BPF_NETKIT_PEER hook
 * (appended, as a CNI would be there first) and then `probe_peer` before it (BPF_F_BEFORE).
 */
export async function addPeerPrograms(topo: Topology): Promise<PeerPrograms> {
  const dir = `${topo.bpffsDir}/nkcni`;
  await Deno.mkdir(dir, { recursive: true });
  await exec([
    BIN.bpftool,
    "prog",
    "loadall",
    `${GUEST_SHARE}/obj/netkit_cni.bpf.o`,
    `${dir}/prog`,
    "pinmaps",
    `${dir}/maps`,
  ]);
  const cni = BpfProgram.fromPinned(`${dir}/prog/cni_peer`);
  const probe = BpfProgram.fromPinned(`${dir}/prog/probe_peer`);
  const links: BpfLink[] = [];
  const primaries = withNetns(topo.node.ns.path, () => {
    const idx = topo.pods.map((p) => ifindex(p.hostIfname));
    for (const i of idx) links.push(attachNetkit(cni, i, "peer"));
    for (const i of idx) links.push(attachNetkit(probe, i, "peer", { first: true }));
    return idx;
  });
  const names = new Map([[cni.info().id, "cni_peer"], [probe.info().id, "probe_peer"]]);
  const dump = async (map: string) =>
    JSON.parse(
      (await exec([BIN.bpftool, "-j", "map", "dump", "pinned", `${dir}/maps/${map}`]))
        .stdout,
    ) as Array<{ key: string[]; value: string[] }>;
  const u64 = (b: Uint8Array, off: number) =>
    Number(new DataView(b.buffer, b.byteOffset).getBigUint64(off, true));
  return {
    order: () =>
      withNetns(topo.node.ns.path, () => netkitQuery(primaries[0]!, "peer"))
        .map((id) => names.get(id) ?? `id ${id}`),
    async cniPackets() {
      const rows = await dump("cni_packets");
      return rows.reduce((n, r) => n + u64(fromBpftoolBytes(r.value), 0), 0);
    },
    async seen() {
      const out = new Map<number, PeerSeenOut>();
      for (const r of await dump("peer_seen")) {
        const k = fromBpftoolBytes(r.key);
        const v = fromBpftoolBytes(r.value);
        out.set(new DataView(k.buffer, k.byteOffset).getUint16(0, true), {
          packets: u64(v, 0),
          withPriority: u64(v, 8),
          withTstamp: u64(v, 16),
        });
      }
      return out;
    },
    close() {
      for (const l of links) l.close();
      cni.close();
      probe.close();
    },
  };
}

/**
 * Creates a throwaway pair with scrub none on both sides in `nsPath` and reads back what the
 * kernel reports for its primary: a kernel before 83134ef46093 accepts and ignores the request.
 */
export function probeScrub(nsPath: string, name: string): {
  accepted: boolean;
  error: string | null;
  primary: NetkitLinkOut | null;
} {
  return withNetns(nsPath, () => {
    try {
      createNetkit({ name, peerName: `${name}p`, scrub: "none", peerScrub: "none" });
    } catch (e) {
      return { accepted: false, error: String(e), primary: null };
    }
    try {
      return { accepted: true, error: null, primary: linkOut(name, getLink({ name })) };
    } finally {
      deleteLink(name);
    }
  });
}
