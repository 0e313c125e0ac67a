/**
 * The clock probes (agent/clock) in the 6.1 and 6.12 guests, one boot each: no PHC anywhere
 * (reported as none), the guest's clock unsynchronised (nobody disciplines it) in agreement with
 * busybox's adjtimex, and linuxptp's daemons found in a fake /proc tree. Then the shipped
 * `tsnproxy doctor` (the bundle of cli/shipped.ts, built here) says the same in its clock checks,
 * and its netkit probe (a pair in a throwaway netns) agrees with the guest kernel's config
 * (6.12: CONFIG_NETKIT=y; 6.1: no netkit driver).
 * Downloads the kernels on first use.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { bundle } from "@tsn-proxy/release";
import { runLab } from "./mod.ts";
import { repoRoot } from "@tsn-proxy/bpf";
import { ensureKernel } from "./kernels.ts";

/** Whether the guest's kernel has the netkit driver built in, from its Debian config. */
async function configHasNetkit(kernel: "6.1" | "6.12"): Promise<boolean> {
  const k = await ensureKernel(kernel);
  const config = await Deno.readTextFile(join(k.root, "boot", `config-${k.pin.release}`));
  const m = /^CONFIG_NETKIT=(.)$/m.exec(config);
  if (m && m[1] !== "y") throw new Error(`CONFIG_NETKIT=${m[1]}: the lab loads no netkit module`);
  return m !== null;
}

for (const kernel of ["6.1", "6.12"] as const) {
  Deno.test(`lab ${kernel}: the clock probes and doctor report no PHC, an unsynchronised clock and netkit`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "tsn-lab-doctor-" });
    let r;
    try {
      const tsnproxy = join(dir, "tsnproxy.js");
      await bundle(join(repoRoot(), "cli/shipped.ts"), tsnproxy);
      r = await runLab({
        kernel,
        scenarios: ["clock", "doctor"],
        repoPaths: ["bpf", "agent/clock"],
        files: {
          "tsnproxy.js": tsnproxy,
          "tsn_core.bpf.o": join(repoRoot(), "bpf/obj/tsn_core.bpf.o"),
        },
        timeoutMs: 180_000,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
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
    const doc = r.results.find((x) => x.name === "doctor");
    assert.ok(doc?.ok, JSON.stringify(r.results));
    const { report, stderr } = doc.data as {
      report: { checks?: Array<{ id: string; verdict: string; detail: string }> };
      stderr: string;
    };
    const checks = new Map((report.checks ?? []).map((c) => [c.id, c]));
    console.log(
      `doctor in ${kernel}: ${
        JSON.stringify(
          [...checks.values()].filter((c) =>
            ["clock", "phc:tsn0", "linuxptp", "netkit"].includes(c.id)
          ),
        )
      }`,
    );
    assert.ok(checks.size > 0, `doctor gave no checks: ${JSON.stringify(report)} ${stderr}`);
    const phc = checks.get("phc:tsn0");
    assert.equal(phc?.verdict, "info", JSON.stringify(phc));
    assert.match(phc.detail, /^tsn0: no PTP hardware clock/);
    const clock = checks.get("clock");
    assert.equal(clock?.verdict, "warn", JSON.stringify(clock));
    assert.match(clock.detail, /unsynchronised/);
    assert.equal(checks.get("linuxptp")?.verdict, "info", "no linuxptp daemon runs in the guest");
    const netkit = checks.get("netkit");
    if (await configHasNetkit(kernel)) {
      assert.equal(netkit?.verdict, "ok", JSON.stringify(netkit));
      assert.match(netkit.detail, /^netkit supported \(a pair created in a throwaway netns\)/);
    } else {
      assert.equal(netkit?.verdict, "info", JSON.stringify(netkit));
      assert.match(netkit.detail, /^no netkit in this kernel \(creating a pair: EOPNOTSUPP\)/);
    }
  });
}
