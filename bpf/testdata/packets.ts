/**
 * Test frames: Ethernet + IPv4 + UDP/TCP (or another ethertype) with a given payload, as a pod's
 * socket would hand them to its eth0. Checksums are left zero: nothing in the tests validates them.
 *
 * @example
 * ```ts
 * import { udpFrame } from "./packets.ts";
 * const frame = udpFrame(new Uint8Array(22)); // 64 bytes
 * ```
 */

const ETH = 14, IPV4 = 20, UDP = 8, TCP = 20;

function ipv4(frame: DataView, proto: number, totalLen: number, id: number) {
  frame.setUint16(12, 0x0800);
  frame.setUint8(ETH, 0x45);
  frame.setUint16(ETH + 2, totalLen);
  frame.setUint16(ETH + 4, id);
  frame.setUint16(ETH + 6, 0x4000); // DF
  frame.setUint8(ETH + 8, 64);
  frame.setUint8(ETH + 9, proto);
  frame.setUint32(ETH + 12, 0x0af40102); // 10.244.1.2
  frame.setUint32(ETH + 16, 0xc0000202); // 192.0.2.2
}

/** An IPv4/UDP frame carrying `payload`. */
export function udpFrame(payload: Uint8Array, id = 0x1234): Uint8Array {
  const out = new Uint8Array(ETH + IPV4 + UDP + payload.length);
  const v = new DataView(out.buffer);
  ipv4(v, 17, IPV4 + UDP + payload.length, id);
  v.setUint16(ETH + IPV4, 40000);
  v.setUint16(ETH + IPV4 + 2, 7000);
  v.setUint16(ETH + IPV4 + 4, UDP + payload.length);
  out.set(payload, ETH + IPV4 + UDP);
  return out;
}

/** An IPv4/TCP frame (20-byte header) with sequence number `seq` carrying `payload`. */
export function tcpFrame(payload: Uint8Array, seq: number): Uint8Array {
  const out = new Uint8Array(ETH + IPV4 + TCP + payload.length);
  const v = new DataView(out.buffer);
  ipv4(v, 6, IPV4 + TCP + payload.length, 7);
  v.setUint16(ETH + IPV4, 40001);
  v.setUint16(ETH + IPV4 + 2, 7001);
  v.setUint32(ETH + IPV4 + 4, seq);
  v.setUint8(ETH + IPV4 + 12, 5 << 4);
  v.setUint8(ETH + IPV4 + 13, 0x18); // PSH|ACK
  out.set(payload, ETH + IPV4 + TCP);
  return out;
}

/** A 64-byte frame of another ethertype (ARP), which the saver cannot fingerprint. */
export function arpFrame(): Uint8Array {
  const out = new Uint8Array(64);
  new DataView(out.buffer).setUint16(12, 0x0806);
  return out;
}

/** A payload of `n` bytes that differs for every `seed`. */
export function payload(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7) & 0xff);
}
