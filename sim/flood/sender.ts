/**
 * A high-rate flood sender for the benchmark, run inside a pod's netns:
 *
 * - UDP: a connected socket with SO_PRIORITY (and SO_TXTIME), `sendmmsg()` batches of small
 *   datagrams; with `--clock tai|mono` every datagram carries its own SCM_TXTIME (now + 5 ms, one
 *   clock read per batch). The payload ends with a per-datagram sequence number, so no two
 *   datagrams look alike to the restorer's fingerprint.
 * - TCP: a connected stream with SO_PRIORITY and TCP_NODELAY, `send()` of fixed-size chunks.
 *
 * Bounded twice: by `--max-packets` (UDP datagrams or TCP chunks) and by `--duration-ms`. Prints
 * one JSON line (`FloodResult`) and exits 0 when it sent something.
 *
 * ```sh
 * nsenter --net=/run/netns/POD deno run -A sim/flood/sender.ts --proto udp --dst 192.0.2.2 \
 *   --port 45000 --priority 5 --clock none --duration-ms 2000 --max-packets 2000000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
// The file itself, not @tsn-proxy/sim: every sender process loads only what it runs.
import { parseIpv4 } from "../talkers/libc.ts";

export { parseIpv4 };

/** Parsed command line of the sender. */
export interface FloodArgs {
  /** Transport. */
  proto: "udp" | "tcp";
  /** Destination IPv4 address. */
  dst: string;
  /** Destination port. */
  port: number;
  /** SO_PRIORITY. */
  priority: number;
  /** SO_TXTIME clock of the UDP datagrams, or none. */
  clock: "none" | "tai" | "mono";
  /** Stop after this long. */
  durationMs: number;
  /** Stop after this many datagrams (UDP) or chunks (TCP). */
  maxPackets: number;
  /** UDP payload bytes (22: a 64-byte Ethernet frame); TCP chunk bytes. */
  size: number;
  /** Datagrams per sendmmsg() call. */
  batch: number;
}

/** What one sender did. */
export interface FloodResult {
  /** Datagrams (UDP) or chunks (TCP) the kernel accepted. */
  sent: number;
  /** Bytes the kernel accepted. */
  bytes: number;
  /** Failed calls. */
  errors: number;
  /** errno of the last failure, 0 if none. */
  lastErrno: number;
  /** Sending time in ms, first to last call. */
  elapsedMs: number;
  /**
   * On-CPU time of the sending thread during the flood (scheduler runtime from
   * /proc/thread-self/schedstat): the whole synchronous transmit path, softirq work done in its
   * context included, and unaffected by how long other tenants kept the CPU. -1 if unreadable.
   */
  cpuNs: number;
}

/** The calling thread's total on-CPU time in ns, or NaN when schedstat is unavailable. */
function threadCpuNs(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]);
  } catch {
    return NaN;
  }
}

const LINUX = {
  AF_INET: 2,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOL_SOCKET: 1,
  SO_PRIORITY: 12,
  SO_TXTIME: 61,
  SCM_TXTIME: 61,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  CLOCK_MONOTONIC: 1,
  CLOCK_TAI: 11,
} as const;

/** Each txtime is this far ahead of the clock read of its batch. */
const FLOOD_TXTIME_AHEAD_NS = 5_000_000n;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** sizeof(struct mmsghdr) on x86-64: msghdr (56) + msg_len (4) + padding. */
const MMSGHDR_SIZE = 64;
/** CMSG_SPACE(8) on x86-64. */
const CMSG_SPACE_U64 = 24;

const USAGE = "usage: sender.ts --proto udp|tcp --dst IP --port N --priority P " +
  "[--clock none|tai|mono] [--duration-ms N] [--max-packets N] [--size N] [--batch N]";

