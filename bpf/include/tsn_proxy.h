/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures shared by the BPF core and userspace. bpf2ts reads their BTF from the compiled object
 * and emits the TypeScript layouts, so this file is the single source of truth for every byte that
 * crosses the kernel boundary.
 */
#ifndef TSN_PROXY_H
#define TSN_PROXY_H

/* How a strategy derives the per-packet key (tsn_config.key_mode). */
enum tsn_key_mode {
	/* The sk_buff address: stable from pod egress to NIC egress unless the skb is cloned. */
	TSN_KEY_SKB_ADDR = 0,
	/* skb->data: survives clones, lost when the head is reallocated (encapsulation, NAT copy). */
	TSN_KEY_SKB_DATA = 1,
};

/* Where records live (tsn_config.store). */
enum tsn_store {
	/*
	 * One node-wide table of 4-way buckets (bucket = hash(key) % TSN_BUCKETS): a lookup reads one
	 * bucket whatever CPU saved the record, so its cost does not grow with the CPU count, and a
	 * record is lost only when four live records share its bucket. Writers claim a way with
	 * cmpxchg; a reader claims a record with cmpxchg on its key.
	 */
	TSN_STORE_BUCKETS = 0,
	/* One node-wide LRU hash: every operation takes a bucket lock and an LRU node. */
	TSN_STORE_LRU = 1,
};

/* Feature switches in tsn_config.flags. */
enum tsn_config_flags {
	/* Save packets whose only metadata is a MONOTONIC tstamp (every kernel >= 5.18 keeps those). */
	TSN_CFG_SAVE_MONO_ONLY = 1,
	/* Saver: the pod's namespace is denied txtimes; its records tell the restorer to drop them. */
	TSN_CFG_NO_TXTIME = 2,
};

/* Per-record switches in tsn_record.flags. */
enum tsn_record_flags {
	/* The txtime must not leave with the packet (denied, or beyond the horizon): not restored,
	 * and removed where the kernel kept it across the veth. */
	TSN_REC_DROP_TSTAMP = 1,
	/* The priority is the pod's default class, not one its socket set. */
	TSN_REC_DEFAULT_PRIORITY = 2,
};

/* Map key: one per packet in flight. */
struct tsn_key {
	__u64 id;
};

/*
 * Where a record came from: the pod's own headers as its saver saw them. The restorer applies a
 * record only to a packet of the same origin (origin.bpf.h): same source address, L4 ports and
 * protocol, read where the packet still carries the pod's headers, or from its conntrack entry
 * where NAT rewrote them. Offsets are measured from the packet's end, like the fingerprint's, so
 * encapsulation (which only prepends) does not move them.
 */
struct tsn_origin {
	__u32 addr[4]; /* source address, network order (IPv4: addr[0], the rest 0) */
	__u32 ports;   /* L4 source and destination port as on the wire, 0 when not TCP/UDP */
	__u16 ip_end;  /* offset of the pod's IP header from the packet end */
	__u16 l4_end;  /* offset of its TCP/UDP header from the packet end, 0 when none */
	__u8 family;   /* 4 or 6 */
	__u8 proto;    /* IPPROTO_* of the L4 header */
	__u16 tag;     /* the saver's per-packet tag, carried in skb->tc_index (0: none) */
};

/*
 * What the saver saw, plus the guards that tie it to one packet of one origin: the fingerprint hashes the last
 * tail_len bytes of the packet and 4 bytes anchored anchor_end bytes before its end. Both windows are
 * measured from the end, so NAT (which rewrites addresses, ports and checksums near the front) and
 * encapsulation (which only prepends) leave them intact.
 */
