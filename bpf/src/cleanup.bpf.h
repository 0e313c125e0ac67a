/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Optional lifetime cleanup: forget a record when its sk_buff is freed. Costs a map delete on every
 * freed skb of the node, and some free paths fire neither tracepoint (UDP delivery to a local
 * socket frees through skb_consume_udp()), so it shortens record lifetimes but is no guard: the
 * fingerprint is. Not loaded unless asked for.
 */
#pragma once

static __always_inline void tsn_forget(struct sk_buff *skb)
{
	struct tsn_record gone;

	if (tsn_store_take(tsn_key_of_kernel_skb(skb), &gone) >= 0)
		TSN_COUNT(freed_cleanup);
}

/* ctx[0] is the sk_buff on every kernel; later arguments changed across versions. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(tsn_cleanup_kfree, struct sk_buff *skb)
{
	tsn_forget(skb);
	return 0;
}

SEC("tp_btf/consume_skb")
int BPF_PROG(tsn_cleanup_consume, struct sk_buff *skb)
{
	tsn_forget(skb);
	return 0;
}
