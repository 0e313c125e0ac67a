/**
 * Byte layouts of the observer's map keys and values (e2e/bpf/observer.h), little endian.
 *
 * TODO(gen): a hand-written stand-in. Replace it with the generated bindings
 * (e2e/bpf/gen/observer.ts, emitted from observer.bpf.o's BTF) and delete this file; only
 * e2e/observer.ts imports it.
 *
 * @module
 */

import { decodeRecord, RECORD_SIZE, type TalkerRecord } from "./talkers/record.ts";

/** observer_expect.flags: the UDP payload carries a talker record. */
export const OBSERVER_EXPECT_RECORD = 1;

/** sizeof(struct observer_key). */
export const OBSERVER_KEY_SIZE = 2;
/** sizeof(struct observer_expect). */
export const OBSERVER_EXPECT_SIZE = 12;

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
export const OBSERVER_STATS_SIZE = OBSERVER_COUNTERS.length * 8 + 3 * 8 + RECORD_SIZE;

/** Encodes struct observer_key (the port, host order). */
export function encodeObserverKey(port: number): Uint8Array {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`port ${port}`);
  const out = new Uint8Array(OBSERVER_KEY_SIZE);
  new DataView(out.buffer).setUint16(0, port, true);
  return out;
}

/** Decodes struct observer_key. */
export function decodeObserverKey(bytes: Uint8Array): number {
  if (bytes.length !== OBSERVER_KEY_SIZE) throw new RangeError("observer_key: size");
  return new DataView(bytes.buffer, bytes.byteOffset).getUint16(0, true);
}

/** Encodes struct observer_expect. */
export function encodeObserverExpect(v: ObserverExpectValue): Uint8Array {
  const out = new Uint8Array(OBSERVER_EXPECT_SIZE);
  const d = new DataView(out.buffer);
  d.setUint32(0, v.pod, true);
  d.setUint32(4, v.priority, true);
  d.setUint32(8, v.flags, true);
  return out;
}

/** Decodes struct observer_expect. */
export function decodeObserverExpect(bytes: Uint8Array): ObserverExpectValue {
  if (bytes.length !== OBSERVER_EXPECT_SIZE) throw new RangeError("observer_expect: size");
  const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return { pod: d.getUint32(0, true), priority: d.getUint32(4, true), flags: d.getUint32(8, true) };
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
  const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const counters = {} as Record<ObserverCounter, number>;
  OBSERVER_COUNTERS.forEach((name, i) => {
    counters[name] = Number(d.getBigUint64(i * 8, true));
  });
  const tail = OBSERVER_COUNTERS.length * 8;
  const rec = bytes.subarray(tail + 24, tail + 24 + RECORD_SIZE);
  return {
    ...counters,
    lastPriority: Number(d.getBigUint64(tail, true)),
    lastTstamp: d.getBigUint64(tail + 8, true),
    lastTstampType: Number(d.getBigUint64(tail + 16, true)),
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
