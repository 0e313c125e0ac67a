/**
 * netkit pods on Debian's 6.12 kernel (netkit is built in; 6.1 has none): one QEMU boot runs
 * vm-netkit (lab/guest/scenarios/vm-netkit.ts) with the real loader in the guest, and the checks
 * of lab/vm/checks.ts checkNetkit run again here on the reported result. About 4.5-5.5 min under TCG.
 */
import assert from "node:assert/strict";
import { KERNELS, LabError, runLab } from "./mod.ts";
import { VM_REPO_PATHS } from "./suite.ts";
import { checkVm, NETKIT_RUNS } from "./vm/checks.ts";
import { isVmResult, vmReport } from "./vm/report.ts";

Deno.test("netkit pods on 6.12 (QEMU): l3/l2, CNI program on the peer hook, both strategies", async () => {
  let r;
  try {
    r = await runLab({
      kernel: "6.12",
      scenarios: ["vm-netkit"],
      repoPaths: VM_REPO_PATHS,
      // 6 runs: 260 s on a quiet host, 330 s while other guests ran; room for a slow runner.
      timeoutMs: 660_000,
      scenarioTimeoutMs: 540_000,
    });
  } catch (e) {
    if (e instanceof LabError) {
      const lines = e.results.flatMap((s) => (isVmResult(s.data) ? vmReport(s.data) : []));
      console.log(lines.join("\n"));
    }
    throw e;
  }
  assert.equal(r.kernel.uname.release, KERNELS["6.12"].release);
  const s = r.results.find((x) => x.name === "vm-netkit");
  assert.ok(s?.ok, JSON.stringify(r.results.map((x) => [x.name, x.ok])));
  assert.ok(isVmResult(s.data) && s.data.scenario === "vm-netkit", "not a vm-netkit result");
  const data = s.data;
  console.log(vmReport(data).join("\n"));
  assert.equal(data.kernel, "6.12");
  assert.equal(data.runs.length, NETKIT_RUNS.length);
  assert.deepEqual(checkVm(data), [], "failed checks");
  assert.deepEqual(data.failures, []);
});
