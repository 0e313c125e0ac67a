/**
 * A timed UDP talker: SO_PRIORITY, and SO_TXTIME with one SCM_TXTIME (now + 5 ms, or
 * `--ahead-us`) per datagram.
 * Each datagram is one 32-byte record (./record.ts). Run it inside a pod:
 *
 * ```sh
 * nsenter --net=/run/netns/POD deno run -A sim/talkers/txtime_sender.ts \
 *   --dst 192.0.2.2 --port 41000 --count 200 --priority 5 --clock tai --pod 1 --interval-us 200
 * ```
 *
 * Prints one JSON line: `{"sent":N,"errors":N,"lastErrno":N}`; exits 1 if nothing was sent.
 *
 * @module
 */

import { LINUX, TxtimeSocket } from "./libc.ts";
import { ANY_PRIORITY, CLOCK_ID, encodeRecord, RECORD_SIZE, type TxClock } from "./record.ts";

/** Parsed command line of the sender. */
export interface SenderArgs {
  /** Destination address, IPv4 or IPv6 (the socket's family). */
  dst: string;
  /** Destination UDP port. */
  port: number;
  /** Datagrams to send (1..100000). */
  count: number;
  /** SO_PRIORITY. */
  priority: number;
  /** SO_PRIORITY of every odd-numbered datagram instead (each record names its own). */
  altPriority?: number;
  /** Clock of the txtime, or none (no SO_TXTIME). */
  clock: TxClock;
  /** Pod id written into the records. */
  pod: number;
  /** Pause between datagrams, in µs. */
  intervalUs: number;
  /** How far ahead of now each txtime is, in µs; default {@linkcode TXTIME_AHEAD_NS}. */
  aheadUs?: number;
}

/** How far ahead of now each txtime is. */
export const TXTIME_AHEAD_NS = 5_000_000n;

const USAGE = "usage: txtime_sender.ts --dst IP --port N --count N --priority P " +
  "--clock tai|mono|realtime|none --pod ID [--interval-us N] [--ahead-us N] [--alt-priority P]";

/** Parses argv; throws with a usage line on anything unexpected. */
export function parseSenderArgs(argv: readonly string[]): SenderArgs {
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === undefined || !k.startsWith("--") || v === undefined) throw new Error(USAGE);
    raw.set(k.slice(2), v);
  }
  const int = (key: string, min: number, max: number, dflt?: number): number => {
    const s = raw.get(key);
    if (s === undefined) {
      if (dflt === undefined) throw new Error(`missing --${key}\n${USAGE}`);
      return dflt;
    }
    const n = Number(s);
    if (!/^\d+$/.test(s) || n < min || n > max) throw new Error(`bad --${key} ${s}\n${USAGE}`);
    return n;
  };
  const clock = raw.get("clock") ?? "none";
  if (clock !== "tai" && clock !== "mono" && clock !== "realtime" && clock !== "none") {
    throw new Error(`bad --clock ${clock}\n${USAGE}`);
  }
  const dst = raw.get("dst");
  if (dst === undefined) throw new Error(`missing --dst\n${USAGE}`);
  const known = new Set([
    "dst",
    "port",
    "count",
    "priority",
    "clock",
    "pod",
    "interval-us",
    "ahead-us",
    "alt-priority",
  ]);
  for (const k of raw.keys()) if (!known.has(k)) throw new Error(`unknown --${k}\n${USAGE}`);
  return {
    dst,
    port: int("port", 1, 65535),
    count: int("count", 1, 100_000),
    priority: int("priority", 0, 0xffffffff),
    clock,
    pod: int("pod", 0, 0xffffffff),
    intervalUs: int("interval-us", 0, 1_000_000, 0),
    ...(raw.has("ahead-us") ? { aheadUs: int("ahead-us", 0, 10_000_000) } : {}),
    ...(raw.has("alt-priority") ? { altPriority: int("alt-priority", 0, 0xffffffff) } : {}),
  };
}

/** What a run did. */
export interface SenderResult {
  /** Datagrams the kernel accepted. */
  sent: number;
  /** sendmsg() failures (after one retry each). */
  errors: number;
  /** errno of the last failure, 0 if none. */
  lastErrno: number;
}

/** Sends args.count records; bounded by count and by 2 retries per datagram. */
export async function sendRecords(args: SenderArgs): Promise<SenderResult> {
  const clockid = args.clock === "none" ? null : CLOCK_ID[args.clock];
  const sock = new TxtimeSocket(args.dst, args.port, args.priority, clockid, RECORD_SIZE);
  const ahead = args.aheadUs === undefined ? TXTIME_AHEAD_NS : BigInt(args.aheadUs) * 1000n;
  try {
    // A stray ICMP error on the connected socket or a full queue: retried after a pause.
    return await pacedSend(args.count, args.intervalUs, RETRYABLE, (seq) => {
      const txtime = clockid === null ? null : sock.now(clockid) + ahead;
      const priority = args.altPriority !== undefined && seq % 2 ? args.altPriority : args.priority;
      if (args.altPriority !== undefined) sock.setPriority(priority);
      encodeRecord({
        pod: args.pod,
        seq,
        // Priority 0 is the socket's default: it names none, and what the NIC should see (a pod's
        // default class, a clamp, 0) is the observer's port expectation.
        priority: priority || ANY_PRIORITY,
        txtime: txtime ?? 0n,
        clock: args.clock,
      }, sock.payload);
      return () => sock.send(txtime);
    });
  } finally {
    sock.close();
  }
}

const RETRYABLE = [LINUX.ECONNREFUSED, LINUX.ENOBUFS, LINUX.EAGAIN];

/**
 * Sends `count` datagrams `intervalUs` apart: `prepare(i)` fills datagram i and returns its send
 * (0 or an errno), which is tried again after 1 ms, at most twice, on an errno of `retryOn`.
 * Bounded by count and the retries.
 *
 * @example
 * ```ts
 * import { pacedSend } from "./txtime_sender.ts";
 * const r = await pacedSend(3, 0, [], () => () => 0);
 * console.log(r.sent); // 3
 * ```
 */
export async function pacedSend(
  count: number,
  intervalUs: number,
  retryOn: readonly number[],
  prepare: (i: number) => () => number,
): Promise<SenderResult> {
  const result: SenderResult = { sent: 0, errors: 0, lastErrno: 0 };
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * intervalUs) / 1000 - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const send = prepare(i);
    let err = send();
    for (let retry = 0; retry < 2 && err !== 0 && retryOn.includes(err); retry++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      err = send();
    }
    if (err === 0) {
      result.sent++;
    } else {
      result.errors++;
      result.lastErrno = err;
    }
  }
  return result;
}

/**
 * A sender's command line: `--help` prints `usage`, otherwise one JSON result line; exit 0 when
 * something was sent, 1 when nothing was, 2 on bad arguments or a failed socket.
 */
export async function senderMain<A>(
  usage: string,
  parse: (argv: readonly string[]) => A,
  send: (args: A) => Promise<SenderResult>,
): Promise<never> {
  if (Deno.args.includes("--help")) {
    console.log(usage);
    Deno.exit(0);
  }
  try {
    const result = await send(parse(Deno.args));
    console.log(JSON.stringify(result));
    Deno.exit(result.sent > 0 ? 0 : 1);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
}

if (import.meta.main) await senderMain(USAGE, parseSenderArgs, sendRecords);
