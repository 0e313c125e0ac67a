// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tsn-proxy's BPF core: one object for every strategy. Programs:
 *   tsn_saver           tc egress, pod side of the veth: records priority and tstamp per packet;
 *   tsn_restorer        tc egress, TSN interface: writes them back onto the same packet;
 *   tsn_track_clone     fexit/skb_clone, skb-addr only: follows clones to their new address;
 *   tsn_cleanup_kfree,  tp_btf: optional, forget records of freed sk_buffs.
 *   tsn_cleanup_consume
 * Needs a kernel with BTF and __sk_buff.tstamp_type (5.18+) and bpf_ktime_get_tai_ns() (6.1+);
 * TCX attachment needs 6.6+, older kernels use clsact. The key mode and the guard limits come from tsn_cfg (.rodata).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tsn_proxy.h"

#define TC_ACT_UNSPEC (-1)

#include "config.bpf.h"
#include "maps.bpf.h"
#include "key.bpf.h"
#include "store.bpf.h"
#include "fingerprint.bpf.h"
#include "origin.bpf.h"
#include "txtime.bpf.h"
#include "saver.bpf.h"
#include "restorer.bpf.h"
#include "tracker.bpf.h"
#include "cleanup.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
