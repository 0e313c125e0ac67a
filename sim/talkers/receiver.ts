/**
 * A socat receiver at the far end that counts the bytes (and so the 32-byte records) it gets:
 * `socat -u UDP4-RECV:PORT,... STDOUT` or `socat -u TCP4-LISTEN:PORT,reuseaddr,fork STDOUT`, and
 * `UDP6-RECV` / `TCP6-LISTEN` (IPv6 only, `ipv6only=1`) for family 6.
 *
 * @module
 */

import { BIN, type Netns, spawnIn, waitListening } from "../netns.ts";
import type { Proc } from "../process.ts";
import { RECORD_SIZE } from "./record.ts";

/** Transport of a talker. */
export type Protocol = "udp" | "tcp";

/** A running receiver. */
export interface Receiver {
  /** Its port. */
  readonly port: number;
  /** Its transport. */
  readonly protocol: Protocol;
  /** The socat process. */
  readonly proc: Proc;
  /** Bytes received so far. */
  bytes(): number;
  /** Whole records received so far. */
  records(): number;
  /** Waits until at least n records arrived (at most timeoutMs); returns the count. */
  waitRecords(n: number, timeoutMs: number): Promise<number>;
  /** Stops socat (and its per-connection children). Idempotent. */
  stop(): Promise<void>;
}

/** More options of {@linkcode startReceiver}. */
export interface ReceiverOptions {
  /**
   * UDP: join this multicast group; IPv4: on the interface that holds the local address `on`;
   * IPv6: on the interface named `on`.
   */
  join?: { group: string; on: string };
  /** The address family it listens on; default 4. */
  family?: 4 | 6;
}

/** Starts a receiver in ns and waits until it listens (throws after timeoutMs). */
export async function startReceiver(
  ns: Netns,
  protocol: Protocol,
  port: number,
  timeoutMs = 3000,
  opts: ReceiverOptions = {},
): Promise<Receiver> {
  if (opts.join && protocol !== "udp") throw new Error("startReceiver: multicast needs UDP");
  const v = opts.family ?? 4;
  const join = !opts.join
    ? ""
    : v === 4
    ? `,ip-add-membership=${opts.join.group}:${opts.join.on}`
    : `,ipv6-join-group=[${opts.join.group}]:${opts.join.on}`;
  // UDP has no flow control: a receiver starved of CPU on a busy machine drops datagrams once its
  // buffer is full (VXLAN-decapsulated skbs are large), so it gets 16 MiB by SO_RCVBUFFORCE
  // (SOL_SOCKET 1, option 33), which socat applies before bind.
  const only6 = v === 6 ? ",ipv6only=1" : "";
  const address = protocol === "udp"
    ? `UDP${v}-RECV:${port},reuseaddr${only6},setsockopt-listen=1:33:x00008000${join}`
    : `TCP${v}-LISTEN:${port},reuseaddr${only6},fork`;
  const proc = spawnIn(ns, [BIN.socat, "-u", address, "STDOUT"]);
  const rx: Receiver = {
    port,
    protocol,
    proc,
    bytes: () => proc.stdoutBytes,
    records: () => Math.floor(proc.stdoutBytes / RECORD_SIZE),
    async waitRecords(n, ms) {
      await proc.until(() => rx.records() >= n, ms);
      return rx.records();
    },
    async stop() {
      await proc.stop();
    },
  };
  if (!(await waitListening(ns, protocol, port, timeoutMs))) {
    await proc.stop();
    throw new Error(`receiver ${protocol}/${port} in ${ns.name} not listening\n${proc.stderr}`);
  }
  return rx;
}
