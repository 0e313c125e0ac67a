// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packets per gate: folds the CLOCK_TAI time at which a UDP packet passes a hook into the taprio
 * cycle (time mod cycle_ns, in bins of bin_ns) and counts it per talker (UDP destination port ->
 * row, set from userspace in gate_rows). taprio with base-time 0 on CLOCK_TAI opens its gates at
 * fixed offsets of exactly this fold, so a packet's bin says which gate let it out.
 *
 * Two hooks, two histograms (the first index of gate_hist):
 *
 * - GATE_FAR, gate_far (tc ingress of the far end's port, ext0): what the next bridge sees. On a
 *   veth the frame reaches it through veth_xmit -> __netif_rx -> the backlog, i.e. one NET_RX
 *   softirq after the NIC sent it. Under TCG that is 250-300 us later (measured on 6.1 and 6.12:
 *   a 250 us window shows up shifted by about its own length), so this histogram is smeared
 *   beyond use there; it stays as the wire-side view for faster machines.
 * - GATE_NIC, gate_xmit (tp_btf/net_dev_start_xmit, filtered on the NIC's ifindex and netns):
 *   the moment taprio's dequeue hands the frame to the driver, in the same softirq, before any
 *   queueing on the wire side. This is the gate's own decision, and what the report folds.
 *
 * bpf_ktime_get_tai_ns() needs 6.1; tp_btf needs BTF and a kernel that allows tracing programs
 * (the host of this project refuses them; userspace then loads gate_far alone). Every counter is
 * an atomic add: packets of one talker can pass on two CPUs at once.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#define TC_ACT_OK 0
#define ETH_P_IP_ 0x0800
#define IPPROTO_UDP_ 17

#define GATE_FAR 0
#define GATE_NIC 1
#define GATE_HOOKS 2
#define GATE_MAX_ROWS 8
#define GATE_MAX_BINS 256

/* Set before load (userspace writes .rodata); bin_ns * bins must equal cycle_ns. */
struct gate_config {
	__u64 cycle_ns;
	__u64 bin_ns;
	/* The NIC whose transmits gate_xmit folds: ifindex and the inode of its netns. */
	__u32 nic_ifindex;
	__u32 nic_netns_ino;
};

const volatile struct gate_config gate_cfg = {
	.cycle_ns = 40000,
	.bin_ns = 1000,
};

/* UDP destination port (host order) -> row < GATE_MAX_ROWS. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GATE_MAX_ROWS);
	__type(key, __u16);
	__type(value, __u32);
} gate_rows SEC(".maps");

/* (hook * GATE_MAX_ROWS + row) * GATE_MAX_BINS + bin -> packets. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GATE_HOOKS * GATE_MAX_ROWS * GATE_MAX_BINS);
	__type(key, __u32);
	__type(value, __u64);
} gate_hist SEC(".maps");

static __always_inline void fold(__u32 hook, __u16 port)
{
	__u64 now = bpf_ktime_get_tai_ns();
	__u64 cycle = gate_cfg.cycle_ns, width = gate_cfg.bin_ns;
	__u32 *row, key;
	__u64 bin, *n;

	row = bpf_map_lookup_elem(&gate_rows, &port);
	if (!row || *row >= GATE_MAX_ROWS || !cycle || !width)
		return;
	bin = (now % cycle) / width;
	if (bin >= GATE_MAX_BINS)
		return;
	key = (hook * GATE_MAX_ROWS + *row) * GATE_MAX_BINS + (__u32)bin;
	n = bpf_map_lookup_elem(&gate_hist, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The UDP destination port of an Ethernet + IPv4 frame starting at `eth`, or 0. */
static __always_inline __u16 udp_dport(const struct ethhdr *eth, const struct iphdr *ip,
				       const struct udphdr *udp)
{
	if (eth->h_proto != bpf_htons(ETH_P_IP_) || ip->protocol != IPPROTO_UDP_)
		return 0;
	return bpf_ntohs(udp->dest);
}

SEC("tc")
int gate_far(struct __sk_buff *skb)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__u16 port;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) ||
	    bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) || ip.ihl < 5)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, sizeof(eth) + ip.ihl * 4, &udp, sizeof(udp)))
		return TC_ACT_OK;
	port = udp_dport(&eth, &ip, &udp);
	if (port)
		fold(GATE_FAR, port);
	return TC_ACT_OK;
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(gate_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	unsigned char *data;
	__u16 port;

	if (!gate_cfg.nic_ifindex || dev->ifindex != gate_cfg.nic_ifindex ||
	    dev->nd_net.net->ns.inum != gate_cfg.nic_netns_ino)
		return 0;
	/* At ndo_start_xmit skb->data is the Ethernet header. */
	data = skb->data;
	if (bpf_probe_read_kernel(&eth, sizeof(eth), data) ||
	    bpf_probe_read_kernel(&ip, sizeof(ip), data + sizeof(eth)) || ip.ihl < 5)
		return 0;
	if (bpf_probe_read_kernel(&udp, sizeof(udp), data + sizeof(eth) + ip.ihl * 4))
		return 0;
	port = udp_dport(&eth, &ip, &udp);
	if (port)
		fold(GATE_NIC, port);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