/** Parses argv; throws with the usage line on anything unexpected. */
export function parseFloodArgs(argv: readonly string[]): FloodArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      proto: { type: "string" },
      dst: { type: "string" },
      port: { type: "string" },
      priority: { type: "string" },
      clock: { type: "string", default: "none" },
      "duration-ms": { type: "string", default: "1000" },
      "max-packets": { type: "string", default: "10000000" },
      size: { type: "string" },
      batch: { type: "string", default: "64" },
    },
  });
  if (positionals.length) throw new Error(`unexpected ${positionals.join(" ")}\n${USAGE}`);
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined) throw new Error(`missing --${name}\n${USAGE}`);
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new Error(`bad --${name} ${v}\n${USAGE}`);
    return n;
  };
  const proto = values.proto;
  if (proto !== "udp" && proto !== "tcp") throw new Error(`bad --proto ${proto}\n${USAGE}`);
  const clock = values.clock;
  if (clock !== "none" && clock !== "tai" && clock !== "mono") {
    throw new Error(`bad --clock ${clock}\n${USAGE}`);
  }
  if (proto === "tcp" && clock !== "none") throw new Error(`TCP floods carry no txtime\n${USAGE}`);
  if (values.dst === undefined) throw new Error(`missing --dst\n${USAGE}`);
  parseIpv4(values.dst);
  return {
    proto,
    dst: values.dst,
    port: int("port", values.port, 1, 65535),
    priority: int("priority", values.priority, 0, 0xffffffff),
    clock,
    durationMs: int("duration-ms", values["duration-ms"], 1, 120_000),
    maxPackets: int("max-packets", values["max-packets"], 1, 100_000_000),
    size: int("size", values.size ?? (proto === "udp" ? "22" : "1448"), 12, 65000),
    batch: int("batch", values.batch, 1, 1024),
  };
}

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

function errno(lib: Lib): number {
  const p = lib.symbols.__errno_location();
  return p === null ? -1 : new Deno.UnsafePointerView(p).getInt32();
}

function addr(b: Uint8Array<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
}

function intOpt(lib: Lib, fd: number, level: number, name: number, value: number): void {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, value, true);
  if (lib.symbols.setsockopt(fd, level, name, v, 4) < 0) {
    throw new Error(`setsockopt(${level}, ${name}): errno ${errno(lib)}`);
  }
}

function openSocket(lib: Lib, a: FloodArgs): number {
  const s = lib.symbols;
  const fd = s.socket(LINUX.AF_INET, a.proto === "udp" ? LINUX.SOCK_DGRAM : LINUX.SOCK_STREAM, 0);
  if (fd < 0) throw new Error(`socket: errno ${errno(lib)}`);
  try {
    intOpt(lib, fd, LINUX.SOL_SOCKET, LINUX.SO_PRIORITY, a.priority);
    if (a.proto === "tcp") intOpt(lib, fd, LINUX.IPPROTO_TCP, LINUX.TCP_NODELAY, 1);
    if (a.clock !== "none") {
      // struct sock_txtime { clockid_t clockid; __u32 flags; }
      const t = new Uint8Array(8);
      new DataView(t.buffer).setInt32(0, clockId(a.clock), true);
      if (s.setsockopt(fd, LINUX.SOL_SOCKET, LINUX.SO_TXTIME, t, 8) < 0) {
        throw new Error(`setsockopt(SO_TXTIME): errno ${errno(lib)}`);
      }
    }
    const sa = new Uint8Array(16);
    const sv = new DataView(sa.buffer);
    sv.setUint16(0, LINUX.AF_INET, true);
    sv.setUint16(2, a.port, false);
    sa.set(parseIpv4(a.dst), 4);
    if (s.connect(fd, sa, 16) < 0) throw new Error(`connect: errno ${errno(lib)}`);
  } catch (e) {
    s.close(fd);
    throw e;
  }
  return fd;
}

function clockId(clock: "tai" | "mono"): number {
  return clock === "tai" ? LINUX.CLOCK_TAI : LINUX.CLOCK_MONOTONIC;
}

/** Runs one flood; bounded by args.maxPackets and args.durationMs. */
export function flood(a: FloodArgs): FloodResult {
  const lib = Deno.dlopen("libc.so.6", SYMBOLS);
  try {
    const fd = openSocket(lib, a);
    try {
      return a.proto === "udp" ? floodUdp(lib, fd, a) : floodTcp(lib, fd, a);
    } finally {
      lib.symbols.close(fd);
    }
  } finally {
    lib.close();
  }
}

