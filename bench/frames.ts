/**
 * Test-run inputs: a 64-byte Ethernet/IPv4/UDP frame as a pod's socket hands it to eth0, and the
 * `struct __sk_buff` prefix BPF_PROG_TEST_RUN accepts for tc programs (priority and tstamp are the
 * fields the saver reads; the kernel requires the other settable fields to be zero or valid).
 *
 * @module
 */

/** `sizeof(struct __sk_buff)` prefix passed as ctx; its layout is fixed uapi. */
export const SKB_CTX_SIZE = 192;
/** `__sk_buff.priority`. */
const SKB_PRIORITY_OFFSET = 32;
/** Offset of `mark` in `struct __sk_buff` (len, pkt_type, mark). */
export const SKB_MARK_OFFSET = 8;
/** `__sk_buff.tstamp`. */
const SKB_TSTAMP_OFFSET = 152;

/** A frame of `frameLen` bytes (>= 42): Ethernet, IPv4 (DF, id), UDP, payload ending in `seq`. */
export function udpFrame(frameLen = 64, id = 0x1234, seq = 1): Uint8Array {
  if (frameLen < 46) throw new RangeError("udpFrame: at least 46 bytes");
  const out = new Uint8Array(frameLen);
  const v = new DataView(out.buffer);
  const ipLen = frameLen - 14;
  out.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], 0);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, ipLen);
  v.setUint16(18, id);
  v.setUint16(20, 0x4000); // DF
  v.setUint8(22, 64);
  v.setUint8(23, 17);
  v.setUint32(26, 0x0af4010a); // 10.244.1.10
  v.setUint32(30, 0xc0000202); // 192.0.2.2
  v.setUint16(34, 40000);
  v.setUint16(36, 45000);
  v.setUint16(38, ipLen - 20);
  for (let i = 42; i < frameLen; i++) out[i] = (i * 7) & 0xff;
  v.setUint32(frameLen - 4, seq, true);
  return out;
}

/** A tc ctx with the given priority and tstamp (0 = none). */
export function skbCtx(priority: number, tstamp = 0n): Uint8Array {
  const ctx = new Uint8Array(SKB_CTX_SIZE);
  const v = new DataView(ctx.buffer);
  v.setUint32(SKB_PRIORITY_OFFSET, priority, true);
  v.setBigUint64(SKB_TSTAMP_OFFSET, tstamp, true);
  return ctx;
}
