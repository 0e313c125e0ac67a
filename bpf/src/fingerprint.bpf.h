/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The packet fingerprint that keeps a record from ever landing on another packet. Keys can be
 * reused (the slab recycles sk_buffs and data buffers within microseconds), so a record found by key
 * is applied only if the packet still hashes to the saved fingerprint.
 *
 * Two windows, both measured back from the packet's end so NAT and encapsulation cannot move them:
 *   tail:   the last tail_len (<= 16) bytes of the L4 payload;
 *   anchor: 4 bytes that NAT never rewrites: the TCP sequence number, the IPv4 id/fragment word,
 *           or the IPv6 version/class/flow-label word.
 * The saver, which sees the pod's unmodified headers, picks the windows; the restorer only re-hashes
 * them, so it never parses outer or NATed headers.
 */
#pragma once

#define TSN_TAIL_MAX 16
/* Largest packet whose windows are read directly (a mask the verifier can bound). */
#define TSN_DIRECT_MAX 0x3fff
#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

struct tsn_windows {
	__u16 anchor_end;
	__u8 tail_len;
};

static __always_inline __u64 tsn_mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 31);
}

/* Keeps the last `keep` (0..8) bytes of a little-endian u64 loaded from packet memory. */
static __always_inline __u64 tsn_keep_last(__u64 v, __u32 keep)
{
	if (keep >= 8)
		return v;
	if (!keep)
		return 0;
	return v & (~0ULL << (8 * (8 - keep)));
}

/*
 * Hashes the two windows of the packet; returns -1 when the packet is too short for them. The
 * tail window is the last 16 bytes with all but the last tail_len zeroed. Where the bytes sit in
 * the linear head (small packets: nearly always) they are read directly; otherwise (GSO, paged
 * data) through bpf_skb_load_bytes(), which yields the same bytes.
 */
static __always_inline int tsn_fingerprint(struct __sk_buff *skb, void *data, void *data_end,
					   __u32 len, struct tsn_windows w, __u64 *out)
{
	__u64 tail[2];
	__u32 anchor = 0;
	__u32 n = w.tail_len;
	void *p;

	if (len < TSN_TAIL_MAX || n > TSN_TAIL_MAX || w.anchor_end > len ||
	    (w.anchor_end && w.anchor_end < 4))
		return -1;
	/*
	 * The verifier learns a packet range only for offsets it can bound well below 64 KiB, hence
	 * the mask; it changes nothing for len <= TSN_DIRECT_MAX, and longer packets take the helper.
	 * The windows are rarely aligned, but telling clang they are makes it load whole words
	 * instead of assembling each from single bytes (some 50 instructions fewer per
	 * fingerprint): the verifier allows unaligned packet loads where the CPU handles them
	 * (x86-64, arm64; strict only with BPF_F_STRICT_ALIGNMENT), and the bytes are the same.
	 */
	p = data + ((len - TSN_TAIL_MAX) & TSN_DIRECT_MAX);
	if (len <= TSN_DIRECT_MAX && p + TSN_TAIL_MAX <= data_end)
		__builtin_memcpy(tail, __builtin_assume_aligned(p, 8), TSN_TAIL_MAX);
	else if (bpf_skb_load_bytes(skb, len - TSN_TAIL_MAX, tail, TSN_TAIL_MAX))
		return -1;
	if (w.anchor_end) {
		p = data + ((len - w.anchor_end) & TSN_DIRECT_MAX);
		if (len <= TSN_DIRECT_MAX && p + 4 <= data_end)
			__builtin_memcpy(&anchor, __builtin_assume_aligned(p, 4), 4);
		else if (bpf_skb_load_bytes(skb, len - w.anchor_end, &anchor, 4))
			return -1;
	}
	tail[0] = tsn_keep_last(tail[0], n > 8 ? n - 8 : 0);
	tail[1] = tsn_keep_last(tail[1], n);
	*out = tsn_mix(tsn_mix(tsn_mix(0x74736e2d70726f78ULL, tail[0]), tail[1]),
		       (__u64)anchor | (__u64)n << 32 | (__u64)w.anchor_end << 40);
	return 0;
}

/*
 * Picks the windows from the pod's own headers (Ethernet, then IPv4 or IPv6, then TCP or UDP), and
 * notes the packet's origin there (origin.bpf.h). Returns -1 for packets it cannot place; those
 * are not saved, since an unguarded record could be applied to a stranger.
 */
static __always_inline int tsn_pick_windows(void *data, void *data_end, __u32 len,
					    struct tsn_windows *w, struct tsn_origin *o)
{
	struct ethhdr *eth = data;
	__u32 l4_off, payload_off, anchor_off;
	__u8 proto;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP_)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 ihl;

		if ((void *)(ip + 1) > data_end)
			return -1;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return -1;
		l4_off = ETH_HLEN_ + ihl;
		anchor_off = ETH_HLEN_ + 4; /* id + fragment word */
		proto = ip->protocol;
		o->family = 4;
		o->addr[0] = ip->saddr;
		/* A later fragment has no L4 header: its whole IP payload is the tail. */
		if (ip->frag_off & bpf_htons(0x1fff))
			proto = 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		l4_off = ETH_HLEN_ + sizeof(*ip6);
		anchor_off = ETH_HLEN_; /* version, class, flow label */
		proto = ip6->nexthdr;
		o->family = 6;
		__builtin_memcpy(o->addr, &ip6->saddr, sizeof(o->addr));
	} else {
		return -1;
	}
	o->proto = proto;
	o->ip_end = len - ETH_HLEN_;

	payload_off = l4_off;
	if (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_) {
		__u32 *ports = data + (l4_off & 0xff);

		if ((void *)(ports + 1) > data_end)
			return -1;
		o->ports = *ports;
		o->l4_end = len - l4_off;
	}
	if (proto == IPPROTO_TCP_) {
		struct tcphdr *tcp = data + (l4_off & 0xff);

		if ((void *)(tcp + 1) > data_end)
			return -1;
		payload_off = l4_off + tcp->doff * 4;
		anchor_off = l4_off + 4; /* sequence number */
	} else if (proto == IPPROTO_UDP_) {
		payload_off = l4_off + sizeof(struct udphdr);
	}
	if (payload_off > len || anchor_off + 4 > len)
		return -1;
	w->tail_len = len - payload_off > TSN_TAIL_MAX ? TSN_TAIL_MAX : len - payload_off;
	w->anchor_end = len - anchor_off;
	return 0;
}
