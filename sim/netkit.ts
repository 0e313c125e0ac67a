/**
 * @module
 * Netkit pods: turns a routed-nat topology's pods into netkit pods (the veth pair replaced by a
 * netkit pair created through rtnetlink, same names and addresses, as a netkit CNI such as
 * Cilium's would wire them). Shared by the lab's vm-netkit scenario and the bench's netkit rows.
 * Needs a kernel with netkit (`probeNetkit` of `@tsn-proxy/bpf/libbpf`).
 *
 * @example
 * ```ts ignore
 * import { createTopology } from "./topology.ts";
 * import { netkitPods } from "./netkit.ts";
 * const topo = await createTopology({ kind: "routed-nat", pods: [{ name: "a" }] });
 * await netkitPods(topo, "l3", "default");
 * ```
 */
import { createNetkit, type NetkitMode, withNetns } from "@tsn-proxy/bpf/libbpf";
import { ipBatch } from "./netns.ts";
import { routedNodeSide, routedPodSide, type Topology, waitLinksReady } from "./topology.ts";

/**
 * Replaces every pod's veth of a routed-nat topology by a netkit pair in `mode`: the primary keeps
 * the host veth's name in the node, the peer is the pod's eth0; then the same addresses and routes
 * as sim's routed pods. Scrub "default" leaves the attributes out (as Cilium does); "none" asks
 * for scrub none on both sides.
 */
export async function netkitPods(
  topo: Topology,
  mode: NetkitMode,
  scrub: "default" | "none",
): Promise<void> {
  if (topo.node.bridge !== null) throw new Error("netkit pods need the routed-nat topology");
  await ipBatch(topo.node.ns, topo.pods.map((p) => `link del ${p.hostIfname}`));
  for (const p of topo.pods) {
    withNetns(
      topo.node.ns.path,
      () =>
        createNetkit(
          {
            name: p.hostIfname,
            peerName: p.ifname,
            mode,
            ...(scrub === "none" ? { scrub, peerScrub: scrub } : {}),
          },
          p.ns.path,
        ),
    );
  }
  await ipBatch(topo.node.ns, topo.pods.flatMap(routedNodeSide));
  for (const p of topo.pods) await ipBatch(p.ns, routedPodSide(p));
  await waitLinksReady(topo.node.ns);
  for (const p of topo.pods) await waitLinksReady(p.ns);
}
