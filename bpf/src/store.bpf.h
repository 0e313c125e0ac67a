/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where records live between saver and restorer, behind three calls: put, take (consume) and peek.
 *
 * TSN_STORE_SLOTS: a direct-mapped table per CPU. The saver and restorer of a packet nearly always
 * run on the same CPU (FACTS.md: all of 1.86 M packets without RPS), and on one CPU they never
 * interleave (both run from __dev_queue_xmit() with bottom halves off), so the common case is a
 * per-CPU array lookup the verifier inlines: no lock, no allocation, no atomic. When RPS moved the
 * packet, the restorer looks in the other CPUs' tables (bpf_map_lookup_percpu_elem, 5.19+) and
 * claims a record with cmpxchg. A writer empties the key before rewriting the record and publishes
 * the new key last (an atomic exchange orders it), so a reader on another CPU either claims a
 * whole record under its key or sees the key change and misses.
 *
 * TSN_STORE_BUCKETS: one node-wide table of 4-way buckets. A lookup reads one bucket's keys,
 * whichever CPU saved the record, so neither a miss nor a hit depends on the CPU count, and RPS
 * needs no search. A saver takes, in its bucket, the way of the same key, else an empty one, else
 * one past the age bound, else the oldest (counted: save_overwrote), and claims it with cmpxchg
 * from the key it saw to TSN_KEY_BUSY before it writes the record, then publishes its key with
 * an atomic exchange. A reader copies a record, then claims it with cmpxchg from its key to 0:
 * a writer must have moved the key away before touching the record, so a successful claim proves
 * the copy whole. The same key cannot be saved again while its packet is at a restorer (the
 * sk_buff, or its data buffer, is alive there), so a claim cannot succeed across a rewrite.
 *
 * TSN_STORE_LRU: the node-wide LRU hash, kept to measure against.
 */
#pragma once

#define TSN_MAX_CPUS 256

static __always_inline __u32 tsn_slot_index(__u64 key)
{
	return (__u32)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (TSN_SLOTS - 1);
}

#define TSN_STALE (-2)
#define TSN_CONTENDED (-3)

static __always_inline int tsn_slots_put(__u64 key, struct tsn_record *rec)
{
	struct tsn_slot *slot;
	__u32 idx;

	idx = tsn_slot_index(key);
	slot = bpf_map_lookup_elem(&tsn_slots, &idx);
	if (!slot)
		return -1;
	if (slot->key && slot->key != key && rec->saved_ns - slot->rec.saved_ns < tsn_cfg.max_age_ns)
		TSN_COUNT(save_overwrote);
	slot->key = 0;
	/*
	 * Plain stores: the compiler may sink the empty key below the record's (clang 19 does once
	 * the record's fields are stored one by one). The empty key must reach memory first; x86
	 * keeps stores in program order and the JIT emits them as written.
	 */
	asm volatile("" ::: "memory");
	slot->rec = *rec;
	__sync_lock_test_and_set(&slot->key, key);
	return 0;
}

/*
 * Copies out the record under `key` from one slot and, when `consume`, claims it. On this CPU's
 * own table nothing can interleave (see above), so a plain store empties the slot; another CPU's
 * slot is claimed with cmpxchg, which fails if its writer moved on while the record was copied.
 * A record past the age bound is TSN_STALE: a packet that never reached a restorer left it, and
 * it must not hide a fresh record of the same key on another CPU (skb-data reuses its buffers).
 */
static __always_inline int tsn_slot_read(struct tsn_slot *slot, __u64 key, struct tsn_record *out,
					 bool consume, bool own)
{
	if (!slot || slot->key != key)
		return -1;
	*out = slot->rec;
	/* The clock only once a key matched: a miss (most packets at a NIC) never reads it. */
	if (bpf_ktime_get_ns() - out->saved_ns > tsn_cfg.max_age_ns) {
		if (own && consume)
			slot->key = 0;
		return TSN_STALE;
	}
	if (own) {
		if (consume)
			slot->key = 0;
		return 0;
	}
	if (consume)
		return __sync_val_compare_and_swap(&slot->key, key, 0) == key ? 0 : -1;
	return slot->key == key ? 0 : -1;
}

/*
 * Finds the fresh record under `key`: this CPU's table, then the others'. Returns 0 on this CPU,
 * 1 on another one, TSN_STALE when only stale records carry the key, -1 when none does.
 */
