/**
 * Launches the FFI txtime sender (./txtime_sender.ts) inside a netns and returns its result.
 *
 * @module
 */

import { type Netns, nsCommand } from "../netns.ts";
import { denoRunArgv } from "../deno_run.ts";
import { exec } from "../process.ts";
import type { SenderArgs, SenderResult } from "./txtime_sender.ts";

const SENDER = new URL("./txtime_sender.ts", import.meta.url).pathname;

/** The sender's argv (deno run of txtime_sender.ts), to run in a netns. */
export function txtimeSenderArgv(a: SenderArgs): string[] {
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
  );
}

/** Runs the sender in ns (killed after timeoutMs) and parses its JSON result line. */
export async function runTxtimeSender(
  ns: Netns,
  a: SenderArgs,
  timeoutMs = 20_000,
): Promise<SenderResult> {
  const out = await exec(nsCommand(ns, txtimeSenderArgv(a)), { timeoutMs });
  const last = out.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as SenderResult;
  } catch {
    throw new Error(`txtime sender: no result line\n${out.stdout}\n${out.stderr}`);
  }
}
