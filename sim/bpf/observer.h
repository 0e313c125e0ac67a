/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Structures shared by the e2e observer (observer.bpf.c) and its userspace side (sim/observer.ts).
 * A code generator reads their BTF from the compiled object; until it is wired, sim/observer_codec.ts
 * mirrors these layouts by hand, so change both together.
 */
#ifndef TSN_E2E_OBSERVER_H
#define TSN_E2E_OBSERVER_H

/* observer_expect.flags */
enum observer_expect_flags {
	/* The UDP payload starts with a struct observer_record (the talkers' 32-byte record). */
	OBSERVER_EXPECT_RECORD = 1,
};

/* The talkers' datagram payload (and the unit of their TCP byte streams). 32 bytes, little endian. */
#define OBSERVER_RECORD_MAGIC 0x504e5354 /* "TSNP" */
#define OBSERVER_RECORD_SIZE 32

enum observer_clock {
	OBSERVER_CLOCK_NONE = 0,
	OBSERVER_CLOCK_MONO = 1,
	OBSERVER_CLOCK_TAI = 2,
	OBSERVER_CLOCK_REALTIME = 3,
};

struct observer_record {
	__u32 magic;    /* OBSERVER_RECORD_MAGIC */
	__u32 pod;      /* talker's pod id */
	__u32 seq;      /* 0, 1, 2, ... per talker */
	__u32 priority; /* the SO_PRIORITY the talker set */
	__u64 txtime;   /* the SCM_TXTIME it attached, 0 = none */
	__u8 clock;     /* enum observer_clock of txtime */
	__u8 _pad[7];
};

/* Key of both maps: the talker's L4 destination port (host byte order), which NAT keeps. */
struct observer_key {
	__u16 port;
};

/* What the test expects for one talker (map observer_ports). */
struct observer_expect {
	__u32 pod;      /* pod id the records must carry */
	__u32 priority; /* skb->priority expected at the NIC (the ceiling for record packets) */
	enum observer_expect_flags flags; /* OBSERVER_EXPECT_* bits */
};

/*
 * Per-talker counters (map observer_stats), bumped atomically. Classes, per packet:
 *   priority: prio_right (== expected), else prio_zero (0), else prio_wrong; expected is
 *     min(record.priority, observer_expect.priority) for a packet with a valid record (the port's
 *     expectation is a ceiling, e.g. a namespace clamp), observer_expect.priority for packets
 *     without records; a packet that should carry a record but does not (records_bad) gets no
 *     priority or txtime verdict;
 *   txtime (record packets whose record carries a txtime): txtime_right (value and clock type),
 *     type_wrong (value right, clock type wrong), txtime_missing (tstamp 0), txtime_wrong (other);
 *   tstamp where none is expected: tstamp_invented for any non-zero tstamp on a record packet, and
 *     for a non-zero non-MONOTONIC tstamp on other packets; tstamp_mono counts the MONOTONIC ones
 *     on other packets (TCP's EDT delivery times are normal).
 */
struct observer_stats {
	__u64 packets;         /* IPv4 and IPv6 packets to the port seen at the hook */
	__u64 payload_bytes;   /* their L4 payload bytes */
	__u64 records;         /* record packets carrying a valid record for the expected pod */
	__u64 records_bad;     /* record expected but short, bad magic or another pod */
	__u64 prio_right;
	__u64 prio_zero;
	__u64 prio_wrong;
	__u64 txtime_right;
	__u64 txtime_missing;
	__u64 txtime_wrong;
	__u64 type_wrong;
	__u64 tstamp_invented;
	__u64 tstamp_mono;
	__u64 encapsulated;    /* of packets, seen inside VXLAN */
	__u64 ipv6;            /* of packets, IPv6 (inside VXLAN: the inner header's family) */
	__u64 last_priority;   /* last packet's skb->priority, for diagnostics */
	__u64 last_tstamp;     /* last packet's skb->tstamp */
	__u64 last_tstamp_type; /* last packet's __sk_buff.tstamp_type */
	struct observer_record last_record; /* last valid record seen */
};

#endif /* TSN_E2E_OBSERVER_H */
