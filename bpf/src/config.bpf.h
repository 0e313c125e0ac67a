/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The load-time configuration. It lives in .rodata, so the verifier sees constants and prunes the
 * branches of the key modes and flags that an instance does not use: one object serves every
 * strategy at the cost of none.
 */
#pragma once

const volatile struct tsn_config tsn_cfg = {
	.key_mode = TSN_KEY_SKB_ADDR,
	.flags = 0,
	.owner = 0,
	.max_priority = 0xffffffff,
	.max_age_ns = 100 * 1000 * 1000,
	.store = TSN_STORE_BUCKETS,
	.default_priority = 0,
	.txtime_horizon_ns = 0,
};
