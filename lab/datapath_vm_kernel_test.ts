/**
 * The datapath on Debian's stock 6.1 and 6.12 kernels: one QEMU boot per kernel runs the VM suite
 * (lab/suite.ts: vm-datapath, vm-clone, vm-vlan, vm-taprio, vm-etf) with the project's real loader
 * inside the guest, and the checks of lab/vm/checks.ts are run again here on the results the guest
 * reported. Downloads the kernel packages on first use (cached under .cache/lab/); a kernel or QEMU
 * that cannot be had fails the test with the serial log's tail, it never skips.
 */
import assert from "node:assert/strict";
import { KERNEL_IDS, KERNELS, LabError, runLab } from "./mod.ts";
import { VM_SUITE } from "./suite.ts";
import { checkVm } from "./vm/checks.ts";
import { isVmResult, vmReport } from "./vm/report.ts";
import type { VmResult } from "./vm/results.ts";

/** Runs expected per scenario (a scenario that silently ran fewer must fail). */
const RUNS: Readonly<Record<string, number>> = {
  "vm-datapath": 12,
  "vm-clone": 3,
  "vm-vlan": 4,
  "vm-taprio": 3,
  "vm-etf": 3,
};

for (const id of KERNEL_IDS) {
  Deno.test(`datapath on ${id} (QEMU): matrix, clone, VLAN PCP, taprio, etf`, async () => {
    const started = performance.now();
    let r;
    try {
      r = await runLab({ kernel: id, ...VM_SUITE });
    } catch (e) {
      // The results the guest did report, as the report table, before the failure itself.
      if (e instanceof LabError) {
        const lines = e.results.flatMap((s) => (isVmResult(s.data) ? vmReport(s.data) : []));
        console.log(lines.join("\n"));
      }
      throw e;
    }
    console.log(
      `lab ${id} (${r.accel}): boot+suite ${Math.round(performance.now() - started)} ms, ` +
        r.results.map((s) => `${s.name} ${s.ms} ms`).join(", "),
    );
    assert.equal(r.kernel.uname.release, KERNELS[id].release);
    assert.deepEqual(r.results.map((s) => s.name), [...VM_SUITE.scenarios]);
    for (const s of r.results) {
      assert.equal(s.ok, true, `${s.name} did not pass`);
      assert.ok(isVmResult(s.data), `${s.name}: not a VM suite result`);
      const data: VmResult = s.data;
      console.log(vmReport(data).join("\n"));
      assert.equal(data.scenario, s.name);
      assert.equal(data.kernel, id);
      assert.equal(data.runs.length, RUNS[s.name], `${s.name}: runs`);
      // The host's verdict on the guest's numbers, and the guest's own, agree: no failure.
      assert.deepEqual(checkVm(data), [], `${s.name}: failed checks`);
      assert.deepEqual(data.failures, []);
      for (const run of data.runs) {
        assert.equal(run.error, undefined, `${s.name} ${run.label}`);
        assert.ok(run.rows.length > 0, `${s.name} ${run.label}: no rows`);
      }
    }
  });
}
