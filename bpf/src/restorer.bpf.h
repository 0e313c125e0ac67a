/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The restorer: tc egress on a TSN interface, before its qdisc (taprio, mqprio, etf) classifies the
 * packet by skb->priority and skb->tstamp. It consumes the packet's record, checks that the record
 * is young enough, belongs to this very packet (fingerprint) and to its sender (origin), and writes
 * the metadata back. It always returns
 * TC_ACT_UNSPEC (TCX_NEXT) so later tc programs on the interface still run.
 */
#pragma once

/* Writes a saved tstamp back with its clock type. */
static __always_inline void tsn_restore_tstamp(struct __sk_buff *skb, __u64 tstamp, __u8 type)
{
	/*
	 * Kernels >= 6.11 take BPF_SKB_CLOCK_{REALTIME,MONOTONIC,TAI}. Before 6.11 bpf_skb_set_tstamp()
	 * only knows DELIVERY_MONO (1) and refuses a non-zero UNSPEC (0) tstamp with -EINVAL; there a
	 * non-MONOTONIC txtime is stored by a plain write, which at egress keeps the skb's mono flag
	 * (bpf_convert_tstamp_write()), i.e. the same untyped tstamp the socket gave the packet.
	 */
	if (bpf_skb_set_tstamp(skb, tstamp, type))
		skb->tstamp = tstamp;
}

SEC("tc")
int tsn_restorer(struct __sk_buff *skb)
{
	__u64 tstamp = skb->tstamp;
	__u8 tstamp_type = skb->tstamp_type;
	__u32 len = skb->len;
	__u32 ingress_ifindex = skb->ingress_ifindex;
	__u16 tag = skb->tc_index;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct tsn_windows w;
	struct tsn_record rec;
	struct tsn_counters *c;
	__u64 fingerprint;
	int where;

	/*
	 * Taking consumes: a record is used at most once, whatever the checks below say. A record past
	 * the age bound is refused here (its packet never reached a restorer).
	 */
	where = tsn_store_take(tsn_key_of_tc(skb, data), &rec);
	if (where == TSN_STALE) {
		TSN_COUNT(rejected_stale);
		return TC_ACT_UNSPEC;
	}
	if (where < 0) {
		TSN_COUNT(missed);
		return TC_ACT_UNSPEC;
	}

	w.tail_len = rec.tail_len;
	w.anchor_end = rec.anchor_end;
	if (tsn_fingerprint(skb, data, data_end, len, w, &fingerprint) || fingerprint != rec.fingerprint) {
		TSN_COUNT(rejected_fingerprint);
		return TC_ACT_UNSPEC;
	}
	if (!tsn_origin_matches(skb, data, data_end, len, ingress_ifindex, &rec.origin)) {
		TSN_COUNT(rejected_origin);
		return TC_ACT_UNSPEC;
	}
	if (rec.origin.tag && rec.origin.tag != tag) {
		TSN_COUNT(rejected_tag);
		return TC_ACT_UNSPEC;
	}

	skb->priority = rec.priority;
	c = tsn_counters_here();
	if (rec.flags & TSN_REC_DROP_TSTAMP) {
		/* Not restored; and where the kernel kept it (6.11+, TAI), it does not leave either. */
		if (tstamp && tstamp == rec.tstamp) {
			bpf_skb_set_tstamp(skb, 0, 0);
			TSN_BUMP(c, tstamp_dropped);
		}
	} else if (rec.tstamp) {
		if (tstamp == rec.tstamp && tstamp_type == rec.tstamp_type) {
			TSN_BUMP(c, tstamp_kept);
		} else if (tstamp && tstamp != rec.tstamp) {
			/* Someone on the node set its own tstamp (an EDT shaper): not ours to undo. */
			TSN_BUMP(c, tstamp_conflict);
		} else if (tsn_clock_refused()) {
			/* A txtime on a clock nobody disciplines: the priority goes back, the time does not. */
			TSN_BUMP(c, rejected_unsynced_clock);
		} else {
			tsn_restore_tstamp(skb, rec.tstamp, rec.tstamp_type);
			TSN_BUMP(c, restored_tstamp);
		}
	}
	if (where > 0)
		TSN_BUMP(c, restored_other_cpu);
	TSN_BUMP(c, restored);
	return TC_ACT_UNSPEC;
}
