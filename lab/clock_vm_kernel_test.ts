/**
 * The clock probes (agent/clock) in a 6.12 guest, one boot: no PHC anywhere (reported as none),
 * the guest's clock unsynchronised (nobody disciplines it) in agreement with busybox's adjtimex,
 * and linuxptp's daemons found in a fake /proc tree. Downloads the kernel on first use.
 */
import assert from "node:assert/strict";
import { runLab } from "./mod.ts";

Deno.test("lab 6.12: the clock probes report no PHC and an unsynchronised clock", async () => {
  const r = await runLab({
    kernel: "6.12",
    scenarios: ["clock"],
    repoPaths: ["bpf", "agent/clock"],
    timeoutMs: 120_000,
  });
  const s = r.results.find((x) => x.name === "clock");
  assert.ok(s?.ok, JSON.stringify(r.results));
  const d = s.data as {
    facts: {
      system: { state: string; synchronized: boolean; status: number; taiOffsetS: number };
      phcs: Array<{ ifname: string; phcIndex: number | null; source: string }>;
      linuxptp: unknown[];
      ptp4l: unknown;
    };
    verdict: { synced: boolean; reasons: string[] };
    busybox: string;
    ptpClasses: string[];
    fakeProc: Array<{ name: string; pid: number; ifaces: string[] }>;
  };
  console.log(`guest ${r.kernel.uname.release}: ${JSON.stringify(d.facts)}`);
  assert.deepEqual(d.ptpClasses, [], "a QEMU guest without a PTP device has no PHC");
  assert.deepEqual(
    d.facts.phcs.map((p) => [p.ifname, p.phcIndex, p.source]),
    [["tsn0", null, "ioctl"], ["lo", null, "ioctl"]],
  );
  const ret = Number(/return value: (\d+)/.exec(d.busybox)?.[1]);
  const status = Number(/status:\s+(\d+)/.exec(d.busybox)?.[1]);
  assert.equal(d.facts.system.status & 0x40, status & 0x40, d.busybox);
  assert.equal(d.facts.system.synchronized, ret !== 5 && (status & 0x40) === 0, d.busybox);
  assert.equal(d.facts.system.synchronized, false, "nobody disciplines the guest's clock");
  assert.equal(d.verdict.synced, false);
  assert.deepEqual(d.facts.linuxptp, []);
  assert.equal(d.facts.ptp4l, null);
  assert.deepEqual(d.fakeProc, [
    { name: "ptp4l", pid: 7, ifaces: ["tsn0"] },
    { name: "phc2sys", pid: 8, ifaces: [] },
  ]);
});
