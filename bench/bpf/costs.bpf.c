// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Cost probes for BPF_PROG_TEST_RUN. The tsn-proxy core is included verbatim (same sources, same
 * flags), plus:
 *   bench_save_restore  the saver and then the restorer on the same packet, inlined into one
 *                       program: inside one test run the sk_buff (and its data) stays the same, so
 *                       every run is a restorer HIT, which a lone restorer can never get here;
 *   bench_saver_tagged, bench_restorer_tagged
 *                       the saver and the restorer as the separate programs of production, each
 *                       in its own test run: the restorer's run gets a new sk_buff, which the slab
 *                       hands back at the address the saver's run just freed (skb-addr finds the
 *                       record), but the saver's per-packet tag in tc_index is gone and a test
 *                       run cannot set tc_index (convert___skb_to_skb() wants it zero). So the
 *                       saver copies its tag to mark (ctx_out returns it) and the restorer takes
 *                       it back from mark (ctx in): one store each around the production code;
 *   bench_miss_same_bucket, bench_miss_new_bucket
 *                       the record store's miss alone (tsn_buckets_find() of a key nobody saved):
 *                       on the same bucket every run, as every test run of the restorer does
 *                       (its sk_buff, hence its key, is the same), and on the next bucket of the
 *                       table every run, as a node's stream of different sk_buffs does: the
 *                       difference is what the bucket's cache line costs when it is not hot;
 *   bench_lru_cycle     one update + one delete in an LRU hash with the records' key and value
 *                       sizes: the floor of any design that stores records in a shared hash;
 *   bench_origin_*      the restorer's origin check (origin.bpf.h) on a record of the packet
 *                       itself: "parse" notes the origin as the saver does, "in_place" adds the
 *                       check of the headers in place (bridged and routed paths), "conntrack" adds
 *                       the read of the sk_buff's conntrack entry that NATed paths take instead
 *                       (a test run's sk_buff has none: the read of skb->_nfct and the branch).
 */
#include "../../bpf/src/tsn_core.bpf.c"

#define TC_ACT_OK_ 0

SEC("tc")
__attribute__((flatten)) int bench_save_restore(struct __sk_buff *skb)
{
	tsn_saver(skb);
	return tsn_restorer(skb);
}

SEC("tc")
__attribute__((flatten)) int bench_saver_tagged(struct __sk_buff *skb)
{
	int ret = tsn_saver(skb);

	skb->mark = skb->tc_index;
	return ret;
}

SEC("tc")
__attribute__((flatten)) int bench_restorer_tagged(struct __sk_buff *skb)
{
	skb->tc_index = skb->mark;
	return tsn_restorer(skb);
}

/* Keys no saver writes (odd: kernel addresses are aligned); the next one lands in another bucket. */
static __u64 bench_seq;

SEC("tc")
int bench_miss_same_bucket(struct __sk_buff *skb)
{
	struct tsn_record rec;

	return tsn_buckets_find(0x5a5a5a5a5a5a5a5bULL, &rec, true) < 0 ? TC_ACT_UNSPEC : TC_ACT_OK_;
}

SEC("tc")
int bench_miss_new_bucket(struct __sk_buff *skb)
{
	struct tsn_record rec;

	/* A multiplicative step: the bucket index (key * golden ratio >> 32) jumps pseudo-randomly. */
	bench_seq += 0x9e3779b97f4a7c15ULL * 2;
	return tsn_buckets_find(bench_seq | 1, &rec, true) < 0 ? TC_ACT_UNSPEC : TC_ACT_OK_;
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

/* The origin the saver would note for this packet, or -1 (not counted: the frame is fixed). */
static __always_inline int bench_origin_of(struct __sk_buff *skb, struct tsn_origin *o)
{
	struct tsn_windows w;

	return tsn_pick_windows((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len, &w,
				o);
}

SEC("tc")
__attribute__((flatten)) int bench_origin_parse(struct __sk_buff *skb)
{
	struct tsn_origin o = {};

	return bench_origin_of(skb, &o) ? TC_ACT_UNSPEC : TC_ACT_OK_;
}

SEC("tc")
__attribute__((flatten)) int bench_origin_in_place(struct __sk_buff *skb)
{
	__u32 len = skb->len, ifindex = skb->ingress_ifindex;
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct tsn_origin o = {};

	if (bench_origin_of(skb, &o))
		return TC_ACT_UNSPEC;
	return tsn_origin_matches(skb, data, data_end, len, ifindex, &o) ? TC_ACT_OK_ :
									  TC_ACT_UNSPEC;
}

SEC("tc")
__attribute__((flatten)) int bench_origin_conntrack(struct __sk_buff *skb)
{
	struct tsn_origin o = {};

	if (bench_origin_of(skb, &o))
		return TC_ACT_UNSPEC;
	return tsn_origin_conntrack(skb, &o) ? TC_ACT_OK_ : TC_ACT_UNSPEC;
}
