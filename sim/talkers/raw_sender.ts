/**
 * A raw-socket talker, as applications with their own IP stack send: an IPPROTO_RAW socket
 * (IP_HDRINCL; for AF_INET6, IPV6_HDRINCL is implied) with SO_PRIORITY and optional SO_TXTIME
 * writes whole UDP packets with an IPv4 id, or an IPv6 flow label, it chooses. Every datagram of a
 * run is the same bytes from the IPv4 id (IPv6: the version/class/flow-label word) to the last
 * payload byte (the record carries `--payload-pod`, `--payload-priority`, seq 0 and no txtime), so
 * two talkers given the same id and payload send packets that differ only in addresses, ports and
 * checksums: the packets a fingerprint of the payload and that anchor word cannot tell apart.
 *
 * ```sh
 * nsenter --net=/run/netns/POD deno run -A sim/talkers/raw_sender.ts --dst 192.0.2.2 \
 *   --sport 40000 --dport 41000 --ip-id 4660 --count 200 --priority 5 --clock tai \
 *   --payload-pod 3 --payload-priority 0
 * nsenter --net=/run/netns/POD deno run -A sim/talkers/raw_sender.ts --dst 2001:db8::2 \
 *   --src fd00:10:244:1::10 --sport 40000 --dport 41000 --flow-label 4660 --count 200 \
 *   --priority 5 --clock tai --payload-pod 3 --payload-priority 0
 * ```
 *
 * Prints one JSON line like txtime_sender.ts: `{"sent":N,"errors":N,"lastErrno":N}`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LINUX, parseIpv4, parseIpv6, TxtimeSocket } from "./libc.ts";
import { CLOCK_ID, encodeRecord, RECORD_SIZE, type TxClock } from "./record.ts";
import { pacedSend, senderMain, type SenderResult, TXTIME_AHEAD_NS } from "./txtime_sender.ts";

/** Parsed command line of the raw sender. */
export interface RawSenderArgs {
  /** Destination address, IPv4 or IPv6 (the family of the packets). */
  dst: string;
  /** IPv6: the source address to write (the kernel fills in none); IPv4: unused (kernel's). */
  src?: string;
  /** UDP source port written into the header. */
  sport: number;
  /** UDP destination port. */
  dport: number;
  /** IPv4: the id of every datagram (non-zero: the kernel fills in a zero id itself). */
  ipId?: number;
  /** IPv6: the flow label of every datagram (1..0xfffff). */
  flowLabel?: number;
  /** Datagrams to send (1..100000). */
  count: number;
  /** SO_PRIORITY. */
  priority: number;
  /** Clock of the SCM_TXTIME each datagram carries, or none. */
  clock: TxClock;
  /** Pause between datagrams, in µs. */
  intervalUs: number;
  /** Pod id the payload's record names. */
  payloadPod: number;
  /** Priority the payload's record names (what an observer should expect). */
  payloadPriority: number;
}

const IPV4_HLEN = 20;
const IPV6_HLEN = 40;
const UDP_HLEN = 8;
/** Bytes per IPv4 datagram: IPv4 header, UDP header, one record. */
const RAW_PACKET_SIZE = IPV4_HLEN + UDP_HLEN + RECORD_SIZE;
/** Bytes per IPv6 datagram: IPv6 header, UDP header, one record. */
export const RAW_PACKET_SIZE_V6 = IPV6_HLEN + UDP_HLEN + RECORD_SIZE;

const USAGE = "usage: raw_sender.ts --dst IP [--src IPV6] --sport N --dport N " +
  "(--ip-id N | --flow-label N) --count N --priority P --clock tai|mono|none --payload-pod ID " +
  "--payload-priority P [--interval-us N]";

