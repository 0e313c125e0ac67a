/**
 * Runs a flood from a pod: several sender processes at once (the FFI `sendmmsg` sender of
 * ./sender.ts, or socat reading /dev/zero), each bounded by time and count and killed if it
 * overstays. Returns what the senders report; the caller counts what arrived.
 *
 * @module
 */
import { BIN, denoRunArgv, exec, type Netns, nsCommand } from "@tsn-proxy/sim";
import type { FloodResult } from "./sender.ts";

/** Which program floods, and how many copies run at once. */
export interface FloodTool {
  /** `ffi`: sim/flood/sender.ts (sendmmsg); `socat`: socat -u /dev/zero UDP4-SENDTO. */
  readonly kind: "ffi" | "socat";
  /** Processes in parallel (each its own socket and source port). */
  readonly procs: number;
}

/** A tool's name in reports. */
export function toolName(t: FloodTool): string {
  return `${t.kind === "ffi" ? "ffi sendmmsg" : "socat"} x${t.procs}`;
}

/** What to send. */
export interface FloodSpec {
  readonly proto: "udp" | "tcp";
  readonly dst: string;
  readonly port: number;
  readonly priority: number;
  readonly clock: "none" | "tai";
  readonly durationMs: number;
  /** Per process: datagrams (UDP) or chunks (TCP). */
  readonly maxPackets: number;
}

/** The senders' results, summed. */
export interface FloodOutcome {
  /** Datagrams or chunks accepted (socat: unknown, 0). */
  sent: number;
  /** Bytes accepted (socat: unknown, 0). */
  bytes: number;
  /** Failed calls. */
  errors: number;
  /** The longest sender's sending time (socat: the wall time of the run). */
  elapsedMs: number;
  /** Summed on-CPU time of the sending threads (null: unknown, e.g. socat). */
  cpuNs: number | null;
}

const SENDER = new URL("./sender.ts", import.meta.url).pathname;

/** Payload bytes of a flood datagram: Ethernet 14 + IPv4 20 + UDP 8 + 22 = a 64-byte frame. */
const UDP_PAYLOAD = 22;

/** argv of one sender process. */
function senderArgv(tool: FloodTool, s: FloodSpec): string[] {
  if (tool.kind === "socat") {
    if (s.proto !== "udp" || s.clock !== "none") {
      throw new Error("socat floods are UDP without txtime only");
    }
    return [
      "/usr/bin/timeout",
      "-s",
      "TERM",
      (s.durationMs / 1000).toFixed(3),
      BIN.socat,
      "-u",
      "-b",
      String(UDP_PAYLOAD),
      "/dev/zero",
      `UDP4-SENDTO:${s.dst}:${s.port},so-priority=${s.priority}`,
    ];
  }
  return denoRunArgv(
    SENDER,
    "--proto",
    s.proto,
    "--dst",
    s.dst,
    "--port",
    String(s.port),
    "--priority",
    String(s.priority),
    "--clock",
    s.clock,
    "--duration-ms",
    String(s.durationMs),
    "--max-packets",
    String(s.maxPackets),
  );
}

/** Runs `tool.procs` senders in `ns` at once and waits for all of them. */
export async function runFlood(ns: Netns, tool: FloodTool, s: FloodSpec): Promise<FloodOutcome> {
  const t0 = performance.now();
  const timeoutMs = s.durationMs + 15_000;
  const outs = await Promise.all(
    Array.from(
      { length: tool.procs },
      () => exec(nsCommand(ns, senderArgv(tool, s)), { timeoutMs, allowFail: true }),
    ),
  );
  const wallMs = performance.now() - t0;
  const out: FloodOutcome = {
    sent: 0,
    bytes: 0,
    errors: 0,
    elapsedMs: 0,
    cpuNs: tool.kind === "ffi" ? 0 : null,
  };
  for (const o of outs) {
    if (tool.kind === "socat") {
      // timeout(1) ends socat with SIGTERM: exit 124 is the normal end of a socat flood.
      if (o.code !== 124 && o.code !== 0) {
        throw new Error(`socat flood: exit ${o.code}\n${o.stderr}`);
      }
      out.elapsedMs = Math.max(out.elapsedMs, s.durationMs);
      continue;
    }
    const last = o.stdout.trim().split("\n").at(-1) ?? "";
    let r: FloodResult;
    try {
      r = JSON.parse(last) as FloodResult;
    } catch {
      throw new Error(`flood sender: no result (exit ${o.code})\n${o.stdout}\n${o.stderr}`);
    }
    out.sent += r.sent;
    out.bytes += r.bytes;
    out.errors += r.errors;
    out.elapsedMs = Math.max(out.elapsedMs, r.elapsedMs);
    out.cpuNs = out.cpuNs === null || r.cpuNs < 0 ? null : out.cpuNs + r.cpuNs;
  }
  if (tool.kind === "socat") out.elapsedMs = Math.min(out.elapsedMs, wallMs);
  return out;
}
