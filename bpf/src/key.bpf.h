/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The strategy-selected packet key. In tc programs the context register is the kernel's sk_buff
 * pointer (the verifier rewrites __sk_buff field accesses into sk_buff offsets), so its value is the
 * sk_buff address; turning a pointer into a key needs CAP_PERFMON (allow_ptr_leaks), which the
 * loader has. skb->data is read once by the caller and passed in.
 */
#pragma once

/*
 * A pointer's value as a plain number the key can be hashed from. The verifier tracks pointer
 * types through casts and refuses arithmetic such as a multiply on them; negation is allowed for a
 * loader with CAP_PERFMON (allow_ptr_leaks) and yields an unknown scalar, so negating twice turns
 * the pointer into the same value, typed as a scalar. The asm keeps clang from folding it away.
 */
static __always_inline __u64 tsn_addr(const void *p)
{
	__u64 v = (__u64)(unsigned long)p;

	asm volatile("%0 = -%0; %0 = -%0" : "+r"(v));
	return v;
}

static __always_inline __u64 tsn_key_of_tc(struct __sk_buff *skb, void *data)
{
	if (tsn_cfg.key_mode == TSN_KEY_SKB_DATA)
		return tsn_addr(data);
	return tsn_addr(skb);
}

/* The same key from a kernel sk_buff seen by a tracing program. */
static __always_inline __u64 tsn_key_of_kernel_skb(struct sk_buff *skb)
{
	if (tsn_cfg.key_mode == TSN_KEY_SKB_DATA)
		return tsn_addr(BPF_CORE_READ(skb, data));
	return tsn_addr(skb);
}
