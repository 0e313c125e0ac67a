/**
 * socat as an unmodified SO_PRIORITY talker (the way real applications set a priority): the
 * records are written to socat's stdin and socat sends them with `so-priority=N`.
 *
 * - UDP: `socat -u -b 32 STDIN UDP4-SENDTO:IP:PORT,so-priority=N`. socat sends one datagram per
 *   read; records are written in pipe-atomic batches (multiples of 32 bytes, at most PIPE_BUF), so
 *   every 32-byte read is exactly one record and every datagram carries one.
 * - TCP: `socat -u STDIN TCP4:IP:PORT,so-priority=N`, a byte stream of records (txtime 0).
 * - To an IPv6 address: `UDP6-SENDTO:[IP]:PORT` and `TCP6:[IP]:PORT`.
 *
 * @module
 */

import { BIN, type Netns, spawnIn } from "../netns.ts";
import { sleep } from "../process.ts";
import type { Protocol } from "./receiver.ts";
import { ANY_PRIORITY, encodeRecordStream, RECORD_SIZE } from "./record.ts";

/** Options of {@linkcode runSocatTalker}. */
export interface SocatTalkerOptions {
  /** The pod's netns. */
  ns: Netns;
  /** Transport. */
  protocol: Protocol;
  /** Destination address and port. */
  dst: string;
  /** Destination port. */
  port: number;
  /**
   * SO_PRIORITY (socat's so-priority option); null: an application that never sets one (no
   * setsockopt at all; its records carry 0).
   */
  priority: number | null;
  /** Pod id written into the records. */
  pod: number;
  /** Records to send (1..100000). */
  count: number;
  /** Records per write (1..128); default 16. */
  batch?: number;
  /** Pause between writes, in ms; default 1. */
  pauseMs?: number;
  /** Kill socat if it has not finished after this long; default 15 s. */
  timeoutMs?: number;
}

/** What a socat run did. */
export interface SocatTalkerResult {
  /** Records handed to socat (all of them when it exits 0). */
  sent: number;
  /** socat's exit code. */
  code: number;
  /** socat's stderr. */
  stderr: string;
}

/**
 * The socat argv of a talker. UDP reads (and so datagrams) are one record each; TCP uses socat's
 * default buffer, so it fills segments as a real application would.
 */
export function socatTalkerArgs(
  o: Pick<SocatTalkerOptions, "protocol" | "dst" | "port" | "priority">,
): string[] {
  const prio = o.priority === null ? "" : `,so-priority=${o.priority}`;
  const [v, host] = o.dst.includes(":") ? ["6", `[${o.dst}]`] : ["4", o.dst];
  if (o.protocol === "udp") {
    const target = `UDP${v}-SENDTO:${host}:${o.port}${prio}`;
    return [BIN.socat, "-u", "-b", String(RECORD_SIZE), "STDIN", target];
  }
  return [BIN.socat, "-u", "STDIN", `TCP${v}:${host}:${o.port}${prio}`];
}

/** Runs socat in the pod until it has sent count records and exited. */
export async function runSocatTalker(o: SocatTalkerOptions): Promise<SocatTalkerResult> {
  if (!(o.count >= 1 && o.count <= 100_000)) throw new RangeError(`count ${o.count}`);
  const batch = Math.max(1, Math.min(128, o.batch ?? 16));
  const proc = spawnIn(o.ns, socatTalkerArgs(o), { stdin: "piped" });
  // Without SO_PRIORITY (or with 0, the default) the socket names none; what the NIC should see
  // is the observer's port expectation.
  const data = encodeRecordStream(o.pod, o.priority || ANY_PRIORITY, o.count);
  let written = 0;
  try {
    for (let i = 0; i < o.count && !proc.exited; i += batch) {
      const n = Math.min(batch, o.count - i);
      await proc.write(data.subarray(i * RECORD_SIZE, (i + n) * RECORD_SIZE));
      written += n;
      if (o.pauseMs !== 0) await sleep(o.pauseMs ?? 1);
    }
  } catch {
    // socat went away: its status and stderr say why.
  }
  await proc.closeStdin();
  const status = await proc.wait(o.timeoutMs ?? 15_000);
  return { sent: status.success ? written : 0, code: status.code, stderr: proc.stderr };
}