/** Parses argv; throws with the usage line on anything unexpected. */
export function parseRawSenderArgs(argv: readonly string[]): RawSenderArgs {
  const keys = [
    "dst",
    "src",
    "flow-label",
    "sport",
    "dport",
    "ip-id",
    "count",
    "priority",
    "clock",
    "interval-us",
    "payload-pod",
    "payload-priority",
  ] as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: Object.fromEntries(keys.map((k) => [k, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : e}\n${USAGE}`);
  }
  const str = (k: string): string => {
    const v = values[k];
    if (typeof v !== "string") throw new Error(`missing --${k}\n${USAGE}`);
    return v;
  };
  const int = (k: string, min: number, max: number, dflt?: number): number => {
    if (values[k] === undefined && dflt !== undefined) return dflt;
    const s = str(k);
    const n = Number(s);
    if (!/^\d+$/.test(s) || n < min || n > max) throw new Error(`bad --${k} ${s}\n${USAGE}`);
    return n;
  };
  const clock = values.clock ?? "none";
  if (clock !== "tai" && clock !== "mono" && clock !== "none") {
    throw new Error(`bad --clock ${clock}\n${USAGE}`);
  }
  const dst = str("dst");
  const v6 = dst.includes(":");
  if (v6) {
    parseIpv6(dst);
    parseIpv6(str("src"));
    if (values["ip-id"] !== undefined) throw new Error(`--ip-id is IPv4 only\n${USAGE}`);
  } else {
    parseIpv4(dst);
    if (values.src !== undefined || values["flow-label"] !== undefined) {
      throw new Error(`--src and --flow-label are IPv6 only\n${USAGE}`);
    }
  }
  return {
    dst,
    ...(v6 ? { src: str("src"), flowLabel: int("flow-label", 1, 0xfffff) } : {
      ipId: int("ip-id", 1, 65535),
    }),
    sport: int("sport", 1, 65535),
    dport: int("dport", 1, 65535),
    count: int("count", 1, 100_000),
    priority: int("priority", 0, 0xffffffff),
    clock,
    intervalUs: int("interval-us", 0, 1_000_000, 0),
    payloadPod: int("payload-pod", 0, 0xffffffff),
    payloadPriority: int("payload-priority", 0, 0xffffffff),
  };
}

/** What {@linkcode rawDatagram} needs. */
export type RawDatagramArgs = Pick<
  RawSenderArgs,
  "dst" | "src" | "sport" | "dport" | "ipId" | "flowLabel" | "payloadPod" | "payloadPriority"
>;

/**
 * The packet a raw talker sends. IPv4: DF, TTL 64, the given id (total length, checksum and a zero
 * source address filled in by the kernel), UDP without checksum, one record. IPv6: the given flow
 * label (class 0), hop limit 64, both addresses and the payload length written here (the kernel
 * adds nothing under IPV6_HDRINCL), UDP with its checksum (mandatory over IPv6), one record.
 *
 * @example
 * ```ts
 * import { rawDatagram } from "./raw_sender.ts";
 * const p = rawDatagram({ dst: "192.0.2.2", sport: 1, dport: 2, ipId: 0x1234, payloadPod: 1, payloadPriority: 0 });
 * console.log(p.length); // 60
 * ```
 */
export function rawDatagram(a: RawDatagramArgs): Uint8Array {
  return a.dst.includes(":") ? rawDatagram6(a) : rawDatagram4(a);
}

function rawDatagram4(a: RawDatagramArgs): Uint8Array {
  if (a.ipId === undefined) throw new Error("rawDatagram: IPv4 needs ipId");
  const p = new Uint8Array(RAW_PACKET_SIZE);
  const v = new DataView(p.buffer);
  v.setUint8(0, 0x45);
  v.setUint16(2, RAW_PACKET_SIZE);
  v.setUint16(4, a.ipId);
  v.setUint16(6, 0x4000); // DF, as a UDP socket sets it on this path
  v.setUint8(8, 64);
  v.setUint8(9, 17);
  p.set(parseIpv4(a.dst), 16);
  v.setUint16(IPV4_HLEN, a.sport);
  v.setUint16(IPV4_HLEN + 2, a.dport);
  v.setUint16(IPV4_HLEN + 4, UDP_HLEN + RECORD_SIZE);
  encodeRecord(
    { pod: a.payloadPod, seq: 0, priority: a.payloadPriority, txtime: 0n, clock: "none" },
    p,
    IPV4_HLEN + UDP_HLEN,
  );
  return p;
}

function rawDatagram6(a: RawDatagramArgs): Uint8Array {
  if (a.src === undefined || a.flowLabel === undefined) {
    throw new Error("rawDatagram: IPv6 needs src and flowLabel");
  }
  if (!(a.flowLabel >= 0 && a.flowLabel <= 0xfffff)) throw new RangeError("flow label");
  const p = new Uint8Array(RAW_PACKET_SIZE_V6);
  const v = new DataView(p.buffer);
  const udpLen = UDP_HLEN + RECORD_SIZE;
  v.setUint32(0, (6 << 28) | a.flowLabel);
  v.setUint16(4, udpLen);
  v.setUint8(6, 17);
  v.setUint8(7, 64);
  p.set(parseIpv6(a.src), 8);
  p.set(parseIpv6(a.dst), 24);
  v.setUint16(IPV6_HLEN, a.sport);
  v.setUint16(IPV6_HLEN + 2, a.dport);
  v.setUint16(IPV6_HLEN + 4, udpLen);
  encodeRecord(
    { pod: a.payloadPod, seq: 0, priority: a.payloadPriority, txtime: 0n, clock: "none" },
    p,
    IPV6_HLEN + UDP_HLEN,
  );
  v.setUint16(IPV6_HLEN + 6, udp6Checksum(p));
  return p;
}

/** RFC 8200 8.1: the UDP checksum over the pseudo-header and the datagram (0 sent as 0xffff). */
export function udp6Checksum(packet: Uint8Array): number {
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const udpLen = v.getUint16(4);
  let sum = udpLen + 17;
  for (let i = 8; i < IPV6_HLEN; i += 2) sum += v.getUint16(i);
  for (let i = 0; i < udpLen; i += 2) {
    if (i === 6) continue; // the checksum field itself
    const hi = packet[IPV6_HLEN + i] ?? 0;
    const lo = i + 1 < udpLen ? packet[IPV6_HLEN + i + 1] ?? 0 : 0;
    sum += (hi << 8) | lo;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  return c === 0 ? 0xffff : c;
}

/** Sends args.count identical datagrams; bounded by count and 2 retries per datagram. */
async function sendRaw(args: RawSenderArgs): Promise<SenderResult> {
  const clockid = args.clock === "none" ? null : CLOCK_ID[args.clock];
  const packet = rawDatagram(args);
  const sock = new TxtimeSocket(args.dst, 0, args.priority, clockid, packet.length, "raw");
  sock.payload.set(packet);
  try {
    return await pacedSend(args.count, args.intervalUs, [LINUX.ENOBUFS, LINUX.EAGAIN], () => {
      const txtime = clockid === null ? null : sock.now(clockid) + TXTIME_AHEAD_NS;
      return () => sock.send(txtime);
    });
  } finally {
    sock.close();
  }
}

if (import.meta.main) await senderMain(USAGE, parseRawSenderArgs, sendRaw);
