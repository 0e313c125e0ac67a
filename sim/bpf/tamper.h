/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The test-only tamper program's configuration (sim/bpf/tamper.bpf.c, sim/tamper.ts). */
#ifndef TSN_E2E_TAMPER_H
#define TSN_E2E_TAMPER_H

enum tamper_flags {
	TAMPER_SET_PRIORITY = 1,   /* skb->priority = priority */
	TAMPER_CLEAR_TSTAMP = 2,   /* skb->tstamp = 0 */
	TAMPER_SHIFT_TSTAMP = 4,   /* skb->tstamp += tstamp (clock type kept) */
	TAMPER_RETYPE_MONO = 8,    /* same value, clock type MONOTONIC */
	TAMPER_SET_TSTAMP_TAI = 16, /* skb->tstamp = tstamp, clock type TAI */
};

/* UDP destination port, host order. */
struct tamper_key {
	__u16 port;
};

struct tamper_action {
	enum tamper_flags flags;
	__u32 priority;
	__u64 tstamp;
};

#endif /* TSN_E2E_TAMPER_H */
