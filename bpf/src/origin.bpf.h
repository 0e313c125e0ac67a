/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The origin check: a record is applied only to a packet from the same pod socket that the saver
 * saw (source address, L4 ports, protocol). The fingerprint alone cannot promise that: two pods may
 * send packets identical from the IPv4 id to the last payload byte (raw sockets choose the id,
 * cyclic traffic repeats its payload), and a record whose packet never reached a restorer stays
 * until its key comes back on a stranger's sk_buff.
 *
 * Where the restorer finds the packet's origin:
 * - the pod's IP header is the packet's outermost one (ip offset <= 18: Ethernet, maybe one inline
 *   VLAN tag, or none on an L3 device):
 *   - its source address and ports in place, when nothing rewrote them (bridged, routed paths);
 *   - else the packet's conntrack entry (skb->_nfct), in the packet's own direction: NAT (SNAT,
 *     MASQUERADE, a Service's DNAT) rewrites the headers but the entry keeps the tuple as the
 *     node first saw it, i.e. the pod's (nf_nat_packet() only edits the packet). The veth crossing
 *     resets the pod netns's entry (skb_scrub_packet() -> nf_reset_ct()), so the entry at the NIC
 *     is the node's own.
 * - the pod's IP header sits deeper: only a packet this node encapsulated qualifies. A tunnel
 *   driver's transmit path (iptunnel_xmit() / udp_tunnel_xmit_skb()) scrubs the skb
 *   (skb_iif = 0: ingress_ifindex reads 0 at the NIC, while a packet forwarded from a pod carries
 *   the ifindex it was received on) and marks the inner packet (iptunnel_handle_offloads() ->
 *   skb_reset_inner_headers(): inner_network_header points at the pod's IP header). A pod that
 *   sends a datagram whose payload imitates another pod's packet meets neither condition.
 * A packet whose origin cannot be read is refused: a miss, never a wrong restore.
 */
#pragma once

#define TSN_OUTER_IP_MAX 18
#define IP_CT_IS_REPLY_ 3
#define IP_CT_UNTRACKED_ 7
#define NFCT_INFOMASK_ 7UL
#define AF_INET_ 2
#define AF_INET6_ 10

/*
 * The kernel's sk_buff behind a tc context. 6.2+ has bpf_cast_to_kern_ctx(): a trusted pointer
 * whose fields are plain loads. Older kernels (6.1) get NULL and the callers read the fields with
 * bpf_probe_read_kernel() (a helper call each) at the context's address. libbpf resolves a
 * missing weak kfunc to 0 and the verifier drops the branch.
 */
extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym __weak;

static __always_inline struct sk_buff *tsn_kern_skb(struct __sk_buff *skb)
{
	if (bpf_cast_to_kern_ctx)
		return bpf_cast_to_kern_ctx(skb);
	return NULL;
}

/* Reads size (constant) bytes at off, directly from the linear head when it holds them. */
static __always_inline int tsn_load(struct __sk_buff *skb, void *data, void *data_end, __u32 len,
				    __u32 off, void *out, __u32 size)
{
	void *p = data + (off & TSN_DIRECT_MAX);

	if (len <= TSN_DIRECT_MAX && p + size <= data_end) {
		__builtin_memcpy(out, p, size);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, out, size);
}

static __always_inline bool tsn_same_addr(const __u32 *a, const struct tsn_origin *o)
{
	if (o->family == 4)
		return a[0] == o->addr[0];
	return a[0] == o->addr[0] && a[1] == o->addr[1] && a[2] == o->addr[2] &&
	       a[3] == o->addr[3];
}

/* Does the IP header at ip_off (and the L4 header after it) carry the record's origin? */
static __always_inline bool tsn_origin_in_place(struct __sk_buff *skb, void *data, void *data_end,
						__u32 len, __u32 ip_off, const struct tsn_origin *o)
{
	/* IPv6: version .. saddr; IPv4: version .. saddr, then daddr and the first L4 bytes. */
	__u8 h[24];
	__u32 ports;

	if (tsn_load(skb, data, data_end, len, ip_off, h, sizeof(h)))
		return false;
	if (o->family == 4) {
		if ((h[0] >> 4) != 4 || h[9] != o->proto || !tsn_same_addr((__u32 *)&h[12], o))
			return false;
	} else if ((h[0] >> 4) != 6 || h[6] != o->proto || !tsn_same_addr((__u32 *)&h[8], o)) {
		return false;
	}
	if (!o->l4_end)
		return true;
	if (o->l4_end > len || tsn_load(skb, data, data_end, len, len - o->l4_end, &ports, 4))
		return false;
	return ports == o->ports;
}

/*
 * Does the packet's conntrack entry, in the packet's direction, carry the record's origin? Read
 * from the kernel's sk_buff and nf_conn with CO-RE (the loader has CAP_PERFMON); one read of the
 * whole tuple.
 */
static __always_inline bool tsn_origin_conntrack(struct __sk_buff *skb, const struct tsn_origin *o)
{
	struct sk_buff *kskb = (void *)tsn_addr(skb);
	struct sk_buff *direct = tsn_kern_skb(skb);
	struct nf_conntrack_tuple *t;
	struct nf_conn *ct;
	unsigned long nfct = 0;
	/* 16 bytes of slack past a 64-byte read: every field read below stays inside. */
	__u8 tuple[80];
	__u32 size;
	__u16 l3num;
	__u8 proto;

	if (!bpf_core_field_exists(kskb->_nfct))
		return false;
	if (direct)
		nfct = direct->_nfct;
	else if (bpf_probe_read_kernel(&nfct, sizeof(nfct),
				       (void *)kskb + bpf_core_field_offset(struct sk_buff, _nfct)))
		return false;
	ct = (void *)(nfct & ~NFCT_INFOMASK_);
	if (!ct || (nfct & NFCT_INFOMASK_) == IP_CT_UNTRACKED_)
		return false;
	if ((nfct & NFCT_INFOMASK_) >= IP_CT_IS_REPLY_)
		t = &ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	else
		t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	size = bpf_core_type_size(struct nf_conntrack_tuple);
	if (size > 64 || bpf_probe_read_kernel(tuple, size & 63, t))
		return false;

#define TSN_TUPLE_AT(field, type) \
	(*(type *)&tuple[bpf_core_field_offset(struct nf_conntrack_tuple, field) & 63])
	l3num = TSN_TUPLE_AT(src.l3num, __u16);
	proto = TSN_TUPLE_AT(dst.protonum, __u8);
	if (l3num != (o->family == 4 ? AF_INET_ : AF_INET6_) || proto != o->proto ||
	    !tsn_same_addr((__u32 *)&TSN_TUPLE_AT(src.u3, __u8), o))
		return false;
	if (!o->l4_end)
		return true;
	return (TSN_TUPLE_AT(src.u.all, __u16) | (__u32)TSN_TUPLE_AT(dst.u.all, __u16) << 16) ==
	       o->ports;
#undef TSN_TUPLE_AT
}

/* Did this node's tunnel put the pod's IP header at ip_off (see the file comment)? */
static __always_inline bool tsn_encapsulated_here(struct __sk_buff *skb, __u32 ingress_ifindex,
						  __u32 ip_off)
{
	struct sk_buff *kskb = (void *)tsn_addr(skb);
	struct sk_buff *direct = tsn_kern_skb(skb);
	__u16 inner, mac;

	if (ingress_ifindex)
		return false;
	if (direct) {
		inner = direct->inner_network_header;
		mac = direct->mac_header;
	} else if (BPF_CORE_READ_INTO(&inner, kskb, inner_network_header) ||
		   BPF_CORE_READ_INTO(&mac, kskb, mac_header)) {
		return false;
	}
	/* At tc egress skb->data is the MAC header (__dev_queue_xmit() reset it). */
	return (__u16)(inner - mac) == ip_off;
}

/* Is the packet from the origin the record names? */
static __always_inline bool tsn_origin_matches(struct __sk_buff *skb, void *data, void *data_end,
					       __u32 len, __u32 ingress_ifindex,
					       const struct tsn_origin *o)
{
	__u32 ip_off;

	if (o->ip_end > len || (o->family != 4 && o->family != 6))
		return false;
	ip_off = len - o->ip_end;
	if (ip_off <= TSN_OUTER_IP_MAX)
		return tsn_origin_in_place(skb, data, data_end, len, ip_off, o) ||
		       tsn_origin_conntrack(skb, o);
	return tsn_origin_in_place(skb, data, data_end, len, ip_off, o) &&
	       tsn_encapsulated_here(skb, ingress_ifindex, ip_off);
}
