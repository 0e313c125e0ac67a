/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The skb-addr clone tracker: a clone has a new sk_buff address, so the record saved under the
 * original's address is copied to the clone's. It copies the saved RECORD; the clone's own fields
 * are already scrubbed when it is made on the node. Needs fexit (BPF trampolines, x86-64 5.5+), which
 * some kernels refuse (lockdown, no CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS): the loader reports it.
 */
#pragma once

SEC("fexit/skb_clone")
int BPF_PROG(tsn_track_clone, struct sk_buff *skb, gfp_t gfp_mask, struct sk_buff *clone)
{
	struct tsn_record copy;

	if (!clone || tsn_store_peek(tsn_addr(skb), &copy))
		return 0;
	if (tsn_store_put(tsn_addr(clone), &copy))
		TSN_COUNT(errors);
	else
		TSN_COUNT(clones_tracked);
	return 0;
}
