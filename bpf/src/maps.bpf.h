/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node-wide maps. Records live in a table of buckets or an LRU hash (see store.bpf.h); both
 * evict old records instead of refusing new ones, so a flood of packets that never reach a restorer
 * cannot stop later packets from being saved. Counters are per CPU to keep the hot path free of
 * atomics.
 */
#pragma once

#define TSN_RECORDS_MAX 65536
/* Buckets of the node-wide table (a power of two): 16384 x 320 bytes = 5 MiB per node. */
#define TSN_BUCKETS 16384

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TSN_RECORDS_MAX);
	__type(key, struct tsn_key);
	__type(value, struct tsn_record);
} tsn_records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TSN_BUCKETS);
	__type(key, __u32);
	__type(value, struct tsn_bucket);
} tsn_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tsn_counters);
} tsn_counters SEC(".maps");

/*
 * The clock gate, set by the agent (agent/clock): 1 while the clock behind the txtimes is
 * unsynchronised and the node asked to refuse them then (txtime.requireSyncedClock). A fresh map
 * reads 0: restore. Pinned node-wide.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tsn_clock_gate SEC(".maps");

static __always_inline bool tsn_clock_refused(void)
{
	__u32 zero = 0;
	__u32 *refuse = bpf_map_lookup_elem(&tsn_clock_gate, &zero);

	return refuse && *refuse;
}

static __always_inline struct tsn_counters *tsn_counters_here(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&tsn_counters, &zero);
}

/* Bumps one counter through a pointer from tsn_counters_here(); a per-CPU slot needs no atomic. */
#define TSN_BUMP(c, field)                                                \
	do {                                                              \
		if (c)                                                    \
			(c)->field++;                                     \
	} while (0)

/* Bumps one counter of this CPU (a lookup each: paths that bump two fetch the pointer once). */
#define TSN_COUNT(field)                                                  \
	do {                                                              \
		struct tsn_counters *c__ = tsn_counters_here();           \
		TSN_BUMP(c__, field);                                     \
	} while (0)

/*
 * The saver's clock: the last bpf_ktime_get_ns() of this CPU and the jiffy it was read in. One
 * per saver instance (not pinned, not shared): the saver reads the clock at most once a jiffy.
 */
struct tsn_clock {
	__u64 ns;
	__u64 jiffies;
	__u64 tags; /* the saver's per-packet tags handed out on this CPU */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tsn_clock);
} tsn_clock SEC(".maps");

/*
 * A bpf_ktime_get_ns() value read in the current jiffy: a lower bound of the time now, at most
 * about one tick (1/HZ) below it. bpf_jiffies64() is inlined by the verifier on 64-bit JITs (5.5+);
 * bpf_ktime_get_ns() is a helper call into the clocksource. Saving a lower bound keeps the
 * restorer's age check on the safe side: a record older than max_age_ns is still always refused;
 * one within a tick of the bound may be refused too.
 */
static __always_inline __u64 tsn_saved_now(void)
{
	__u32 zero = 0;
	struct tsn_clock *c = bpf_map_lookup_elem(&tsn_clock, &zero);
	__u64 j = bpf_jiffies64();
	__u64 now;

	if (c && c->jiffies == j)
		return c->ns;
	now = bpf_ktime_get_ns();
	if (c) {
		c->ns = now;
		c->jiffies = j;
	}
	return now;
}

/* The next per-packet tag of this CPU's saver: never 0 (0 marks a record without one). */
static __always_inline __u16 tsn_next_tag(void)
{
	__u32 zero = 0;
	struct tsn_clock *c = bpf_map_lookup_elem(&tsn_clock, &zero);
	__u16 tag;

	if (!c)
		return 0;
	tag = (__u16)(++c->tags);
	return tag ? tag : (__u16)(++c->tags);
}
