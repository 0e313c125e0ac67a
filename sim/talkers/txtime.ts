/**
 * Launches the FFI senders (./txtime_sender.ts, ./raw_sender.ts) inside a netns and returns their
 * results.
 *
 * @module
 */

import { type Netns, nsCommand } from "../netns.ts";
import { denoRunArgv } from "../deno_run.ts";
import { exec } from "../process.ts";
import type { SenderArgs, SenderResult } from "./txtime_sender.ts";
import type { RawSenderArgs } from "./raw_sender.ts";

const SENDER = new URL("./txtime_sender.ts", import.meta.url).pathname;
const RAW_SENDER = new URL("./raw_sender.ts", import.meta.url).pathname;

/** The sender's argv (deno run of txtime_sender.ts), to run in a netns. */
function txtimeSenderArgv(a: SenderArgs): string[] {
  return denoRunArgv(
    SENDER,
    "--dst",
    a.dst,
    "--port",
    String(a.port),
    "--count",
    String(a.count),
    "--priority",
    String(a.priority),
    "--clock",
    a.clock,
    "--pod",
    String(a.pod),
    "--interval-us",
    String(a.intervalUs),
    ...(a.aheadUs === undefined ? [] : ["--ahead-us", String(a.aheadUs)]),
    ...(a.altPriority === undefined ? [] : ["--alt-priority", String(a.altPriority)]),
  );
}

/** The raw sender's argv (deno run of raw_sender.ts), to run in a netns. */
function rawSenderArgv(a: RawSenderArgs): string[] {
  const flags: Record<string, string | number> = {
    dst: a.dst,
    ...(a.src === undefined ? {} : { src: a.src }),
    sport: a.sport,
    dport: a.dport,
    ...(a.ipId === undefined ? {} : { "ip-id": a.ipId }),
    ...(a.flowLabel === undefined ? {} : { "flow-label": a.flowLabel }),
    count: a.count,
    priority: a.priority,
    clock: a.clock,
    "interval-us": a.intervalUs,
    "payload-pod": a.payloadPod,
    "payload-priority": a.payloadPriority,
  };
  return denoRunArgv(
    RAW_SENDER,
    ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]),
  );
}

/** Runs the txtime sender in ns (killed after timeoutMs) and parses its JSON result line. */
export function runTxtimeSender(
  ns: Netns,
  a: SenderArgs,
  timeoutMs = 20_000,
): Promise<SenderResult> {
  return runSender(ns, txtimeSenderArgv(a), timeoutMs);
}

/** Runs the raw sender in ns (killed after timeoutMs) and parses its JSON result line. */
export function runRawSender(
  ns: Netns,
  a: RawSenderArgs,
  timeoutMs = 20_000,
): Promise<SenderResult> {
  return runSender(ns, rawSenderArgv(a), timeoutMs);
}

async function runSender(ns: Netns, argv: string[], timeoutMs: number): Promise<SenderResult> {
  const out = await exec(nsCommand(ns, argv), { timeoutMs });
  const last = out.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as SenderResult;
  } catch {
    throw new Error(`sender: no result line\n${out.stdout}\n${out.stderr}`);
  }
}
