/**
 * Packet counters and sink sockets inside network namespaces, without child processes: the calling
 * thread enters the netns (`withNetns`, setns on the main thread) and reads its own view of
 * `/proc/thread-self/net/{dev,snmp}`, or creates a socket there (a socket stays in the netns it was
 * created in).
 *
 * @module
 */
import { withNetns } from "@tsn-proxy/bpf/libbpf";
import { parseIpv4 } from "@tsn-proxy/sim";

/** One interface's counters from /proc/net/dev. */
export interface LinkCounters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
}

/** Parses /proc/net/dev text into per-interface counters. */
export function parseNetDev(text: string): Map<string, LinkCounters> {
  const out = new Map<string, LinkCounters>();
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    if (f.length < 16) continue;
    out.set(m[1], {
      rxBytes: f[0]!,
      rxPackets: f[1]!,
      rxDropped: f[3]!,
      txBytes: f[8]!,
      txPackets: f[9]!,
      txDropped: f[11]!,
    });
  }
  return out;
}

/** Parses /proc/net/snmp into `Proto.Field -> value` (e.g. `Udp.InDatagrams`). */
export function parseSnmp(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const head = lines[i]!.split(/\s+/);
    const vals = lines[i + 1]!.split(/\s+/);
    const proto = head[0]?.replace(/:$/, "");
    if (!proto || vals[0] !== head[0]) continue;
    for (let k = 1; k < head.length && k < vals.length; k++) {
      out.set(`${proto}.${head[k]}`, Number(vals[k]));
    }
  }
  return out;
}

/** The counters of `ifname` in the netns at `nsPath`. */
export function linkCounters(nsPath: string, ifname: string): LinkCounters {
  const text = withNetns(nsPath, () => Deno.readTextFileSync("/proc/thread-self/net/dev"));
  const c = parseNetDev(text).get(ifname);
  if (!c) throw new Error(`no interface ${ifname} in ${nsPath}`);
  return c;
}

/** Datagrams that reached the UDP layer of the netns: delivered to a socket or dropped there. */
export function udpArrivals(nsPath: string): number {
  const snmp = parseSnmp(
    withNetns(nsPath, () => Deno.readTextFileSync("/proc/thread-self/net/snmp")),
  );
  // InErrors includes RcvbufErrors (a full socket buffer) and checksum errors.
  return (snmp.get("Udp.InDatagrams") ?? 0) + (snmp.get("Udp.InErrors") ?? 0);
}

const LIBC = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

const IPPROTO_IP = 0;
const IP_ADD_MEMBERSHIP = 35;

/**
 * A UDP socket bound at the far end that is never read: floods to its port reach a socket (no ICMP
 * port-unreachable back to the sender), and once its buffer is full the kernel counts each further
 * datagram in `Udp.RcvbufErrors` / `InErrors` at almost no cost.
 */
export class UdpSink {
  #lib = Deno.dlopen("libc.so.6", LIBC);
  #fd: number;

  /**
   * Binds 0.0.0.0:port inside the netns at nsPath and, with `join`, joins the IPv4 multicast
   * group on the interface holding the local address `on` (a flood to a group reaches the UDP
   * layer only where the group was joined).
   */
  constructor(nsPath: string, readonly port: number, join?: { group: string; on: string }) {
    this.#fd = withNetns(nsPath, () => this.#lib.symbols.socket(2, 2, 0));
    if (this.#fd < 0) {
      this.#lib.close();
      throw new Error(`UdpSink: socket failed in ${nsPath}`);
    }
    const sa = new Uint8Array(16);
    const v = new DataView(sa.buffer);
    v.setUint16(0, 2, true);
    v.setUint16(2, port, false);
    if (this.#lib.symbols.bind(this.#fd, sa, 16) < 0) {
      this.close();
      throw new Error(`UdpSink: bind :${port} failed in ${nsPath}`);
    }
    if (join) {
      const mreq = new Uint8Array([...parseIpv4(join.group), ...parseIpv4(join.on)]);
      if (this.#lib.symbols.setsockopt(this.#fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, 8) < 0) {
        this.close();
        throw new Error(`UdpSink: joining ${join.group} on ${join.on} failed in ${nsPath}`);
      }
    }
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.#fd >= 0) {
      this.#lib.symbols.close(this.#fd);
      this.#fd = -1;
      this.#lib.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
