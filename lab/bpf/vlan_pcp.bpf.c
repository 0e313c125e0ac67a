// SPDX-License-Identifier: GPL-2.0
/*
 * Lab probe for the VLAN scenario: tc ingress on the far side's port (ext0). Counts IPv4 UDP
 * frames by destination port, VLAN id and PCP, so the test reads the priority code point that
 * vlan_dev_hard_start_xmit() put on the wire from skb->priority and the egress-qos-map. The tag
 * arrives either as metadata (veth accelerates VLAN TX, __sk_buff.vlan_present) or in the frame.
 * Untagged frames count under vid 0xffff. Returns TC_ACT_UNSPEC: the frame goes on.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_UNSPEC (-1)
#define ETH_P_IP_ 0x0800
#define ETH_P_8021Q_ 0x8100
#define IPPROTO_UDP_ 17

struct pcp_key {
	__u16 port; /* UDP destination port, host order */
	__u16 vid;  /* VLAN id, 0xffff when untagged */
	__u8 pcp;   /* priority code point (tci >> 13) */
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct pcp_key);
	__type(value, __u64);
} pcp_counts SEC(".maps");

SEC("tc")
int vlan_pcp(struct __sk_buff *skb)
{
	__u32 present = skb->vlan_present;
	__u32 tci = skb->vlan_tci;
	struct pcp_key key = { .vid = 0xffff };
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__u32 off = sizeof(eth);
	__u16 proto;
	__u64 zero = 0, *n;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_UNSPEC;
	proto = bpf_ntohs(eth.h_proto);
	if (proto == ETH_P_8021Q_) {
		__be16 tag[2];

		if (bpf_skb_load_bytes(skb, off, tag, sizeof(tag)))
			return TC_ACT_UNSPEC;
		present = 1;
		tci = bpf_ntohs(tag[0]);
		proto = bpf_ntohs(tag[1]);
		off += sizeof(tag);
	}
	if (proto != ETH_P_IP_ || bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return TC_ACT_UNSPEC;
	if (ip.protocol != IPPROTO_UDP_ || ip.ihl < 5)
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, off + ip.ihl * 4, &udp, sizeof(udp)))
		return TC_ACT_UNSPEC;
	key.port = bpf_ntohs(udp.dest);
	if (present) {
		key.vid = tci & 0x0fff;
		key.pcp = (tci >> 13) & 7;
	}
	n = bpf_map_lookup_elem(&pcp_counts, &key);
	if (!n) {
		/* Two CPUs may race to create it: one insert wins, both then add. */
		bpf_map_update_elem(&pcp_counts, &key, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&pcp_counts, &key);
	}
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
