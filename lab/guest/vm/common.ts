/**
 * @module
 * Guest-side helpers of the VM suite's scenarios: the e2e toolkit's rows and the datapath's stats
 * turned into the plain result objects of lab/vm/results.ts, tc in a netns, and the scenario's
 * ending (result written, failures printed, exit status).
 */
import type { DatapathStats } from "@tsn-proxy/bpf/datapath";
import { BIN, type Netns, run } from "@tsn-proxy/sim/netns";
import type { ObserverStats } from "@tsn-proxy/sim/observer";
import { observerCounts, type TalkerRow } from "@tsn-proxy/sim/scenario";
import type { Protocol } from "@tsn-proxy/sim/talkers/receiver";
import { writeResult } from "../result.ts";
import {
  parseClassStats,
  parseQdiscStats,
  type ProxyOut,
  type QdiscStats,
  type RunOut,
  type TalkerOut,
  type VmKernel,
  vmKernelOf,
  type VmResult,
} from "../../vm/results.ts";

/**
 * How long a talker may run in a guest. Under TCG a Deno talker's start alone takes seconds, and
 * a host loaded by other guests stretches that past sim's 20 s default; the loop is still bounded.
 */
export const GUEST_TALKER_TIMEOUT_MS = 90_000;

/** The kernel this guest runs. */
export function guestKernel(): VmKernel {
  return vmKernelOf(Deno.osRelease());
}

/** The fields of a row the checks use. */
export function talkerOut(r: TalkerRow): TalkerOut {
  return {
    talker: r.talker,
    sent: r.sent,
    received: r.received,
    seen: r.seen,
    packets: r.packets,
    prioRight: r.prioRight,
    prioZero: r.prioZero,
    prioWrong: r.prioWrong,
    txtimeRight: r.txtimeRight,
    txtimeMissing: r.txtimeMissing,
    txtimeWrong: r.txtimeWrong,
    typeWrong: r.typeWrong,
    invented: r.invented,
    lastType: r.stats.lastTstampType,
  };
}

/** A talker's counters from an observer of its own (e.g. on a pod's eth0). */
export function observerOut(talker: string, protocol: Protocol, s: ObserverStats): TalkerOut {
  return {
    talker,
    sent: 0,
    received: 0,
    ...observerCounts(protocol, s),
    lastType: s.lastTstampType,
  };
}

/** The datapath's stats as plain JSON. */
export function proxyOut(s: DatapathStats): ProxyOut {
  return {
    strategy: s.state.strategy,
    trackers: s.state.trackers.map((t) => ({
      program: t.program,
      state: t.state,
      ...(t.reason === undefined ? {} : { reason: t.reason }),
    })),
    restorers: s.state.restorers.map((r) => ({ ifname: r.ifname, mode: r.mode.kind })),
    counters: Object.fromEntries(
      Object.entries(s.counters).map(([k, v]) => [k, Number(v as bigint)]),
    ),
    records: s.records,
  };
}

/** Runs `tc ARGS` in ns; returns stdout. */
export async function tc(ns: Netns, args: readonly string[]): Promise<string> {
  return (await run(ns, [BIN.tc, ...args])).stdout;
}

/** `tc -s qdisc show dev IF` in ns, parsed. */
export async function qdiscStats(ns: Netns, ifname: string): Promise<QdiscStats[]> {
  return parseQdiscStats(await tc(ns, ["-s", "qdisc", "show", "dev", ifname]));
}

/** `tc -s class show dev IF` in ns, parsed. */
export async function classStats(ns: Netns, ifname: string): Promise<Record<string, number>> {
  return parseClassStats(await tc(ns, ["-s", "class", "show", "dev", ifname]));
}

/**
 * Runs one scenario run, timing it; a throw becomes the run's `error` (the checks report it) so
 * the scenario's other runs still happen.
 */
export async function timedRun<T extends RunOut>(
  label: string,
  fn: () => Promise<Omit<T, "label" | "ms">>,
  onError: () => Omit<T, "label" | "ms" | "rows" | "proxy">,
): Promise<T> {
  const t0 = performance.now();
  try {
    const out = await fn();
    const ms = Math.round(performance.now() - t0);
    console.log(`${label}: ${ms} ms`);
    return { ...out, label, ms } as T;
  } catch (e) {
    const ms = Math.round(performance.now() - t0);
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    console.log(`${label}: FAILED after ${ms} ms: ${error}`);
    return { ...onError(), label, ms, rows: [], proxy: null, error } as unknown as T;
  }
}

/** Writes the result, prints the failures and exits 1 when there are any. */
export async function finish(result: VmResult): Promise<never> {
  await writeResult(result as unknown as Record<string, unknown>);
  for (const f of result.failures) console.log(`FAIL ${f}`);
  console.log(`${result.scenario} on ${result.kernel}: ${result.failures.length} failed checks`);
  Deno.exit(result.failures.length ? 1 : 0);
}
