/**
 * The talkers' 32-byte record (struct observer_record in sim/bpf/observer.h): every test datagram
 * carries one, and TCP talkers stream them back to back. Its layout comes from the codec bpf2ts
 * generates (sim/bpf/gen/observer.ts): magic, pod id, seq, the priority and txtime the talker set,
 * and the txtime's clock.
 *
 * @module
 */
import { ObserverRecord } from "../bpf/gen/observer.ts";

/** Size of one record. */
export const RECORD_SIZE = ObserverRecord.size;
/** "TSNP" read as a little-endian u32 (OBSERVER_RECORD_MAGIC, a #define: not in BTF). */
export const RECORD_MAGIC = 0x504e5354;

/**
 * A record priority that names none: the observer judges such a packet by its port's expectation
 * alone (e.g. a pod's default class, or datagrams several talkers send alike).
 */
export const ANY_PRIORITY = 0xffff_ffff;

/** The clock a talker's txtime is on. */
export type TxClock = "none" | "mono" | "tai" | "realtime";

/** Record clock codes (enum observer_clock). */
const CLOCK_CODE: Readonly<Record<TxClock, number>> = {
  none: 0,
  mono: 1,
  tai: 2,
  realtime: 3,
};

/** Linux clockids of the clocks. */
export const CLOCK_ID = { realtime: 0, mono: 1, tai: 11 } as const;

/** One decoded record. */
export interface TalkerRecord {
  /** The talker's pod id. */
  pod: number;
  /** Sequence number within the talker's run. */
  seq: number;
  /** The SO_PRIORITY the talker set. */
  priority: number;
  /** The SCM_TXTIME it attached (ns on clock), 0n when none. */
  txtime: bigint;
  /** The clock of txtime. */
  clock: TxClock;
}

/** Encodes r into out at offset (default: a new 32-byte array); returns out. */
export function encodeRecord(
  r: TalkerRecord,
  out: Uint8Array = new Uint8Array(RECORD_SIZE),
  offset = 0,
): Uint8Array {
  if (out.length < offset + RECORD_SIZE) throw new RangeError("encodeRecord: buffer too small");
  if (r.clock === "none" && r.txtime !== 0n) {
    throw new RangeError("encodeRecord: txtime without clock");
  }
  ObserverRecord.encode(
    {
      magic: RECORD_MAGIC,
      pod: r.pod,
      seq: r.seq,
      priority: r.priority,
      txtime: r.txtime,
      clock: CLOCK_CODE[r.clock],
    },
    out,
    offset,
  );
  return out;
}

/** Decodes the record at offset; throws on a short buffer, a bad magic or an unknown clock. */
export function decodeRecord(bytes: Uint8Array, offset = 0): TalkerRecord {
  if (bytes.length < offset + RECORD_SIZE) throw new RangeError("decodeRecord: short buffer");
  const v = ObserverRecord.decode(bytes, offset);
  if (v.magic !== RECORD_MAGIC) {
    throw new Error(`decodeRecord: bad magic 0x${v.magic.toString(16)}`);
  }
  const clock = (Object.keys(CLOCK_CODE) as TxClock[]).find((k) => CLOCK_CODE[k] === v.clock);
  if (clock === undefined) throw new Error(`decodeRecord: unknown clock ${v.clock}`);
  return { pod: v.pod, seq: v.seq, priority: v.priority, txtime: v.txtime, clock };
}

/** count records without txtime (seq from firstSeq), back to back: a socat talker's input. */
export function encodeRecordStream(
  pod: number,
  priority: number,
  count: number,
  firstSeq = 0,
): Uint8Array {
  const out = new Uint8Array(count * RECORD_SIZE);
  for (let i = 0; i < count; i++) {
    encodeRecord(
      { pod, seq: firstSeq + i, priority, txtime: 0n, clock: "none" },
      out,
      i * RECORD_SIZE,
    );
  }
  return out;
}
