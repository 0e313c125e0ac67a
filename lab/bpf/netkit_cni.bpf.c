// SPDX-License-Identifier: GPL-2.0
/*
 * Lab programs for the netkit scenario (vm-netkit), attached with bpf_link_create() to the primary
 * (node-side) netkit device as BPF_NETKIT_PEER: they run in netkit_xmit() of the pod's device, for
 * every packet the pod sends, as Cilium's netkit programs do.
 *
 *   cni_peer:   the stand-in for a CNI's program: counts and returns NETKIT_PASS, so programs
 *               placed after it never run (placement matters, bpf_mprog BPF_F_BEFORE).
 *   probe_peer: what a saver placed first at this hook would see: per UDP destination port, the
 *               packets and those still carrying a priority or a tstamp. netkit_xmit() has already
 *               run netkit_prep_forward() (skb_scrub_packet(), priority = 0) when the hook runs.
 *               Returns NETKIT_NEXT: the next program (the CNI's) decides.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define NETKIT_NEXT_ (-1)
#define NETKIT_PASS_ 0
#define ETH_P_IP_ 0x0800
#define IPPROTO_UDP_ 17

struct peer_seen {
	__u64 packets;
	__u64 with_priority;
	__u64 with_tstamp;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16); /* UDP destination port, host order */
	__type(value, struct peer_seen);
} peer_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cni_packets SEC(".maps");

SEC("tc")
int cni_peer(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&cni_packets, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return NETKIT_PASS_;
}

SEC("tc")
int probe_peer(struct __sk_buff *skb)
{
	__u32 priority = skb->priority;
	__u64 tstamp = skb->tstamp;
	struct peer_seen zero = {}, *s;
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__u16 port;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) || eth.h_proto != bpf_htons(ETH_P_IP_))
		return NETKIT_NEXT_;
	if (bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP_ ||
	    ip.ihl < 5)
		return NETKIT_NEXT_;
	if (bpf_skb_load_bytes(skb, sizeof(eth) + ip.ihl * 4, &udp, sizeof(udp)))
		return NETKIT_NEXT_;
	port = bpf_ntohs(udp.dest);
	s = bpf_map_lookup_elem(&peer_seen, &port);
	if (!s) {
		bpf_map_update_elem(&peer_seen, &port, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&peer_seen, &port);
	}
	if (s) {
		__sync_fetch_and_add(&s->packets, 1);
		if (priority)
			__sync_fetch_and_add(&s->with_priority, 1);
		if (tstamp)
			__sync_fetch_and_add(&s->with_tstamp, 1);
	}
	return NETKIT_NEXT_;
}

char LICENSE[] SEC("license") = "GPL";
