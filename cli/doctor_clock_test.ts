import { deepEqual, equal, match } from "node:assert/strict";
import type { ClockFacts, TimexState } from "@tsn-proxy/agent/clock";
import { clockChecks, linuxptpCheck, phcCheck, systemClockCheck } from "./doctor_clock.ts";

const timex = (t: Partial<TimexState>): TimexState => ({
  state: "TIME_OK",
  status: 0,
  synchronized: true,
  taiOffsetS: 37,
  maxErrorUs: 12,
  estErrorUs: 1,
  ...t,
});
const facts = (f: Partial<ClockFacts>): ClockFacts => ({
  system: timex({}),
  phcs: [],
  linuxptp: [],
  ptp4l: null,
  ...f,
});

Deno.test("systemClockCheck() warns about an unsynchronised clock, as on this host", () => {
  const c = systemClockCheck(facts({
    system: timex({ state: "TIME_ERROR", status: 0x40, synchronized: false, taiOffsetS: 0 }),
  }));
  equal(c.verdict, "warn");
  match(c.detail, /unsynchronised \(adjtimex TIME_ERROR, STA_UNSYNC, .*TAI offset 0 s/);
  match(c.fix ?? "", /requireSyncedClock/);
});

Deno.test("systemClockCheck() warns about a synchronised clock whose TAI offset is 0", () => {
  const c = systemClockCheck(facts({ system: timex({ taiOffsetS: 0 }) }));
  equal(c.verdict, "warn");
  match(c.detail, /CLOCK_TAI equals UTC/);
  deepEqual(systemClockCheck(facts({})), {
    id: "clock",
    verdict: "ok",
    detail: "system clock synchronised (TIME_OK, max error 12 us), TAI offset 37 s",
  });
  equal(systemClockCheck(facts({ system: { error: "adjtimex: errno 1" } })).verdict, "warn");
});

Deno.test("phcCheck() names the PHC, or says there is none (veth) or why it is unknown", () => {
  const hw = phcCheck({
    ifname: "eth1",
    phcIndex: 0,
    source: "ioctl",
    hardwareTx: true,
    hardwareRx: true,
  });
  equal(hw.verdict, "ok");
  match(hw.detail, /\/dev\/ptp0, hardware timestamps TX yes, RX yes/);
  const veth = phcCheck({
    ifname: "tsn0",
    phcIndex: null,
    source: "ioctl",
    hardwareTx: false,
    hardwareRx: false,
  });
  equal(veth.verdict, "info");
  match(veth.detail, /no PTP hardware clock/);
  const gone = phcCheck({
    ifname: "nope0",
    phcIndex: null,
    source: "none",
    hardwareTx: null,
    hardwareRx: null,
    error: "ENODEV",
  });
  match(gone.detail, /unknown \(ENODEV\)/);
});

Deno.test("linuxptpCheck() lists the daemons and ptp4l's offset or why it is unknown", () => {
  equal(linuxptpCheck(facts({})).verdict, "info");
  const running = facts({
    linuxptp: [{ name: "ptp4l", pid: 812, ifaces: ["eth1"] }, {
      name: "phc2sys",
      pid: 820,
      ifaces: [],
    }],
    ptp4l: {
      ok: true,
      status: { masterOffsetNs: -15, gmPresent: true, gmIdentity: "001b21.fffe.6f1c3e" },
    },
  });
  equal(
    linuxptpCheck(running).detail,
    "running: ptp4l (pid 812, -i eth1), phc2sys (pid 820); ptp4l master offset -15 ns, " +
      "grandmaster 001b21.fffe.6f1c3e",
  );
  const silent = { ...running, ptp4l: { ok: false as const, reason: "pmc not found" } };
  match(linuxptpCheck(silent).detail, /ptp4l offset unknown: pmc not found/);
  deepEqual(clockChecks(running).map((c) => c.id), ["clock", "linuxptp"]);
});
