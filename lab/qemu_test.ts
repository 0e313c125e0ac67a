import assert from "node:assert/strict";
import { kernelCmdline, qemuArgs } from "./qemu.ts";

Deno.test("kernelCmdline: serial console, panic exits, vars as key=value words", () => {
  const line = kernelCmdline({ lab_script: "/lab/repo/lab/guest/run.sh", lab_scenarios: "a,b" });
  assert.match(line, /^console=ttyS0 panic=-1 /);
  assert.ok(line.endsWith(" lab_script=/lab/repo/lab/guest/run.sh lab_scenarios=a,b"));
  assert.throws(() => kernelCmdline({ lab_x: "has space" }), /must be/);
  assert.throws(() => kernelCmdline({ "bad.key": "x" }), /must be/);
  assert.throws(() => kernelCmdline({ lab_x: "y".repeat(3000) }), /too long/);
});

Deno.test("qemuArgs: TCG by default flags, no network device, read-only 9p share", () => {
  const args = qemuArgs({
    kernel: "/k",
    initramfs: "/i",
    share: "/s",
    cmdline: "console=ttyS0",
    accel: "tcg",
    memoryMb: 512,
    cpus: 2,
  });
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  assert.equal(after("-accel"), "tcg,thread=multi");
  assert.equal(after("-cpu"), "max");
  assert.equal(after("-smp"), "2");
  const many = qemuArgs({
    kernel: "/k",
    initramfs: "/i",
    cmdline: "",
    accel: "tcg",
    memoryMb: 512,
    cpus: 2,
    maxCpus: 64,
  });
  assert.equal(many[many.indexOf("-smp") + 1], "64", "64 vCPUs (the kernel brings up two)");
  assert.equal(after("-m"), "512");
  assert.equal(after("-nic"), "none");
  assert.ok(args.includes("-no-reboot") && args.includes("-nographic"));
  assert.ok(!args.some((a) => /^-net(dev)?$/.test(a) || a.startsWith("user")));
  assert.equal(after("-virtfs"), "local,path=/s,mount_tag=lab,security_model=none,readonly=on");
  const kvm = qemuArgs({
    kernel: "/k",
    initramfs: "/i",
    cmdline: "",
    accel: "kvm",
    memoryMb: 1,
    cpus: 1,
  });
  assert.equal(kvm[kvm.indexOf("-accel") + 1], "kvm");
  assert.ok(!kvm.includes("-virtfs"));
});
