/**
 * The talkers' 32-byte record (struct observer_record in e2e/bpf/observer.h): every test datagram
 * carries one, and TCP talkers stream them back to back. Little endian:
 *
 * | off | size | field                                      |
 * | --- | ---- | ------------------------------------------ |
 * | 0   | 4    | magic 0x504e5354 ("TSNP")                  |
 * | 4   | 4    | pod id                                     |
 * | 8   | 4    | seq                                        |
 * | 12  | 4    | expected priority                          |
 * | 16  | 8    | expected txtime (0 = none)                 |
 * | 24  | 1    | txtime clock: 0 none, 1 MONOTONIC, 2 TAI   |
 * | 25  | 7    | zero padding                               |
 *
 * @module
 */

/** Size of one record. */
export const RECORD_SIZE = 32;
/** "TSNP" read as a little-endian u32. */
export const RECORD_MAGIC = 0x504e5354;

/** The clock a talker's txtime is on. */
export type TxClock = "none" | "mono" | "tai";

/** Record clock codes (enum observer_clock). */
export const CLOCK_CODE: Readonly<Record<TxClock, number>> = { none: 0, mono: 1, tai: 2 };

/** Linux clockids of the clocks. */
export const CLOCK_ID = { mono: 1, tai: 11 } as const;

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
  const v = new DataView(out.buffer, out.byteOffset + offset, RECORD_SIZE);
  v.setUint32(0, RECORD_MAGIC, true);
  v.setUint32(4, r.pod, true);
  v.setUint32(8, r.seq, true);
  v.setUint32(12, r.priority, true);
  v.setBigUint64(16, r.txtime, true);
  v.setUint8(24, CLOCK_CODE[r.clock]);
  for (let i = 25; i < RECORD_SIZE; i++) v.setUint8(i, 0);
  return out;
}

/** Decodes the record at offset; throws on a short buffer, a bad magic or an unknown clock. */
export function decodeRecord(bytes: Uint8Array, offset = 0): TalkerRecord {
  if (bytes.length < offset + RECORD_SIZE) throw new RangeError("decodeRecord: short buffer");
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_SIZE);
  const magic = v.getUint32(0, true);
  if (magic !== RECORD_MAGIC) throw new Error(`decodeRecord: bad magic 0x${magic.toString(16)}`);
  const code = v.getUint8(24);
  const clock = (Object.keys(CLOCK_CODE) as TxClock[]).find((k) => CLOCK_CODE[k] === code);
  if (clock === undefined) throw new Error(`decodeRecord: unknown clock ${code}`);
  return {
    pod: v.getUint32(4, true),
    seq: v.getUint32(8, true),
    priority: v.getUint32(12, true),
    txtime: v.getBigUint64(16, true),
    clock,
  };
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
