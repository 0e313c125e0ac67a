// SPDX-License-Identifier: GPL-2.0
/*
 * Lab probe for the skb-data key: where on a packet's way out does skb->data move? fentry/fexit
 * programs on the functions a forwarded IPv4 UDP datagram passes (and the ones that can move its
 * head) record the sk_buff, its head and data pointers, its length and the device, for datagrams
 * to the watched UDP port (cfg[0], host order; 0 watches nothing). Events go into an array in the
 * order they happen (at most MAX_EVENTS). Used by the lab scenario skb-path.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define MAX_EVENTS 512
#define IPPROTO_UDP_ 17

enum fn {
	FN_DEV_QUEUE_XMIT = 1,
	FN_IP_FORWARD,
	FN_NEIGH_RESOLVE_OUTPUT,
	FN_PSKB_EXPAND_HEAD,
	FN_PSKB_EXPAND_HEAD_RET,
	FN_SKB_EXPAND_HEAD,
	FN_SKB_EXPAND_HEAD_RET,
	FN_VLAN_XMIT,
	FN_ETH_HEADER,
	FN_ETH_HEADER_RET,
	FN_VALIDATE_XMIT,
};

struct event {
	__u32 fn;
	__u32 len;
	__u64 skb;
	__u64 head;
	__u64 data;
	__u16 network_header;
	__u16 mac_header;
	__u32 arg; /* nhead (expand_head), headroom (skb_expand_head), type (eth_header) */
	char dev[16];
	__u16 hard_header_len; /* of skb->dev: LL_RESERVED_SPACE() is built from these two */
	__u16 needed_headroom;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_EVENTS);
	__type(key, __u32);
	__type(value, struct event);
} events SEC(".maps");

/* [0] watched UDP port, [1] events written so far. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} cfg SEC(".maps");

static __always_inline bool watched(struct sk_buff *skb)
{
	__u32 key = 0;
	__u64 *port = bpf_map_lookup_elem(&cfg, &key);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	struct iphdr ip;
	struct udphdr udp;

	if (!port || !*port || nh == (__u16)~0U)
		return false;
	if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) || ip.version != 4 ||
	    ip.protocol != IPPROTO_UDP_)
		return false;
	if (bpf_probe_read_kernel(&udp, sizeof(udp), head + nh + ip.ihl * 4))
		return false;
	return bpf_ntohs(udp.dest) == *port;
}

static __always_inline void record(__u32 fn, struct sk_buff *skb, __u32 arg)
{
	__u32 key = 1;
	__u64 *n = bpf_map_lookup_elem(&cfg, &key);
	struct event *e;
	__u32 i;

	if (!n || !watched(skb))
		return;
	i = __sync_fetch_and_add(n, 1);
	if (i >= MAX_EVENTS)
		return;
	e = bpf_map_lookup_elem(&events, &i);
	if (!e)
		return;
	e->fn = fn;
	e->len = BPF_CORE_READ(skb, len);
	e->skb = (__u64)skb;
	e->head = (__u64)BPF_CORE_READ(skb, head);
	e->data = (__u64)BPF_CORE_READ(skb, data);
	e->network_header = BPF_CORE_READ(skb, network_header);
	e->mac_header = BPF_CORE_READ(skb, mac_header);
	e->arg = arg;
	bpf_probe_read_kernel_str(e->dev, sizeof(e->dev), BPF_CORE_READ(skb, dev, name));
	e->hard_header_len = BPF_CORE_READ(skb, dev, hard_header_len);
	e->needed_headroom = BPF_CORE_READ(skb, dev, needed_headroom);
}

SEC("fentry/__dev_queue_xmit")
int BPF_PROG(dev_queue_xmit, struct sk_buff *skb, struct net_device *sb_dev)
{
	record(FN_DEV_QUEUE_XMIT, skb, 0);
	return 0;
}

SEC("fentry/ip_forward")
int BPF_PROG(ip_forward, struct sk_buff *skb)
{
	record(FN_IP_FORWARD, skb, 0);
	return 0;
}

SEC("fentry/neigh_resolve_output")
int BPF_PROG(neigh_resolve_output, struct neighbour *neigh, struct sk_buff *skb)
{
	record(FN_NEIGH_RESOLVE_OUTPUT, skb, 0);
	return 0;
}

SEC("fentry/pskb_expand_head")
int BPF_PROG(pskb_expand_head, struct sk_buff *skb, int nhead, int ntail, gfp_t gfp)
{
	record(FN_PSKB_EXPAND_HEAD, skb, nhead);
	return 0;
}

SEC("fexit/pskb_expand_head")
int BPF_PROG(pskb_expand_head_ret, struct sk_buff *skb, int nhead, int ntail, gfp_t gfp, int ret)
{
	record(FN_PSKB_EXPAND_HEAD_RET, skb, ret);
	return 0;
}

SEC("fentry/skb_expand_head")
int BPF_PROG(skb_expand_head, struct sk_buff *skb, unsigned int headroom)
{
	record(FN_SKB_EXPAND_HEAD, skb, headroom);
	return 0;
}

SEC("fexit/skb_expand_head")
int BPF_PROG(skb_expand_head_ret, struct sk_buff *skb, unsigned int headroom, struct sk_buff *ret)
{
	if (ret)
		record(FN_SKB_EXPAND_HEAD_RET, ret, headroom);
	return 0;
}

SEC("fentry/vlan_dev_hard_start_xmit")
int BPF_PROG(vlan_xmit, struct sk_buff *skb, struct net_device *dev)
{
	record(FN_VLAN_XMIT, skb, 0);
	return 0;
}

SEC("fentry/eth_header")
int BPF_PROG(eth_header, struct sk_buff *skb, struct net_device *dev, unsigned short type)
{
	record(FN_ETH_HEADER, skb, type);
	return 0;
}

SEC("fexit/eth_header")
int BPF_PROG(eth_header_ret, struct sk_buff *skb, struct net_device *dev, unsigned short type,
	     const void *daddr, const void *saddr, unsigned int len, int ret)
{
	record(FN_ETH_HEADER_RET, skb, ret);
	return 0;
}

SEC("fentry/validate_xmit_skb_list")
int BPF_PROG(validate_xmit, struct sk_buff *skb, struct net_device *dev)
{
	record(FN_VALIDATE_XMIT, skb, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
