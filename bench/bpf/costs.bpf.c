// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Cost probes for BPF_PROG_TEST_RUN. The tsn-proxy core is included verbatim (same sources, same
 * flags), plus:
 *   bench_save_restore  the saver and then the restorer on the same packet, inlined into one
 *                       program: inside one test run the sk_buff (and its data) stays the same, so
 *                       every run is a restorer HIT, which a lone restorer can never get here;
 *   bench_lru_cycle     one update + one delete in an LRU hash with the records' key and value
 *                       sizes: the floor of any design that stores records in a shared hash.
 */
#include "../../bpf/src/tsn_core.bpf.c"

SEC("tc")
__attribute__((flatten)) int bench_save_restore(struct __sk_buff *skb)
{
	tsn_saver(skb);
	return tsn_restorer(skb);
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tsn_key);
	__type(value, struct tsn_record);
} bench_lru SEC(".maps");

SEC("tc")
int bench_lru_cycle(struct __sk_buff *skb)
{
	struct tsn_key key = { .id = (__u64)(unsigned long)skb };
	struct tsn_record rec = { .priority = skb->priority };

	bpf_map_update_elem(&bench_lru, &key, &rec, BPF_ANY);
	bpf_map_delete_elem(&bench_lru, &key);
	return TC_ACT_UNSPEC;
}
