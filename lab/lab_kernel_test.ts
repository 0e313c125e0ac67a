/**
 * Kernel tests of the lab: boots each pinned kernel once under QEMU with every smoke scenario in
 * that single boot and checks each result; then checks that failures are failures (a scenario
 * that exits non-zero, one that hangs, a boot over its limit). Needs root-free QEMU only, but
 * downloads the kernel packages on first use (cached under .cache/lab/).
 */
import assert from "node:assert/strict";
import { KERNEL_IDS, KERNELS, LabError, runLab, SMOKE_SCENARIOS } from "./mod.ts";
import type { LabResult } from "./mod.ts";

const BOOT_LIMIT_MS = 120_000;

function data(r: LabResult, name: string): Record<string, unknown> {
  const s = r.results.find((x) => x.name === name);
  assert.ok(s, `no result for ${name}`);
  assert.equal(s.ok, true, `${name} did not pass`);
  assert.equal(typeof s.data, "object");
  return s.data as Record<string, unknown>;
}

for (const id of KERNEL_IDS) {
  Deno.test(`lab ${id}: all smoke scenarios pass in one boot`, async () => {
    const pin = KERNELS[id];
    const r = await runLab({ kernel: id, scenarios: SMOKE_SCENARIOS, timeoutMs: BOOT_LIMIT_MS });
    const t = r.timings;
    console.log(
      `lab ${id} (${r.accel}): prepare ${t.prepareMs} ms, /init at ${t.initMs} ms, ready at ` +
        `${t.readyMs} ms, done at ${t.doneMs} ms, QEMU exit at ${t.bootMs} ms; ` +
        r.results.map((s) => `${s.name} ${s.ms} ms`).join(", "),
    );
    assert.ok(t.bootMs < BOOT_LIMIT_MS);
    assert.deepEqual(r.results.map((s) => s.name), [...SMOKE_SCENARIOS]);

    // The guest runs exactly the pinned package.
    assert.equal(r.kernel.uname.release, pin.release);
    assert.ok(r.kernel.uname.version.includes(`Debian ${pin.version} `), r.kernel.uname.version);
    const info = data(r, "kernel-info");
    assert.equal(info["release"], pin.release);
    assert.equal(info["btf"], true);
    assert.ok(Number(info["btfBytes"]) > 1_000_000);
    assert.equal(info["bpffs"], true);
    const loaded = info["loaded"] as string[];
    for (const m of ["sch_taprio", "sch_etf", "sch_mqprio", "veth", "8021q", "cls_bpf", "9p"]) {
      assert.ok(loaded.includes(m), `module ${m} not loaded`);
    }
    assert.ok(Object.values(r.modules).every((s) => s !== "missing"));

    const ffi = data(r, "deno-ffi-libbpf");
    assert.equal(ffi["major"], 1);
    assert.equal(typeof ffi["minor"], "number");
    assert.equal(ffi["version"], `v${ffi["major"]}.${ffi["minor"]}`);
    assert.ok(r.results[1]?.output.some((l) => l.startsWith(`libbpf ${ffi["major"]}.`)));

    const fexit = data(r, "fexit-loads");
    const bpftool = fexit["bpftool"] as Record<string, unknown>;
    const attach = fexit["attach"] as Record<string, unknown>;
    assert.equal(bpftool["ok"], true);
    assert.equal(bpftool["type"], "tracing");
    assert.equal(attach["ok"], true);
    assert.ok(Number(attach["clones"]) > 0, "fexit/skb_clone never fired");

    const taprio = data(r, "taprio");
    assert.equal(taprio["classCount"], 4);
    const classes = taprio["classes"] as string[];
    for (let i = 1; i <= 4; i++) {
      assert.ok(classes.some((c) => c.startsWith(`class taprio 100:${i} `)), `class 100:${i}`);
    }
    const qdisc = (taprio["qdisc"] as string[]).join("\n");
    assert.match(qdisc, /clockid TAI/);
    assert.match(qdisc, /cycle-time 40000/);
    assert.deepEqual((taprio["ping"] as Record<string, unknown>)["ok"], true);
    // The pings (priority 0 -> TC0) went through the first class's child qdisc.
    const child = taprio["childSentPackets"] as Record<string, number>;
    assert.deepEqual(Object.keys(child).sort(), ["100:1", "100:2", "100:3", "100:4"]);
    assert.ok((child["100:1"] ?? 0) >= 5, JSON.stringify(child));
  });
}

Deno.test("lab 6.12: a failing and a hung scenario are errors quoting the serial log", async () => {
  const err = await runLab({
    kernel: "6.12",
    scenarios: ["lab/guest/selftest/fails.sh", "lab/guest/selftest/hangs.sh", "kernel-info"],
    timeoutMs: BOOT_LIMIT_MS,
    scenarioTimeoutMs: 3_000,
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof LabError, `expected a LabError, got ${err}`);
  assert.deepEqual(err.problems, [
    "scenario lab/guest/selftest/fails.sh: exit 3",
    "scenario lab/guest/selftest/hangs.sh: exit 137 (killed: timeout)",
  ]);
  assert.match(err.message, /last 60 serial lines/);
  assert.match(err.message, /selftest: failing on purpose/);
  // The scenarios after the failures still ran in the same boot.
  assert.equal(err.results.find((s) => s.name === "kernel-info")?.ok, true);
});

Deno.test("lab 6.1: a module the kernel lacks is an error naming it (before any boot)", async () => {
  await assert.rejects(
    () => runLab({ kernel: "6.1", scenarios: ["kernel-info"], extraModules: ["sch_no_such"] }),
    /lacks module\(s\): sch_no_such/,
  );
});

Deno.test("lab 6.12: a boot over its time limit is killed and reported", async () => {
  const started = performance.now();
  const err = await runLab({ kernel: "6.12", scenarios: ["kernel-info"], timeoutMs: 1_500 })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof LabError);
  assert.match(err.problems[0] ?? "", /timed out after 1.5 s/);
  assert.ok(performance.now() - started < 30_000);
});
