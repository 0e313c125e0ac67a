/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The saver: tc egress on the pod side of the veth, inside the pod's netns. It runs before the
 * crossing into the node netns, where __dev_forward_skb() zeroes skb->priority and, before 6.11,
 * skb_scrub_packet() clears a non-MONOTONIC tstamp. It records what the packet carries now; a
 * packet without a priority of its own gets the pod's default class (tsn_cfg.default_priority),
 * and the pod's txtime policy marks txtimes that must not leave (txtime.bpf.h).
 */
#pragma once

SEC("tc")
int tsn_saver(struct __sk_buff *skb)
{
	/* Each field once, into locals: the verifier rejects repeated ctx reads after pointer moves. */
	__u32 priority = skb->priority;
	__u64 tstamp = skb->tstamp;
	__u8 tstamp_type = skb->tstamp_type;
	__u32 len = skb->len;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct tsn_windows w = {};
	struct tsn_record rec = {};
	struct tsn_counters *c;
	int err;

	if (!priority && tsn_cfg.default_priority) {
		priority = tsn_cfg.default_priority;
		rec.flags |= TSN_REC_DEFAULT_PRIORITY;
	}
	/*
	 * A tstamp the kernel typed MONOTONIC (mono_delivery_time: TCP's EDT; on 6.11+ any txtime on
	 * CLOCK_MONOTONIC) survives the crossing: nothing to save. On 6.1 a UDP SCM_TXTIME is untyped
	 * here and cleared at the crossing whatever its clock (kernel lab), so it is saved.
	 */
	if (!priority && (!tstamp || (tstamp_type == BPF_SKB_CLOCK_MONOTONIC &&
				      !(tsn_cfg.flags & TSN_CFG_SAVE_MONO_ONLY)))) {
		TSN_COUNT(save_skipped);
		return TC_ACT_UNSPEC;
	}
	if (tsn_pick_windows(data, data_end, len, &w, &rec.origin) ||
	    tsn_fingerprint(skb, data, data_end, len, w, &rec.fingerprint)) {
		TSN_COUNT(save_unfingerprinted);
		return TC_ACT_UNSPEC;
	}
	c = tsn_counters_here();
	if (rec.flags & TSN_REC_DEFAULT_PRIORITY)
		TSN_BUMP(c, save_defaulted);
	if (priority > tsn_cfg.max_priority) {
		priority = tsn_cfg.max_priority;
		TSN_BUMP(c, save_clamped);
	}
	rec.tstamp = tstamp;
	rec.tstamp_type = tstamp ? tstamp_type : 0;
	if (tstamp)
		rec.flags |= tsn_txtime_policy(skb, tstamp, tstamp_type, c);
	rec.priority = priority;
	rec.owner = tsn_cfg.owner;
	rec.tail_len = w.tail_len;
	rec.anchor_end = w.anchor_end;
	rec.saved_ns = tsn_saved_now();
	rec.origin.tag = tsn_next_tag();
	skb->tc_index = rec.origin.tag;
	rec.cpu = bpf_get_smp_processor_id();
	err = tsn_store_put(tsn_key_of_tc(skb, data), &rec);
	if (err == TSN_CONTENDED) {
		TSN_BUMP(c, save_contended);
		return TC_ACT_UNSPEC;
	}
	if (err) {
		TSN_BUMP(c, save_errors);
		return TC_ACT_UNSPEC;
	}
	TSN_BUMP(c, saved);
	return TC_ACT_UNSPEC;
}
