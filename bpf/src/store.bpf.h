/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where records live between saver and restorer, behind three calls: put, take (consume) and peek.
 *
 * TSN_STORE_BUCKETS: one node-wide table of 4-way buckets. A lookup reads one bucket's keys,
 * whichever CPU saved the record, so neither a miss nor a hit depends on the CPU count, and a
 * packet that RPS moved to another CPU needs no search. (It replaced per-CPU direct-mapped tables
 * whose miss searched every other CPU's table: 40 ns at 2 CPUs, 509 at 64; docs/performance.md.)
 *
 * A saver takes, in its bucket, the way of the same key, else an empty one, else one past the age
 * bound, else the oldest (counted: save_overwrote), and claims it with cmpxchg from the key it saw
 * to TSN_KEY_BUSY before it writes the record, then publishes its key with an atomic exchange. A
 * reader copies a record, then claims it with cmpxchg from its key to 0: a writer must have moved
 * the key away before touching the record, so a successful claim proves the copy whole. The same
 * key cannot be saved again while its packet is at a restorer (the sk_buff, or its data buffer,
 * is alive there), so a claim cannot succeed across a rewrite.
 *
 * TSN_STORE_LRU: the node-wide LRU hash, kept to measure against (a bucket lock and an LRU node
 * per operation).
 */
#pragma once

#define TSN_STALE (-2)
#define TSN_CONTENDED (-3)
/* Never a key: keys are kernel addresses. */
#define TSN_KEY_BUSY 1ULL

static __always_inline struct tsn_bucket *tsn_bucket_of(__u64 key)
{
	__u32 idx = (__u32)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (TSN_BUCKETS - 1);

	return bpf_map_lookup_elem(&tsn_buckets, &idx);
}

/* Is a record saved at `then` past the age bound at `now`? Signed: clocks of two CPUs' savers. */
static __always_inline bool tsn_expired(__u64 now, __u64 then)
{
	return (__s64)(now - then) > (__s64)tsn_cfg.max_age_ns;
}

/* The way a saver writes `key` into (see above); counts a live record it displaces. */
static __always_inline __u32 tsn_bucket_way(struct tsn_bucket *b, __u64 key, __u64 now)
{
	__u32 oldest = 0;

	for (__u32 i = 0; i < TSN_WAYS; i++)
		if (b->keys[i] == key)
			return i;
	for (__u32 i = 0; i < TSN_WAYS; i++)
		if (!b->keys[i])
			return i;
	for (__u32 i = 0; i < TSN_WAYS; i++) {
		if (tsn_expired(now, b->recs[i].saved_ns))
			return i;
		if ((__s64)(b->recs[i].saved_ns - b->recs[oldest].saved_ns) < 0)
			oldest = i;
	}
	TSN_COUNT(save_overwrote);
	return oldest;
}

static __always_inline int tsn_buckets_put(__u64 key, struct tsn_record *rec)
{
	struct tsn_bucket *b = tsn_bucket_of(key);
	__u32 way;
	__u64 seen;

	if (!b)
		return -1;
	way = tsn_bucket_way(b, key, rec->saved_ns) & (TSN_WAYS - 1);
	seen = b->keys[way];
	if (seen == TSN_KEY_BUSY ||
	    __sync_val_compare_and_swap(&b->keys[way], seen, TSN_KEY_BUSY) != seen)
		return TSN_CONTENDED;
	b->recs[way] = *rec;
	__sync_lock_test_and_set(&b->keys[way], key);
	return 0;
}

/*
 * The record under `key`: 0 when its saver ran on this CPU, 1 when on another one, TSN_STALE
 * when it is past the age bound (a packet that never reached a restorer left it), -1 when none is
 * there. `consume` claims it; otherwise it stays.
 */
static __always_inline int tsn_buckets_find(__u64 key, struct tsn_record *out, bool consume)
{
	struct tsn_bucket *b = tsn_bucket_of(key);
	__u32 way = TSN_WAYS;

	if (!b)
		return -1;
	for (__u32 i = 0; i < TSN_WAYS; i++) {
		if (b->keys[i] == key) {
			way = i;
			break;
		}
	}
	if (way >= TSN_WAYS)
		return -1;
	*out = b->recs[way];
	/* A cmpxchg that leaves the key as it is still fails if a writer moved it meanwhile. */
	if (__sync_val_compare_and_swap(&b->keys[way], key, consume ? 0 : key) != key)
		return -1;
	/* The clock only once a key matched: a miss (most packets at a NIC) never reads it. */
	if (tsn_expired(bpf_ktime_get_ns(), out->saved_ns))
		return TSN_STALE;
	return out->cpu == bpf_get_smp_processor_id() ? 0 : 1;
}

/* Saves `rec` under `key` (saver, tracker); 0, or < 0 when the record could not be stored. */
static __always_inline int tsn_store_put(__u64 key, struct tsn_record *rec)
{
	struct tsn_key k = { .id = key };

	if (tsn_cfg.store == TSN_STORE_LRU)
		return bpf_map_update_elem(&tsn_records, &k, rec, BPF_ANY);
	return tsn_buckets_put(key, rec);
}

/* Removes and returns the fresh record under `key` (restorer); see tsn_buckets_find(). */
static __always_inline int tsn_store_take(__u64 key, struct tsn_record *out)
{
	struct tsn_key k = { .id = key };
	struct tsn_record *found;

	if (tsn_cfg.store == TSN_STORE_BUCKETS)
		return tsn_buckets_find(key, out, true);
	found = bpf_map_lookup_elem(&tsn_records, &k);
	if (!found)
		return -1;
	*out = *found;
	bpf_map_delete_elem(&tsn_records, &k);
	if (tsn_expired(bpf_ktime_get_ns(), out->saved_ns))
		return TSN_STALE;
	return out->cpu == bpf_get_smp_processor_id() ? 0 : 1;
}

/* Returns the record under `key` and leaves it in place (clone tracker). */
static __always_inline int tsn_store_peek(__u64 key, struct tsn_record *out)
{
	struct tsn_key k = { .id = key };
	struct tsn_record *found;

	if (tsn_cfg.store == TSN_STORE_BUCKETS)
		return tsn_buckets_find(key, out, false);
	found = bpf_map_lookup_elem(&tsn_records, &k);
	if (!found)
		return -1;
	*out = *found;
	return 0;
}
