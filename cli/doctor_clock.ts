/**
 * The doctor's clock checks: a txtime is an instant on CLOCK_TAI, only as good as the clock behind
 * it. Pure functions from {@link ClockFacts} (gathered by `probeClock` of `@tsn-proxy/agent/clock`)
 * to checks:
 *
 * - `clock`: the system clock's sync state and TAI offset (adjtimex). Unsynchronised: warn
 *   (txtimes are scheduled against a clock nobody disciplines; `txtime.requireSyncedClock` makes
 *   the restorer refuse them). TAI offset 0 while synchronised: warn (CLOCK_TAI equals UTC, 37 s
 *   off the PTP timescale).
 * - `phc:IF` per TSN interface: its PTP hardware clock (ETHTOOL_GET_TS_INFO). None: info (software
 *   timestamps only: no hardware-offloaded etf/taprio, no hardware PTP on this port).
 * - `linuxptp`: which daemons run and ptp4l's last offset to its master (pmc).
 *
 * @example
 * ```ts
 * import { clockChecks } from "./doctor_clock.ts";
 * const checks = clockChecks({ system: { error: "no adjtimex" }, phcs: [], linuxptp: [], ptp4l: null });
 * console.log(checks[0]?.verdict); // "warn"
 * ```
 */
import { type ClockFacts, isTimex, STA_UNSYNC } from "@tsn-proxy/agent/clock";
import type { Check } from "./doctor_checks.ts";

const SYNC_FIX = "run a time daemon that disciplines the system clock: phc2sys from the TSN " +
  "NIC's PHC (linuxptp), or chrony/ntpd; or set txtime.requireSyncedClock so the restorer " +
  "refuses txtimes meanwhile";

/** The system clock. */
export function systemClockCheck(f: ClockFacts): Check {
  const s = f.system;
  if (!isTimex(s)) {
    return {
      id: "clock",
      verdict: "warn",
      detail: `cannot read the system clock: ${s.error}`,
      fix: SYNC_FIX,
    };
  }
  const err = `max error ${s.maxErrorUs} us`;
  if (!s.synchronized) {
    return {
      id: "clock",
      verdict: "warn",
      detail:
        `system clock unsynchronised (adjtimex ${s.state}, STA_UNSYNC${
          s.status & STA_UNSYNC ? "" : " clear"
        }, ${err}), TAI offset ${s.taiOffsetS} s: txtimes are scheduled against a clock nobody ` +
        "disciplines",
      fix: SYNC_FIX,
    };
  }
  if (s.taiOffsetS === 0) {
    return {
      id: "clock",
      verdict: "warn",
      detail: `system clock synchronised (${s.state}, ${err}) but its TAI offset is 0: ` +
        "CLOCK_TAI equals UTC, 37 s off the PTP (TAI) timescale",
      fix: "let the time daemon set it: phc2sys does from ptp4l's currentUtcOffset (-w), chrony " +
        "with `leapsectz right/UTC`",
    };
  }
  return {
    id: "clock",
    verdict: "ok",
    detail: `system clock synchronised (${s.state}, ${err}), TAI offset ${s.taiOffsetS} s`,
  };
}

/** One TSN interface's PHC. */
export function phcCheck(p: ClockFacts["phcs"][number]): Check {
  const id = `phc:${p.ifname}`;
  if (p.phcIndex !== null) {
    const hw = p.hardwareTx === null
      ? "timestamping modes unknown (read from sysfs)"
      : `hardware timestamps TX ${p.hardwareTx ? "yes" : "no"}, RX ${p.hardwareRx ? "yes" : "no"}`;
    return {
      id,
      verdict: "ok",
      detail: `${p.ifname}: PTP hardware clock /dev/ptp${p.phcIndex}, ${hw}`,
    };
  }
  if (p.source === "none") {
    return {
      id,
      verdict: "info",
      detail: `${p.ifname}: PTP hardware clock unknown (${p.error ?? "no answer"})`,
    };
  }
  return {
    id,
    verdict: "info",
    detail: `${p.ifname}: no PTP hardware clock (software timestamps only): etf/taprio run in ` +
      "software mode on the system clock; no hardware offload, no hardware PTP on this port",
  };
}

/** linuxptp's daemons and ptp4l's offset. */
export function linuxptpCheck(f: ClockFacts): Check {
  const running = f.linuxptp.map((p) =>
    `${p.name} (pid ${p.pid}${p.ifaces.length ? `, -i ${p.ifaces.join(",")}` : ""})`
  );
  if (running.length === 0) {
    return {
      id: "linuxptp",
      verdict: "info",
      detail: "no linuxptp daemon runs (ptp4l, phc2sys, ts2phc, timemaster): the clock is " +
        "synchronised by something else, or not at all (see the clock check)",
    };
  }
  const offset = f.ptp4l === null
    ? ""
    : f.ptp4l.ok
    ? `; ptp4l master offset ${f.ptp4l.status.masterOffsetNs} ns, grandmaster ${
      f.ptp4l.status.gmPresent ? f.ptp4l.status.gmIdentity ?? "present" : "none (or this clock)"
    }`
    : `; ptp4l offset unknown: ${f.ptp4l.reason}`;
  return { id: "linuxptp", verdict: "ok", detail: `running: ${running.join(", ")}${offset}` };
}

/** Every clock check, in report order. */
export function clockChecks(f: ClockFacts): Check[] {
  return [systemClockCheck(f), ...f.phcs.map(phcCheck), linuxptpCheck(f)];
}
