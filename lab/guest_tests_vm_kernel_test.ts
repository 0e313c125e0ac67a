/**
 * The host's kernel tests on another kernel: one QEMU boot of Debian's 6.12 runs the kernel tests
 * of bpf/, the observer baseline and issue #14's case (a) (a stranger's look-alike packets) with
 * `deno test` inside the guest (scenario deno-test), where
 * fexit loads and taprio exists, unlike on the 6.18 host. Their expectations come from probes of
 * the kernel they run on (docs/kernel-facts.md), so the same files must pass here and there.
 */
import assert from "node:assert/strict";
import { PREBUILT_BPF_ENV } from "@tsn-proxy/bpf";
import { TAMPER_OBJECT, tamperObject } from "@tsn-proxy/sim";
import { BAD_BOUNDS, buildBadBounds } from "@tsn-proxy/bpf/testing";
import { KERNELS, LabError, runLab } from "./mod.ts";
import { repoRoot } from "@tsn-proxy/bpf";
import { VM_REPO_PATHS } from "./suite.ts";

/**
 * The test files the guest runs (repository paths; `FILE|FILTER` runs only FILE's tests matching
 * the `deno test --filter` pattern): bpf/'s kernel tests, the baseline, adversarial case (a).
 */
export async function guestTestFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(`${repoRoot()}/${dir}`)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`);
      else if (e.name.endsWith("_kernel_test.ts")) files.push(`${dir}/${e.name}`);
    }
  };
  await walk("bpf");
  return [
    ...files.sort(),
    "e2e/observer_kernel_test.ts",
    // Issue #14 (a) on a kernel where fexit loads: a stranger's packets identical to an opted-in
    // pod's get none of its metadata (both strategies; the host runs every case and family).
    "e2e/adversarial_identical_kernel_test.ts|/IPv4: a stranger.*local-pod/",
  ];
}

Deno.test("kernel tests of bpf/, the observer baseline and adversarial case (a) pass in the 6.12 guest", async () => {
  const files = await guestTestFiles();
  const dir = await Deno.makeTempDir({ prefix: "tsn-guest-tests-" });
  try {
    const list = `${dir}/deno-test.txt`;
    await Deno.writeTextFile(list, files.join("\n") + "\n");
    // The guest has no clang: what the tests compile is compiled here and found through
    // PREBUILT_BPF_ENV, which the guest's deno-test scenario points at /lab/extra.
    assert.equal(PREBUILT_BPF_ENV, "TSN_PREBUILT_BPF_DIR", "lab/guest/scenarios/deno-test.sh");
    const prebuilt = {
      [BAD_BOUNDS]: buildBadBounds(`${dir}/${BAD_BOUNDS}`),
      [TAMPER_OBJECT]: tamperObject(),
    };
    let r;
    try {
      r = await runLab({
        kernel: "6.12",
        scenarios: ["deno-test"],
        repoPaths: VM_REPO_PATHS,
        files: { "deno-test.txt": list, ...prebuilt },
        timeoutMs: 480_000,
        scenarioTimeoutMs: 420_000,
      });
    } catch (e) {
      if (e instanceof LabError) console.log(e.log.split("\n").slice(-200).join("\n"));
      throw e;
    }
    const s = r.results[0];
    assert.ok(s, "no result from the guest");
    const data = s.data as {
      release: string;
      passed: number;
      failed: number;
      ignored: number;
      runs: string[];
    };
    console.log(`6.12 guest: ${JSON.stringify(data)} in ${s.ms} ms`);
    assert.equal(data.release, KERNELS["6.12"].release);
    assert.deepEqual([data.failed, data.ignored], [0, 0]);
    assert.ok(data.passed >= files.length, `only ${data.passed} tests passed`);
    // One run of the unfiltered files, one per filtered line: each must have run tests.
    const filtered = files.filter((f) => f.includes("|")).length;
    assert.equal(data.runs.length, 1 + filtered, `runs: ${JSON.stringify(data.runs)}`);
    for (const r of data.runs) assert.match(r, /^ok \| [1-9]\d* passed/, r);
    assert.equal(s.ok, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
