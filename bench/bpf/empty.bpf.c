// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor: a tc program that does nothing and lets the chain go on. BPF_PROG_TEST_RUN of it is
 * the harness's own cost per run; attached next to the saver or restorer it measures what
 * bpf_stats itself adds per packet at that hook.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int bench_empty(struct __sk_buff *skb)
{
	return -1; /* TC_ACT_UNSPEC / TCX_NEXT */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
