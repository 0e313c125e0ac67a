// SPDX-License-Identifier: GPL-2.0
/* A tc program the verifier must refuse (bpf/libbpf/object_kernel_test.ts). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int reads_past_packet(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;

	/* No bounds check against data_end: the verifier must refuse this. */
	return *(volatile __u32 *)(data + 100);
}

char LICENSE[] SEC("license") = "GPL";