static __always_inline int tsn_slots_find(__u64 key, struct tsn_record *out, bool consume)
{
	__u32 idx = tsn_slot_index(key);
	__u32 self;
	int found;
	int seen = -1;

	found = tsn_slot_read(bpf_map_lookup_elem(&tsn_slots, &idx), key, out, consume, true);
	if (!found)
		return 0;
	if (found == TSN_STALE)
		seen = TSN_STALE;
	self = bpf_get_smp_processor_id();
	for (__u32 cpu = 0; cpu < TSN_MAX_CPUS; cpu++) {
		if (cpu >= tsn_cfg.nr_cpus)
			break;
		if (cpu == self)
			continue;
		found = tsn_slot_read(bpf_map_lookup_percpu_elem(&tsn_slots, &idx, cpu), key, out,
				      consume, false);
		if (!found)
			return 1;
		if (found == TSN_STALE)
			seen = TSN_STALE;
	}
	return seen;
}

/* Never a key: keys are kernel addresses. */
#define TSN_KEY_BUSY 1ULL

static __always_inline struct tsn_bucket *tsn_bucket_of(__u64 key)
{
	__u32 idx = tsn_slot_index(key) & (TSN_BUCKETS - 1);

	return bpf_map_lookup_elem(&tsn_buckets, &idx);
}

/* Is a record saved at `then` past the age bound at `now`? Signed: clocks of two CPUs' savers. */
static __always_inline bool tsn_expired(__u64 now, __u64 then)
{
	return (__s64)(now - then) > (__s64)tsn_cfg.max_age_ns;
}

/* The way a saver writes `key` into (see the file comment); counts a live record it displaces. */
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
	if (seen == TSN_KEY_BUSY || __sync_val_compare_and_swap(&b->keys[way], seen, TSN_KEY_BUSY) != seen)
		return TSN_CONTENDED;
	b->recs[way] = *rec;
	__sync_lock_test_and_set(&b->keys[way], key);
	return 0;
}

/* The record under `key` (see tsn_slots_find() for the return values); `consume` claims it. */
static __always_inline int tsn_buckets_find(__u64 key, struct tsn_record *out, bool consume)
{
	struct tsn_bucket *b = tsn_bucket_of(key);

	if (!b)
		return -1;
	for (__u32 i = 0; i < TSN_WAYS; i++) {
		if (b->keys[i] != key)
			continue;
		*out = b->recs[i];
		/* A cmpxchg that leaves the key as it is still fails if a writer moved it meanwhile. */
		if (__sync_val_compare_and_swap(&b->keys[i], key, consume ? 0 : key) != key)
			return -1;
		/* The clock only once a key matched: a miss (most packets at a NIC) never reads it. */
		if (tsn_expired(bpf_ktime_get_ns(), out->saved_ns))
			return TSN_STALE;
		return out->cpu == bpf_get_smp_processor_id() ? 0 : 1;
	}
	return -1;
}

/* Saves `rec` under `key` (saver, tracker); 0, or < 0 when the record could not be stored. */
static __always_inline int tsn_store_put(__u64 key, struct tsn_record *rec)
{
	struct tsn_key k = { .id = key };

	if (tsn_cfg.store == TSN_STORE_LRU)
		return bpf_map_update_elem(&tsn_records, &k, rec, BPF_ANY);
	if (tsn_cfg.store == TSN_STORE_BUCKETS)
		return tsn_buckets_put(key, rec);
	return tsn_slots_put(key, rec);
}

/* Removes and returns the fresh record under `key` (restorer); see tsn_slots_find(). */
static __always_inline int tsn_store_take(__u64 key, struct tsn_record *out)
{
	struct tsn_key k = { .id = key };
	struct tsn_record *found;

	if (tsn_cfg.store == TSN_STORE_SLOTS)
		return tsn_slots_find(key, out, true);
	if (tsn_cfg.store == TSN_STORE_BUCKETS)
		return tsn_buckets_find(key, out, true);
	found = bpf_map_lookup_elem(&tsn_records, &k);
	if (!found)
		return -1;
	*out = *found;
	bpf_map_delete_elem(&tsn_records, &k);
	return bpf_ktime_get_ns() - out->saved_ns > tsn_cfg.max_age_ns ? TSN_STALE : 0;
}

/* Returns the record under `key` and leaves it in place (clone tracker). */
static __always_inline int tsn_store_peek(__u64 key, struct tsn_record *out)
{
	struct tsn_key k = { .id = key };
	struct tsn_record *found;

	if (tsn_cfg.store == TSN_STORE_SLOTS)
		return tsn_slots_find(key, out, false);
	if (tsn_cfg.store == TSN_STORE_BUCKETS)
		return tsn_buckets_find(key, out, false);
	found = bpf_map_lookup_elem(&tsn_records, &k);
	if (!found)
		return -1;
	*out = *found;
	return 0;
}
