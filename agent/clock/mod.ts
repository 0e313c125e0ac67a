/**
 * @module
 * The clock behind the txtimes: the system clock's sync state and TAI offset (adjtimex), each
 * TSN interface's PTP hardware clock (ETHTOOL_GET_TS_INFO), linuxptp's daemons and ptp4l's
 * offset, and the gate that makes the restorer refuse txtimes while the clock is unsynchronised.
 *
 * @example
 * ```ts ignore
 * import { clockVerdict, probeClock } from "@tsn-proxy/agent/clock";
 * const facts = await probeClock({ ifaces: ["eth1"] });
 * console.log(clockVerdict(facts, { maxPtpOffsetNs: 0 }));
 * ```
 */
export { decodeTimex, readTimex, STA_UNSYNC, TIMEX, type TimexState } from "./timex.ts";
export { decodeTsInfo, ethtoolTsInfo, phcFromSysfs, type PhcInfo, readPhc } from "./phc.ts";
export {
  cmdlineIfaces,
  findLinuxptp,
  LINUXPTP_DAEMONS,
  parsePmcTimeStatus,
  type Ptp4lQuery,
  type Ptp4lStatus,
  type PtpProcess,
  queryPtp4l,
  type Runner,
} from "./linuxptp.ts";
export {
  type ClockFacts,
  type ClockProbeOptions,
  isTimex,
  probeClock,
  type SystemClock,
} from "./probe.ts";
export {
  type ClockBounds,
  ClockGate,
  type ClockGateOptions,
  type ClockSwitch,
  type ClockVerdict,
  clockVerdict,
  type GateMetrics,
} from "./gate.ts";
export { CLOCK_SWITCH, mapClockSwitch } from "./switch.ts";