function floodUdp(lib: Lib, fd: number, a: FloodArgs): FloodResult {
  const n = a.batch;
  const payloads = new Uint8Array(new ArrayBuffer(n * a.size));
  const iovs = new Uint8Array(new ArrayBuffer(n * 16));
  const controls = new Uint8Array(new ArrayBuffer(n * CMSG_SPACE_U64));
  const vec = new Uint8Array(new ArrayBuffer(n * MMSGHDR_SIZE));
  const ts = new Uint8Array(new ArrayBuffer(16));
  const pv = new DataView(payloads.buffer);
  const iv = new DataView(iovs.buffer);
  const cv = new DataView(controls.buffer);
  const mv = new DataView(vec.buffer);
  const timed = a.clock !== "none";
  for (let i = 0; i < n; i++) {
    iv.setBigUint64(i * 16, addr(payloads) + BigInt(i * a.size), true);
    iv.setBigUint64(i * 16 + 8, BigInt(a.size), true);
    const m = i * MMSGHDR_SIZE;
    mv.setBigUint64(m + 16, addr(iovs) + BigInt(i * 16), true); // msg_iov
    mv.setBigUint64(m + 24, 1n, true); // msg_iovlen
    if (timed) {
      const c = i * CMSG_SPACE_U64;
      cv.setBigUint64(c, 24n, true); // CMSG_LEN(8)
      cv.setInt32(c + 8, LINUX.SOL_SOCKET, true);
      cv.setInt32(c + 12, LINUX.SCM_TXTIME, true);
      mv.setBigUint64(m + 32, addr(controls) + BigInt(c), true); // msg_control
      mv.setBigUint64(m + 40, BigInt(CMSG_SPACE_U64), true); // msg_controllen
    }
    for (let b = 0; b < a.size; b++) payloads[i * a.size + b] = (i * 7 + b * 13) & 0xff;
  }
  const s = lib.symbols;
  const stopwatch = startStopwatch(a.durationMs);
  const { result, deadline } = stopwatch;
  let seq = 0;
  // Bounded: at most maxPackets datagrams, and the deadline.
  for (let round = 0; result.sent < a.maxPackets && round < a.maxPackets; round++) {
    const want = Math.min(n, a.maxPackets - result.sent);
    let txtime = 0n;
    if (timed) {
      s.clock_gettime(clockId(a.clock as "tai" | "mono"), ts);
      const tv = new DataView(ts.buffer);
      txtime = tv.getBigInt64(0, true) * 1_000_000_000n + tv.getBigInt64(8, true) +
        FLOOD_TXTIME_AHEAD_NS;
    }
    for (let i = 0; i < want; i++) {
      // The sequence number sits in the last 4 bytes: the fingerprint's tail window.
      pv.setUint32((i + 1) * a.size - 4, seq + i, true);
      if (timed) cv.setBigUint64(i * CMSG_SPACE_U64 + 16, txtime, true);
    }
    const r = s.sendmmsg(fd, vec, want, 0);
    if (r < 0) {
      result.errors++;
      result.lastErrno = errno(lib);
    } else {
      result.sent += r;
      result.bytes += r * a.size;
      seq += r;
    }
    if ((round & 7) === 7 && performance.now() >= deadline) break;
    if (result.errors > 1000) break;
  }
  return stopwatch.stop();
}

function floodTcp(lib: Lib, fd: number, a: FloodArgs): FloodResult {
  const chunk = new Uint8Array(new ArrayBuffer(a.size));
  for (let b = 0; b < a.size; b++) chunk[b] = (b * 13) & 0xff;
  const stopwatch = startStopwatch(a.durationMs);
  const { result, deadline } = stopwatch;
  for (let i = 0; i < a.maxPackets; i++) {
    const r = Number(lib.symbols.send(fd, chunk, BigInt(a.size), 0));
    if (r < 0) {
      result.errors++;
      result.lastErrno = errno(lib);
      if (result.errors > 100) break;
    } else {
      result.sent++;
      result.bytes += r;
    }
    if ((i & 15) === 15 && performance.now() >= deadline) break;
  }
  return stopwatch.stop();
}

/** A flood's counters, the deadline its loop checks, and stop() that fills in the times. */
interface Stopwatch {
  readonly result: FloodResult;
  /** performance.now() at which the loop stops. */
  readonly deadline: number;
  /** Sets result.elapsedMs and result.cpuNs from now; returns result. */
  stop(): FloodResult;
}

/**
 * The readings both send loops start and end with. The loops themselves stay apart: a sendmmsg()
 * batch per round against a send() per chunk, each with its own error limit and deadline cadence,
 * and one merged loop would add a branch or a call to every round of the flood.
 */
function startStopwatch(durationMs: number): Stopwatch {
  const result: FloodResult = {
    sent: 0,
    bytes: 0,
    errors: 0,
    lastErrno: 0,
    elapsedMs: 0,
    cpuNs: -1,
  };
  const cpu0 = threadCpuNs();
  const start = performance.now();
  return {
    result,
    deadline: start + durationMs,
    stop() {
      result.elapsedMs = performance.now() - start;
      const cpu = threadCpuNs() - cpu0;
      result.cpuNs = Number.isFinite(cpu) ? cpu : -1;
      return result;
    },
  };
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  try {
    const result = flood(parseFloodArgs(Deno.args));
    console.log(JSON.stringify(result));
    Deno.exit(result.sent > 0 ? 0 : 1);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
}
