/**
 * `skb-data`: key = `skb->data`.
 *
 * @example
 * ```ts
 * import { skbData } from "./skb_data.ts";
 * console.log(skbData.trackers.length); // 0
 * ```
 */
import { TsnKeyMode } from "@tsn-proxy/bpf/gen/tsn_core";
import type { Strategy } from "./strategy.ts";

/** The packet-data pointer strategy; needs no tracker. */
export const skbData: Strategy = {
  name: "skb-data",
  description: "Keys each packet by skb->data, the address of its first byte. Clones share the " +
    "data buffer, so no tracker is needed. Any path that reallocates the head loses the key: " +
    "encapsulation (VXLAN, Geneve) pushes outer headers into a new head; ip_forward() " +
    "copies a packet whose headroom is short of the egress device's (a VLAN device asks for 4 " +
    "bytes more than a pod's veth leaves); and NAT or a full socket buffer can copy a packet. The fingerprint turns such a reused address into a refused " +
    "record instead of a wrong restore.",
  keyMode: TsnKeyMode.TSN_KEY_SKB_DATA,
  trackers: [],
};
