// SPDX-License-Identifier: GPL-2.0
/*
 * Lab smoke probe: a trivial fexit program on skb_clone() that counts the clones it sees. The host
 * refuses fentry/fexit (EPERM); the lab guests must load, attach and fire it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} clones SEC(".maps");

SEC("fexit/skb_clone")
int BPF_PROG(count_clone, struct sk_buff *skb, gfp_t gfp, struct sk_buff *ret)
{
	__u32 key = 0;
	__u64 *n;

	if (!ret)
		return 0;
	n = bpf_map_lookup_elem(&clones, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
