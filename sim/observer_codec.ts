/**
 * The observer's map keys and values as the simulator uses them, on top of the codecs bpf2ts
 * generates from observer.bpf.o's BTF (sim/bpf/gen/observer.ts): no layout is written here.
 * Counters become plain numbers (a test's packet counts fit), the last record a TalkerRecord.
 * Also bpftool's byte formats, since the observer is driven through bpftool.
 *
 * @module
 */

import * as gen from "./bpf/gen/observer.ts";
import { decodeRecord, type TalkerRecord } from "./talkers/record.ts";

/** observer_expect.flags: the UDP payload carries a talker record. */
export const OBSERVER_EXPECT_RECORD = gen.ObserverExpectFlags.OBSERVER_EXPECT_RECORD;

/** sizeof(struct observer_key). */
export const OBSERVER_KEY_SIZE = gen.ObserverKey.size;
/** sizeof(struct observer_expect). */
export const OBSERVER_EXPECT_SIZE = gen.ObserverExpect.size;

/** struct observer_expect. */
export interface ObserverExpectValue {
  /** Pod id the records must carry. */
  pod: number;
  /** skb->priority expected at the NIC. */
  priority: number;
  /** OBSERVER_EXPECT_* bits. */
  flags: number;
}

/** The u64 counters of struct observer_stats, in field order. */
export const OBSERVER_COUNTERS = [
  "packets",
  "payloadBytes",
  "records",
  "recordsBad",
  "prioRight",
  "prioZero",
  "prioWrong",
  "txtimeRight",
  "txtimeMissing",
  "txtimeWrong",
  "typeWrong",
  "tstampInvented",
  "tstampMono",
  "encapsulated",
  "ipv6",
] as const;

/** A counter name of {@linkcode ObserverStats}. */
export type ObserverCounter = typeof OBSERVER_COUNTERS[number];

/** struct observer_stats, decoded (see observer.h for what each counter means). */
export type ObserverStats = Record<ObserverCounter, number> & {
  /** Last packet's skb->priority. */
  lastPriority: number;
  /** Last packet's skb->tstamp. */
  lastTstamp: bigint;
  /** Last packet's tstamp_type (0 REALTIME, 1 MONOTONIC, 2 TAI on >= 6.11). */
  lastTstampType: number;
  /** Last valid record, null before the first. */
  lastRecord: TalkerRecord | null;
};

/** sizeof(struct observer_stats). */
export const OBSERVER_STATS_SIZE = gen.ObserverStats.size;

/** Encodes struct observer_key (the port, host order). */
export function encodeObserverKey(port: number): Uint8Array {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`port ${port}`);
  return gen.ObserverKey.encode({ port });
}

/** Decodes struct observer_key. */
export function decodeObserverKey(bytes: Uint8Array): number {
  if (bytes.length !== OBSERVER_KEY_SIZE) throw new RangeError("observer_key: size");
  return gen.ObserverKey.decode(bytes).port;
}

/** Encodes struct observer_expect. */
export function encodeObserverExpect(v: ObserverExpectValue): Uint8Array {
  return gen.ObserverExpect.encode(v);
}

/** Decodes struct observer_expect. */
export function decodeObserverExpect(bytes: Uint8Array): ObserverExpectValue {
  if (bytes.length !== OBSERVER_EXPECT_SIZE) throw new RangeError("observer_expect: size");
  return gen.ObserverExpect.decode(bytes);
}

/** All-zero stats (a talker the observer has not seen). */
export function emptyObserverStats(): ObserverStats {
  return decodeObserverStats(new Uint8Array(OBSERVER_STATS_SIZE));
}

/** Decodes struct observer_stats. */
export function decodeObserverStats(bytes: Uint8Array): ObserverStats {
  if (bytes.length !== OBSERVER_STATS_SIZE) {
    throw new RangeError(`observer_stats: ${bytes.length} bytes, want ${OBSERVER_STATS_SIZE}`);
  }
  const s = gen.ObserverStats.decode(bytes);
  const counters = {} as Record<ObserverCounter, number>;
  for (const name of OBSERVER_COUNTERS) counters[name] = Number(s[name]);
  const rec = bytes.subarray(
    gen.ObserverStats.fields.lastRecord.offset,
    gen.ObserverStats.fields.lastRecord.offset + gen.ObserverRecord.size,
  );
  return {
    ...counters,
    lastPriority: Number(s.lastPriority),
    lastTstamp: s.lastTstamp,
    lastTstampType: Number(s.lastTstampType),
    lastRecord: rec.some((b) => b !== 0) ? decodeRecord(rec) : null,
  };
}

/** bpftool's JSON byte list (["0x0a", ...]) to bytes. */
export function fromBpftoolBytes(list: readonly string[]): Uint8Array {
  return new Uint8Array(list.map((s) => {
    const n = Number.parseInt(s, 16);
    if (!/^(0x)?[0-9a-f]{1,2}$/i.test(s) || Number.isNaN(n)) throw new Error(`bpftool byte ${s}`);
    return n;
  }));
}

/** Bytes to bpftool's command-line form: ["hex", "0a", "00", ...]. */
export function toBpftoolHex(bytes: Uint8Array): string[] {
  return ["hex", ...[...bytes].map((b) => b.toString(16).padStart(2, "0"))];
}
