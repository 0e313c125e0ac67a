// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * e2e tamper: a test-only tc egress program that damages packets on purpose, per UDP destination
 * port, the ways a broken proxy would (priority, tstamp value, clock type, invented tstamps). It
 * runs before the observer and proves that the observer tells each damage apart. Not part of the
 * product; built into a temporary directory by the test that uses it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "tamper.h"

#define TC_ACT_UNSPEC (-1)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct tamper_key);
	__type(value, struct tamper_action);
} tamper_ports SEC(".maps");

SEC("tc")
int tamper_tc(struct __sk_buff *skb)
{
	__u64 tstamp = skb->tstamp;
	struct tamper_key key = {};
	struct tamper_action *act;
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) || eth.h_proto != bpf_htons(0x0800))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) || ip.protocol != 17 ||
	    ip.ihl < 5)
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, sizeof(eth) + ip.ihl * 4, &udp, sizeof(udp)))
		return TC_ACT_UNSPEC;
	key.port = bpf_ntohs(udp.dest);
	act = bpf_map_lookup_elem(&tamper_ports, &key);
	if (!act)
		return TC_ACT_UNSPEC;
	if (act->flags & TAMPER_SET_PRIORITY)
		skb->priority = act->priority;
	if (act->flags & TAMPER_CLEAR_TSTAMP)
		skb->tstamp = 0;
	if (act->flags & TAMPER_SHIFT_TSTAMP)
		skb->tstamp = tstamp + act->tstamp;
	if (act->flags & TAMPER_RETYPE_MONO)
		bpf_skb_set_tstamp(skb, tstamp, BPF_SKB_CLOCK_MONOTONIC);
	if (act->flags & TAMPER_SET_TSTAMP_TAI)
		bpf_skb_set_tstamp(skb, act->tstamp, BPF_SKB_CLOCK_TAI);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
