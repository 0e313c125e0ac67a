// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * e2e observer: tc egress on the node's NIC, after tsn-proxy's restorer. It records what each test
 * talker's packets carry when they leave the node: skb->priority, skb->tstamp and its clock type.
 * It parses Ethernet/IPv4|IPv6/UDP|TCP (IPv6 without extension headers: the talkers send none)
 * and, for VXLAN (outer UDP dport 4789), the inner Ethernet/IPv4|IPv6/UDP|TCP; the talker is
 * identified by the (inner) L4 destination port, which NAT keeps. A UDP packet carrying a talker
 * record is judged against that record, i.e. against what its own sender wrote into it; other
 * packets against the port's expectation. Always returns TC_ACT_UNSPEC so it never changes the
 * packet's fate.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "observer.h"

#define TC_ACT_UNSPEC (-1)
#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define VXLAN_PORT 4789
#define VXLAN_HLEN 8
#define OBSERVER_MAX_TALKERS 256

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBSERVER_MAX_TALKERS);
	__type(key, struct observer_key);
	__type(value, struct observer_expect);
} observer_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OBSERVER_MAX_TALKERS);
	__type(key, struct observer_key);
	__type(value, struct observer_stats);
} observer_stats SEC(".maps");

/* One parsed L4 header. */
struct observer_l4 {
	__u32 l4_off;      /* offset of the L4 header from the packet start */
	__u32 payload_off; /* offset of the L4 payload */
	__u32 payload_len; /* L4 payload length per the IP header */
	__u16 dport;       /* host order */
	__u8 proto;
	__u8 family;       /* 4 or 6 */
};

/*
 * Parses Ethernet + IPv4|IPv6 + UDP/TCP at off. Returns -1 when it is not a first-fragment IPv4
 * UDP/TCP packet or an IPv6 packet whose first next header is UDP/TCP.
 */
static __always_inline int observer_parse(struct __sk_buff *skb, __u32 off, struct observer_l4 *out)
{
	struct ethhdr eth;
	__u32 ihl, tot;

	if (bpf_skb_load_bytes(skb, off, &eth, sizeof(eth)))
		return -1;
	off += ETH_HLEN_;
	if (eth.h_proto == bpf_htons(ETH_P_IP_)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
			return -1;
		ihl = ip.ihl * 4;
		tot = bpf_ntohs(ip.tot_len);
		if (ihl < sizeof(ip) || tot < ihl || (ip.frag_off & bpf_htons(0x1fff)))
			return -1;
		out->proto = ip.protocol;
		out->family = 4;
	} else if (eth.h_proto == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
			return -1;
		/* Treated like IPv4's: tot counts the header, so the L4 lengths below hold for both. */
		ihl = sizeof(ip6);
		tot = ihl + bpf_ntohs(ip6.payload_len);
		out->proto = ip6.nexthdr;
		out->family = 6;
	} else {
		return -1;
	}
	out->l4_off = off + ihl;
	if (out->proto == IPPROTO_UDP_) {
		struct udphdr udp;

		if (bpf_skb_load_bytes(skb, out->l4_off, &udp, sizeof(udp)))
			return -1;
		out->dport = bpf_ntohs(udp.dest);
		out->payload_off = out->l4_off + sizeof(udp);
		out->payload_len = tot - ihl >= sizeof(udp) ? tot - ihl - sizeof(udp) : 0;
		return 0;
	}
	if (out->proto == IPPROTO_TCP_) {
		struct tcphdr tcp;
		__u32 doff;

		if (bpf_skb_load_bytes(skb, out->l4_off, &tcp, sizeof(tcp)))
			return -1;
		doff = tcp.doff * 4;
		out->dport = bpf_ntohs(tcp.dest);
		out->payload_off = out->l4_off + doff;
		out->payload_len = tot - ihl >= doff ? tot - ihl - doff : 0;
		return 0;
	}
	return -1;
}

static __always_inline struct observer_stats *observer_stats_for(struct observer_key *key)
{
	struct observer_stats zero = {};
	struct observer_stats *st = bpf_map_lookup_elem(&observer_stats, key);

	if (st)
		return st;
	bpf_map_update_elem(&observer_stats, key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&observer_stats, key);
}

/*
 * The clock type a restored record txtime of `clock` carries. Before 6.11 (no enum skb_tstamp_type
 * SKB_CLOCK_TAI) a UDP SCM_TXTIME is untyped already at the pod's eth0 (measured on 6.1: only TCP's
 * EDT times are mono_delivery_time), so the restorer gives back an untyped value, which is what
 * etf/taprio read there.
 */
