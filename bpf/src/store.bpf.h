/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where records live between saver and restorer, behind three calls: put, take (consume) and peek.
 *
 * TSN_STORE_SLOTS: a direct-mapped table per CPU. The saver and restorer of a packet nearly always
 * run on the same CPU (docs/kernel-facts.md: every packet without RPS), and on one CPU they never
 * interleave (both run from __dev_queue_xmit() with bottom halves off), so the common case is a
 * per-CPU array lookup the verifier inlines: no lock, no allocation, no atomic. When RPS moved the
 * packet, the restorer looks in the other CPUs' tables (bpf_map_lookup_percpu_elem, 5.19+) and
 * claims a record with cmpxchg. A writer empties the key before rewriting the record and publishes
 * the new key last (an atomic exchange orders it), so a reader on another CPU either claims a
 * whole record under its key or sees the key change and misses.
 *
 * TSN_STORE_LRU: the node-wide LRU hash, kept to measure against.
 */
#pragma once

#define TSN_MAX_CPUS 256

static __always_inline __u32 tsn_slot_index(__u64 key)
{
	return (__u32)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (TSN_SLOTS - 1);
}

static __always_inline int tsn_store_put(__u64 key, struct tsn_record *rec)
{
	struct tsn_key k = { .id = key };
	struct tsn_slot *slot;
	__u32 idx;

	if (tsn_cfg.store == TSN_STORE_LRU)
		return bpf_map_update_elem(&tsn_records, &k, rec, BPF_ANY);
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

#define TSN_STALE (-2)

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

/* Removes and returns the fresh record under `key` (restorer); see tsn_slots_find(). */
static __always_inline int tsn_store_take(__u64 key, struct tsn_record *out)
{
	struct tsn_key k = { .id = key };
	struct tsn_record *found;

	if (tsn_cfg.store == TSN_STORE_SLOTS)
		return tsn_slots_find(key, out, true);
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
	found = bpf_map_lookup_elem(&tsn_records, &k);
	if (!found)
		return -1;
	*out = *found;
	return 0;
}