struct tsn_record {
	__u64 tstamp;      /* skb->tstamp at the pod, 0 when the packet had none */
	__u64 saved_ns;    /* bpf_ktime_get_ns() at save, for the age bound */
	__u64 fingerprint; /* see above */
	__u32 priority;    /* skb->priority at the pod, after the policy clamp */
	__u32 owner;       /* the saver instance (pod) that wrote it */
	__u16 anchor_end;  /* anchor offset from the packet end, 0 = no anchor */
	__u8 tail_len;     /* hashed tail bytes, 0..16 */
	__u8 tstamp_type;  /* the running kernel's __sk_buff.tstamp_type at the pod */
	__u32 cpu;         /* the saver's CPU (restored_other_cpu) */
	struct tsn_origin origin; /* whose packet it was (see above) */
	enum tsn_record_flags flags; /* a bitmask of TSN_REC_* */
};

/* Ways per bucket of TSN_STORE_BUCKETS. */
#define TSN_WAYS 4

/*
 * A bucket of the node-wide table: the keys first, so a lookup that misses (most packets at a
 * NIC) reads only them. Key 0 marks a way empty, TSN_KEY_BUSY one being written.
 */
struct tsn_bucket {
	__u64 keys[TSN_WAYS];
	struct tsn_record recs[TSN_WAYS];
};

/*
 * Read-only configuration (.rodata), fixed when an instance of the core is loaded. The restorer and
 * trackers are loaded once per node; each pod gets a saver instance with its own owner and clamp.
 */
struct tsn_config {
	enum tsn_key_mode key_mode; /* how packets are keyed */
	enum tsn_config_flags flags; /* a bitmask of TSN_CFG_* */
	__u32 owner;        /* saver: pod id written into records */
	__u32 max_priority; /* saver: priorities above this are clamped to it (policy) */
	__u64 max_age_ns;   /* restorer: older records are refused */
	enum tsn_store store; /* where records live */
	__u32 default_priority; /* saver: the priority of packets that carry none (0: no default) */
	__u64 txtime_horizon_ns; /* saver: txtimes further ahead of their clock are dropped (0: none) */
};

/* Per-CPU counters, one struct per CPU; userspace sums them. */
struct tsn_counters {
	__u64 saved;                /* records written by a saver */
	__u64 save_skipped;         /* packets with nothing worth saving */
	__u64 save_clamped;         /* priorities lowered by the policy */
	__u64 save_unfingerprinted; /* packets the saver could not fingerprint (not IP, truncated) */
	__u64 save_errors;          /* map updates that failed */
	__u64 save_overwrote;       /* live records displaced: four newer ones shared their bucket */
	__u64 save_contended;       /* records not saved: another CPU was writing the same way */
	__u64 save_defaulted;       /* packets given the pod's default priority (they had none) */
	__u64 txtime_denied;        /* txtimes a saver marked to drop: namespace denied */
	__u64 txtime_beyond_horizon; /* txtimes a saver marked to drop: too far ahead of their clock */
	__u64 restored;             /* records applied at a restorer */
	__u64 restored_other_cpu;   /* of those, saved on another CPU (RPS moved the packet) */
	__u64 restored_tstamp;      /* of those, tstamps written back */
	__u64 tstamp_kept;          /* tstamps the kernel had already kept intact */
	__u64 tstamp_conflict;      /* packets whose tstamp was changed on the node: left alone */
	__u64 tstamp_dropped;       /* txtimes the kernel kept that a record said to drop: removed */
	__u64 rejected_unsynced_clock; /* txtimes not restored: the clock gate says unsynchronised */
	__u64 missed;               /* packets at a restorer without a record (node traffic too) */
	__u64 rejected_stale;       /* records older than max_age_ns */
	__u64 rejected_fingerprint; /* records whose fingerprint did not match the packet */
	__u64 rejected_origin;      /* records of another origin (source address, ports) */
	__u64 rejected_tag;         /* records of another sk_buff of the same flow (tc_index tag) */
	__u64 clones_tracked;       /* records copied to a clone by the skb_clone tracker */
	__u64 freed_cleanup;        /* records deleted when their skb was freed */
	__u64 errors;               /* helper failures at restore */
};

#endif /* TSN_PROXY_H */
