/**
 * Everything known about the clock behind the txtimes of a node, in one read: the system clock
 * (adjtimex), each TSN interface's PHC, the running linuxptp daemons and ptp4l's offset (asked
 * only when a ptp4l runs). The readers are injectable so the judgement can be tested against a
 * fake node (a /proc tree, a fake pmc, a failing ioctl).
 *
 * @example
 * ```ts ignore
 * import { probeClock } from "./probe.ts";
 * const facts = await probeClock({ ifaces: ["eth1"] });
 * console.log(facts.system.synchronized, facts.phcs[0]?.phcIndex);
 * ```
 */
import { findLinuxptp, type Ptp4lQuery, type PtpProcess, queryPtp4l } from "./linuxptp.ts";
import { type PhcInfo, readPhc } from "./phc.ts";
import { readTimex, type TimexState } from "./timex.ts";

/** The system clock, or why it could not be read. */
export type SystemClock = TimexState | { readonly error: string };

/** What {@link probeClock} found. */
export interface ClockFacts {
  readonly system: SystemClock;
  readonly phcs: readonly PhcInfo[];
  readonly linuxptp: readonly PtpProcess[];
  /** null: no ptp4l runs, so none was asked. */
  readonly ptp4l: Ptp4lQuery | null;
}

/** Sources of {@link probeClock}; every one has a default that reads this node. */
export interface ClockProbeOptions {
  /** TSN interfaces whose PHC is read. */
  readonly ifaces: readonly string[];
  /** Their netns (null: this one). */
  readonly netns?: string | null;
  /** The host's /proc (in the agent pod: a hostPath mount, or /proc with hostPID). */
  readonly procRoot?: string;
  readonly timex?: () => TimexState;
  readonly phc?: (ifname: string) => PhcInfo;
  readonly processes?: (procRoot: string) => PtpProcess[];
  readonly ptp4l?: () => Promise<Ptp4lQuery>;
}

/** Whether a system clock reading is one (not an error). */
export function isTimex(s: SystemClock): s is TimexState {
  return !("error" in s);
}

/** Reads the clock facts; never throws (a failed reader leaves its reason in the facts). */
export async function probeClock(o: ClockProbeOptions): Promise<ClockFacts> {
  let system: SystemClock;
  try {
    system = (o.timex ?? readTimex)();
  } catch (e) {
    system = { error: e instanceof Error ? e.message : String(e) };
  }
  const phc = o.phc ?? ((n: string) => readPhc(n, { netns: o.netns ?? null }));
  const phcs = o.ifaces.map((n) => phc(n));
  const linuxptp = (o.processes ?? findLinuxptp)(o.procRoot ?? "/proc");
  const ptp4l = linuxptp.some((p) => p.name === "ptp4l") ? await (o.ptp4l ?? queryPtp4l)() : null;
  return { system, phcs, linuxptp, ptp4l };
}
