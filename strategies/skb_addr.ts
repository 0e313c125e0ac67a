/**
 * `skb-addr`: key = the sk_buff address.
 *
 * @example
 * ```ts
 * import { skbAddr } from "./skb_addr.ts";
 * console.log(skbAddr.trackers.map((t) => t.program)); // ["tsn_track_clone"]
 * ```
 */
import { PROGRAMS, TsnKeyMode } from "@tsn-proxy/bpf/gen/tsn_core";
import type { Strategy } from "./strategy.ts";

/** The sk_buff address strategy with its `fexit/skb_clone` tracker. */
export const skbAddr: Strategy = {
  name: "skb-addr",
  description:
    "Keys each packet by its sk_buff address, which stays the same from the pod's veth " +
    "to the NIC on bridge, routed and VXLAN paths (the kernel moves the same sk_buff along). A " +
    "clone gets a new address: the fexit/skb_clone tracker copies the saved record to it, so " +
    "packets cloned on the node (bridge flooding, multicast) keep their metadata. Without the " +
    "tracker (kernels that refuse fexit) clones that continue to the NIC lose their metadata; " +
    "nothing is ever restored onto the wrong packet, because every record carries a fingerprint.",
  keyMode: TsnKeyMode.TSN_KEY_SKB_ADDR,
  trackers: [{
    program: PROGRAMS.tsnTrackClone.name,
    description: "follows sk_buff clones (fexit/skb_clone)",
    needs: "fexit",
  }],
};
