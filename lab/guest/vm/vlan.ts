/**
 * @module
 * The VLAN of vm-vlan and skb-path between node1 and ext: `nic0.100` on node1's nic0 (identity
 * egress-qos-map), the route to the far end through it, MASQUERADE of the pods out of it, and
 * `br0.100` on ext's bridge answering for the far end.
 */
import { BIN, ipBatch, run, waitLinksReady } from "@tsn-proxy/sim";
import { ADDR, type Topology } from "@tsn-proxy/sim/topology";
import { VLAN } from "../../vm/scenarios.ts";

/** Adds the VLAN device `dev` to node1 and routes the far end through it. */
export async function addVlan(topo: Topology, dev: string = VLAN.dev): Promise<void> {
  const qos = [0, 1, 2, 3, 4, 5, 6, 7].map((p) => `${p}:${p}`).join(" ");
  await ipBatch(topo.node.ns, [
    `link add link ${topo.node.nic} name ${dev} type vlan id ${VLAN.id} egress-qos-map ${qos}`,
    `addr add ${VLAN.node}/24 dev ${dev}`,
    `link set ${dev} up`,
    // The far end's address is reached through the VLAN (ext answers ARP for it on br0.100).
    `route add ${ADDR.ext}/32 dev ${dev} src ${VLAN.node}`,
  ]);
  const table = `table ip ${topo.prefix}_vlan {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${ADDR.clusterCidr} oifname "${dev}" masquerade
  }
}
`;
  await run(topo.node.ns, [BIN.nft, "-f", "-"], { stdin: table });
  await ipBatch(topo.ext.ns, [
    `link add link br0 name br0.${VLAN.id} type vlan id ${VLAN.id}`,
    `addr add ${VLAN.ext}/24 dev br0.${VLAN.id}`,
    `link set br0.${VLAN.id} up`,
  ]);
  await waitLinksReady(topo.node.ns);
  await waitLinksReady(topo.ext.ns);
}
