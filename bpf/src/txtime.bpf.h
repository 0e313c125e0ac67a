/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The txtime policy of a pod's saver: its namespace may be denied txtimes (TSN_CFG_NO_TXTIME),
 * and a txtime further ahead of its clock than tsn_cfg.txtime_horizon_ns is not let through (as
 * fq's horizon guards against runaway applications). Such a record carries TSN_REC_DROP_TSTAMP:
 * the restorer neither restores the txtime nor lets it leave where the kernel kept it across the
 * veth (6.11+ keeps TAI txtimes). Delivery times the kernel typed MONOTONIC and the saver does not
 * record (TCP's pacing, SO_TXTIME on CLOCK_MONOTONIC from 6.11) are the kernel's: left alone.
 */
#pragma once

#define CLOCK_MONOTONIC_ 1
#define CLOCK_TAI_ 11

/*
 * Now on the clock of a txtime, or 0 when that clock cannot be read here. The tstamp type says
 * it on 6.11+ (TAI, MONOTONIC); an untyped txtime (6.1's UDP SCM_TXTIME) is on the sending
 * socket's SO_TXTIME clock, read from skb->sk (at the pod's egress the packet is still the
 * socket's). REALTIME has no BPF clock: not judged.
 */
static __always_inline __u64 tsn_txtime_clock_now(struct __sk_buff *skb, __u8 type)
{
	struct sk_buff *kskb = (void *)tsn_addr(skb);
	struct sock *sk = NULL;
	__u8 clockid = 0;

	if (bpf_core_enum_value_exists(enum skb_tstamp_type, SKB_CLOCK_TAI)) {
		if (type == BPF_SKB_CLOCK_TAI)
			return bpf_ktime_get_tai_ns();
		if (type == BPF_SKB_CLOCK_MONOTONIC)
			return bpf_ktime_get_ns();
	}
	if (BPF_CORE_READ_INTO(&sk, kskb, sk) || !sk || BPF_CORE_READ_INTO(&clockid, sk, sk_clockid))
		return 0;
	if (clockid == CLOCK_TAI_)
		return bpf_ktime_get_tai_ns();
	if (clockid == CLOCK_MONOTONIC_)
		return bpf_ktime_get_ns();
	return 0;
}

/* The record flags the policy gives a packet's txtime (0: let it through). */
static __always_inline __u32 tsn_txtime_policy(struct __sk_buff *skb, __u64 tstamp, __u8 type,
					       struct tsn_counters *c)
{
	__u64 now;

	if (tsn_cfg.flags & TSN_CFG_NO_TXTIME) {
		TSN_BUMP(c, txtime_denied);
		return TSN_REC_DROP_TSTAMP;
	}
	if (!tsn_cfg.txtime_horizon_ns)
		return 0;
	now = tsn_txtime_clock_now(skb, type);
	if (now && (__s64)(tstamp - now) > (__s64)tsn_cfg.txtime_horizon_ns) {
		TSN_BUMP(c, txtime_beyond_horizon);
		return TSN_REC_DROP_TSTAMP;
	}
	return 0;
}
