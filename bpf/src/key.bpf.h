/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The strategy-selected packet key. In tc programs the context register is the kernel's sk_buff
 * pointer (the verifier rewrites __sk_buff field accesses into sk_buff offsets), so its value is the
 * sk_buff address; turning a pointer into a key needs CAP_PERFMON (allow_ptr_leaks), which the
 * loader has. skb->data is read once by the caller and passed in.
 */
#pragma once

static __always_inline __u64 tsn_key_of_tc(struct __sk_buff *skb, __u64 data)
{
	if (tsn_cfg.key_mode == TSN_KEY_SKB_DATA)
		return data;
	return (__u64)(unsigned long)skb;
}

/* The same key from a kernel sk_buff seen by a tracing program. */
static __always_inline __u64 tsn_key_of_kernel_skb(struct sk_buff *skb)
{
	if (tsn_cfg.key_mode == TSN_KEY_SKB_DATA)
		return (__u64)(unsigned long)BPF_CORE_READ(skb, data);
	return (__u64)(unsigned long)skb;
}
