import { deepEqual, equal } from "node:assert/strict";
import { ClockGate, type ClockSwitch, clockVerdict } from "./gate.ts";
import type { ClockFacts } from "./probe.ts";
import { STA_UNSYNC, type TimexState } from "./timex.ts";

const SYNCED: TimexState = {
  state: "TIME_OK",
  status: 0x2001,
  synchronized: true,
  taiOffsetS: 37,
  maxErrorUs: 10,
  estErrorUs: 1,
};
const UNSYNCED: TimexState = {
  state: "TIME_ERROR",
  status: STA_UNSYNC,
  synchronized: false,
  taiOffsetS: 0,
  maxErrorUs: 16_000_000,
  estErrorUs: 16_000_000,
};

function facts(system: TimexState, offsetNs: number | null = null): ClockFacts {
  return {
    system,
    phcs: [],
    linuxptp: offsetNs === null ? [] : [{ name: "ptp4l", pid: 812, ifaces: ["eth1"] }],
    ptp4l: offsetNs === null
      ? null
      : { ok: true, status: { masterOffsetNs: offsetNs, gmPresent: true, gmIdentity: null } },
  };
}

Deno.test("clockVerdict() follows the kernel's sync state", () => {
  deepEqual(clockVerdict(facts(SYNCED), { maxPtpOffsetNs: 0 }), { synced: true, reasons: [] });
  deepEqual(clockVerdict(facts(UNSYNCED), { maxPtpOffsetNs: 0 }), {
    synced: false,
    reasons: ["system clock unsynchronised (adjtimex TIME_ERROR, STA_UNSYNC set)"],
  });
  const unreadable = { ...facts(SYNCED), system: { error: "adjtimex: errno 1" } };
  equal(clockVerdict(unreadable, { maxPtpOffsetNs: 0 }).synced, false);
});

Deno.test("clockVerdict() with a ptp4l bound wants ptp4l running, answering and within it", () => {
  const b = { maxPtpOffsetNs: 1000 };
  equal(clockVerdict(facts(SYNCED, -999), b).synced, true);
  deepEqual(clockVerdict(facts(SYNCED, 1001), b).reasons, [
    "ptp4l offset 1001 ns exceeds 1000 ns",
  ]);
  deepEqual(clockVerdict(facts(SYNCED), b).reasons, ["no ptp4l runs"]);
  const silent = { ...facts(SYNCED, 0), ptp4l: { ok: false as const, reason: "no answer" } };
  deepEqual(clockVerdict(silent, b).reasons, ["no answer"]);
  // without the bound a wild ptp4l offset alone does not refuse: the kernel's state decides
  equal(clockVerdict(facts(SYNCED, 5_000_000), { maxPtpOffsetNs: 0 }).synced, true);
});

function recorder() {
  const writes: boolean[] = [];
  const logs: string[] = [];
  const transitions: boolean[] = [];
  const sink: ClockSwitch = { setRefuse: (r) => writes.push(r) };
  return { writes, logs, transitions, sink, log: (m: string) => logs.push(m) };
}

Deno.test("ClockGate refuses while unsynchronised, writes every run, logs each change once", async () => {
  const r = recorder();
  let now = UNSYNCED;
  const gate = new ClockGate({
    probe: () => Promise.resolve(facts(now)),
    bounds: { maxPtpOffsetNs: 0 },
    require: true,
    sink: r.sink,
    log: r.log,
    metrics: { observe: () => {}, transition: (t) => r.transitions.push(t) },
  });
  equal(gate.refusing, null);
  await gate.run();
  await gate.run();
  equal(gate.refusing, true);
  now = SYNCED;
  await gate.run();
  equal(gate.refusing, false);
  deepEqual(r.writes, [true, true, false]);
  deepEqual(r.transitions, [true, false]);
  equal(r.logs.length, 2);
  equal(r.logs[0]!.startsWith("clock unsynchronised: refusing txtimes"), true);
});

Deno.test("ClockGate without requireSyncedClock never refuses and logs nothing", async () => {
  const r = recorder();
  const gate = new ClockGate({
    probe: () => Promise.resolve(facts(UNSYNCED)),
    bounds: { maxPtpOffsetNs: 0 },
    require: false,
    sink: r.sink,
    log: r.log,
  });
  const v = await gate.run();
  equal(v?.synced, false);
  deepEqual(r.writes, [false]);
  deepEqual(r.logs, []);
});

Deno.test("ClockGate with no switch in the datapath says so once and keeps judging", async () => {
  const r = recorder();
  const gate = new ClockGate({
    probe: () => Promise.resolve(facts(UNSYNCED)),
    bounds: { maxPtpOffsetNs: 0 },
    require: true,
    sink: null,
    log: r.log,
  });
  await gate.run();
  await gate.run();
  equal(gate.refusing, true);
  equal(r.logs.filter((l) => l.includes("no clock switch")).length, 1);
});

Deno.test("ClockGate drops a run that overlaps a slow one", async () => {
  const r = recorder();
  let release = () => {};
  const gate = new ClockGate({
    probe: () => new Promise((res) => (release = () => res(facts(SYNCED)))),
    bounds: { maxPtpOffsetNs: 0 },
    require: true,
    sink: r.sink,
    log: r.log,
  });
  const first = gate.run();
  equal(await gate.run(), null);
  release();
  equal((await first)?.synced, true);
  deepEqual(r.writes, [false]);
});
