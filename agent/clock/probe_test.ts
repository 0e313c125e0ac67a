import { deepEqual, equal } from "node:assert/strict";
import { probeClock } from "./probe.ts";
import type { PhcInfo } from "./phc.ts";

const NO_PHC = (ifname: string): PhcInfo => ({
  ifname,
  phcIndex: null,
  source: "ioctl",
  hardwareTx: false,
  hardwareRx: false,
});

Deno.test("probeClock() asks ptp4l only when one runs", async () => {
  let asked = 0;
  const ptp4l = () => {
    asked++;
    return Promise.resolve({ ok: false as const, reason: "pmc not found" });
  };
  const none = await probeClock({
    ifaces: ["tsn0"],
    timex: () => {
      throw new Error("adjtimex: errno 1");
    },
    phc: NO_PHC,
    processes: () => [],
    ptp4l,
  });
  equal(asked, 0);
  deepEqual(none.system, { error: "adjtimex: errno 1" });
  deepEqual(none.phcs.map((p) => p.phcIndex), [null]);
  equal(none.ptp4l, null);
  const running = await probeClock({
    ifaces: [],
    phc: NO_PHC,
    processes: () => [{ name: "ptp4l", pid: 1, ifaces: [] }],
    ptp4l,
  });
  equal(asked, 1);
  deepEqual(running.ptp4l, { ok: false, reason: "pmc not found" });
});

Deno.test("probeClock() reads a fake /proc tree by default", async () => {
  const proc = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${proc}/42`);
    Deno.writeTextFileSync(`${proc}/42/comm`, "phc2sys\n");
    const f = await probeClock({ ifaces: [], procRoot: proc, phc: NO_PHC });
    deepEqual(f.linuxptp, [{ name: "phc2sys", pid: 42, ifaces: [] }]);
    equal(f.ptp4l, null);
  } finally {
    Deno.removeSync(proc, { recursive: true });
  }
});