static __always_inline __u8 expected_type(__u8 clock)
{
	/* CLOCK_REALTIME is the untyped clock on every kernel (6.11+: SKB_CLOCK_REALTIME = 0). */
	if (clock == OBSERVER_CLOCK_REALTIME ||
	    !bpf_core_enum_value_exists(enum skb_tstamp_type, SKB_CLOCK_TAI))
		return BPF_SKB_TSTAMP_UNSPEC;
	return clock == OBSERVER_CLOCK_TAI ? BPF_SKB_CLOCK_TAI : BPF_SKB_CLOCK_MONOTONIC;
}

#define OBS_ADD(st, field) __sync_fetch_and_add(&(st)->field, 1)

/* Counts a packet's priority against what it should carry. */
static __always_inline void observer_judge_priority(struct observer_stats *st, __u32 priority,
						    __u32 expected)
{
	if (priority == expected)
		OBS_ADD(st, prio_right);
	else if (!priority)
		OBS_ADD(st, prio_zero);
	else
		OBS_ADD(st, prio_wrong);
}

SEC("tc")
int observer_tc(struct __sk_buff *skb)
{
	/* Each field once, into locals, before any parsing. */
	__u32 priority = skb->priority;
	__u64 tstamp = skb->tstamp;
	__u8 tstamp_type = skb->tstamp_type;
	struct observer_l4 l4 = {};
	struct observer_key key = {};
	struct observer_expect *exp;
	struct observer_stats *st;
	struct observer_record rec;
	bool encapsulated = false;

	if (observer_parse(skb, 0, &l4))
		return TC_ACT_UNSPEC;
	if (l4.proto == IPPROTO_UDP_ && l4.dport == VXLAN_PORT) {
		key.port = l4.dport;
		/* The VXLAN port itself is not a talker unless a test configured it. */
		if (!bpf_map_lookup_elem(&observer_ports, &key)) {
			if (observer_parse(skb, l4.payload_off + VXLAN_HLEN, &l4))
				return TC_ACT_UNSPEC;
			encapsulated = true;
		}
	}
	key.port = l4.dport;
	exp = bpf_map_lookup_elem(&observer_ports, &key);
	if (!exp)
		return TC_ACT_UNSPEC;
	st = observer_stats_for(&key);
	if (!st)
		return TC_ACT_UNSPEC;

	OBS_ADD(st, packets);
	__sync_fetch_and_add(&st->payload_bytes, l4.payload_len);
	if (encapsulated)
		OBS_ADD(st, encapsulated);
	if (l4.family == 6)
		OBS_ADD(st, ipv6);
	st->last_priority = priority;
	st->last_tstamp = tstamp;
	st->last_tstamp_type = tstamp_type;

	if (l4.proto == IPPROTO_UDP_ && (exp->flags & OBSERVER_EXPECT_RECORD)) {
		/*
		 * A packet whose record cannot be read gets no verdict at all: it is an error of the
		 * test (records_bad), never a packet that merely missed its metadata.
		 */
		if (l4.payload_len < sizeof(rec) ||
		    bpf_skb_load_bytes(skb, l4.payload_off, &rec, sizeof(rec)) ||
		    rec.magic != OBSERVER_RECORD_MAGIC || rec.pod != exp->pod) {
			OBS_ADD(st, records_bad);
			return TC_ACT_UNSPEC;
		}
		OBS_ADD(st, records);
		st->last_record = rec;
		/*
		 * Each packet against what its own sender wrote, so packets of one talker that swap
		 * their metadata show up; the port's expectation is the ceiling (a namespace clamp).
		 */
		observer_judge_priority(st, priority,
					rec.priority < exp->priority ? rec.priority : exp->priority);
		if (!rec.txtime) {
			if (tstamp)
				OBS_ADD(st, tstamp_invented);
		} else if (!tstamp) {
			OBS_ADD(st, txtime_missing);
		} else if (tstamp != rec.txtime) {
			OBS_ADD(st, txtime_wrong);
		} else if (tstamp_type != expected_type(rec.clock)) {
			OBS_ADD(st, type_wrong);
		} else {
			OBS_ADD(st, txtime_right);
		}
		return TC_ACT_UNSPEC;
	}
	observer_judge_priority(st, priority, exp->priority);
	if (tstamp) {
		if (tstamp_type == BPF_SKB_CLOCK_MONOTONIC)
			OBS_ADD(st, tstamp_mono);
		else
			OBS_ADD(st, tstamp_invented);
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
