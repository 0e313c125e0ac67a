/**
 * An independent TypeScript model of the BPF core's fingerprint (bpf/src/fingerprint.bpf.h), used
 * only by tests as an oracle: the saver's records must carry exactly these windows and hash.
 *
 * @example
 * ```ts
 * import { expectedWindows, fingerprint } from "./fingerprint_oracle.ts";
 * import { udpFrame } from "./packets.ts";
 * const f = udpFrame(new Uint8Array(22));
 * const w = expectedWindows(f)!;
 * console.log(fingerprint(f, w));
 * ```
 */

const M64 = (1n << 64n) - 1n;

function mix(h: bigint, v: bigint): bigint {
  h ^= v;
  h = (h * 0x9e3779b97f4a7c15n) & M64;
  return h ^ (h >> 31n);
}

/** The windows the saver should pick: the payload tail (<= 16) and the NAT-proof anchor. */
export interface Windows {
  tailLen: number;
  anchorEnd: number;
}

/** The windows of an Ethernet/IPv4 frame, or undefined for frames the saver refuses. */
export function expectedWindows(frame: Uint8Array): Windows | undefined {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (v.getUint16(12) !== 0x0800) return undefined;
  const ihl = (v.getUint8(14) & 0x0f) * 4;
  const proto = v.getUint8(23);
  const l4 = 14 + ihl;
  let payloadOff = l4, anchorOff = 14 + 4;
  if (proto === 6) {
    payloadOff = l4 + (v.getUint8(l4 + 12) >> 4) * 4;
    anchorOff = l4 + 4;
  } else if (proto === 17) {
    payloadOff = l4 + 8;
  }
  return { tailLen: Math.min(16, frame.length - payloadOff), anchorEnd: frame.length - anchorOff };
}

/** The fingerprint of `frame` over `w`, as tsn_fingerprint() computes it. */
export function fingerprint(frame: Uint8Array, w: Windows): bigint {
  // The last 16 bytes of the packet, all but the last tailLen of them zeroed.
  const tail = frame.slice(frame.length - 16);
  tail.fill(0, 0, 16 - w.tailLen);
  const t = new DataView(tail.buffer);
  const anchor = w.anchorEnd
    ? BigInt(
      new DataView(frame.buffer, frame.byteOffset).getUint32(frame.length - w.anchorEnd, true),
    )
    : 0n;
  const last = anchor | BigInt(w.tailLen) << 32n | BigInt(w.anchorEnd) << 40n;
  return mix(mix(mix(0x74736e2d70726f78n, t.getBigUint64(0, true)), t.getBigUint64(8, true)), last);
}

/** The origin the saver should note for an Ethernet/IPv4 frame (struct tsn_origin), tag aside. */
export interface Origin {
  addr: number[];
  ports: number;
  ipEnd: number;
  l4End: number;
  family: number;
  proto: number;
}

/** The origin of an Ethernet/IPv4 TCP or UDP frame: its source address and ports, from its end. */
export function expectedOrigin(frame: Uint8Array): Origin {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const l4 = 14 + (v.getUint8(14) & 0x0f) * 4;
  return {
    // Network-order bytes as the kernel stores them, read as a little-endian u32 by the codec.
    addr: [v.getUint32(26, true), 0, 0, 0],
    ports: v.getUint32(l4, true),
    ipEnd: frame.length - 14,
    l4End: frame.length - l4,
    family: 4,
    proto: v.getUint8(23),
  };
}
