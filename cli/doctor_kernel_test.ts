/**
 * `tsnproxy doctor` as root: its verdicts must match what independent probes of the running kernel
 * say (docs/kernel-facts.md: the release for txtimes, BTF for TCX, a minimal fexit load for the
 * tracker), and its interface and CNI checks must read a real netns (a 4-queue veth with htb,
 * not a TSN qdisc) and a real conf dir. netkit: the test creates a pair in its netns itself
 * (EOPNOTSUPP: no driver); the doctor's own probe must agree and, where the pair exists, report it.
 */
import { equal, match, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import {
  BIN,
  createNetns,
  deleteNetns,
  denoRunArgv,
  exec,
  ipBatch,
  requireKernelTests,
  run,
  uniquePrefix,
} from "@tsn-proxy/sim";
import {
  BpfError,
  createNetkit,
  getLink,
  kernelHasTcx,
  type LinkInfo,
  probeFexit,
  withNetns,
} from "@tsn-proxy/bpf/libbpf";
import type { DoctorReport } from "./doctor.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const KINDNET = fileURLToPath(new URL("./testdata/doctor/netd-kindnet", import.meta.url));

function check(r: DoctorReport, id: string) {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${JSON.stringify(r.checks.map((x) => x.id))}`);
  return c;
}

/** Whether Linux `release` is at least major.minor. */
function atLeast(release: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = release.split(".").map((n) => parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}

Deno.test("tsnproxy doctor matches probes of this kernel and reads a real netns and conf dir", async () => {
  requireKernelTests();
  const fexit = probeFexit();
  const tcx = kernelHasTcx();
  const prefix = uniquePrefix();
  const ns = await createNetns(`${prefix}-node`);
  const dir = await Deno.makeTempDir({ prefix: `${prefix}-doctor-` });
  try {
    await ipBatch(ns, [
      "link add tsn0 numtxqueues 4 numrxqueues 4 type veth peer name tsn0p",
      "link set tsn0 up",
    ]);
    await run(ns, [BIN.tc, "qdisc", "add", "dev", "tsn0", "root", "handle", "1:", "htb"]);
    const confDir = join(dir, "net.d");
    await Deno.mkdir(confDir);
    await Deno.copyFile(join(KINDNET, "10-kindnet.conflist"), join(confDir, "10-kindnet.conflist"));
    const config = join(dir, "agent.json");
    await Deno.writeTextFile(
      config,
      JSON.stringify({ strategy: "skb-addr", restoreOn: ["tsn0", "nope0"], cni: { confDir } }),
    );
    // The independent netkit probe: a pair in the test's netns, or null without the driver.
    const netkit = withNetns(ns.path, (): LinkInfo | null => {
      try {
        createNetkit({ name: "nkd0", peerName: "nkd1", mode: "l3" });
      } catch (e) {
        if (e instanceof BpfError && e.code === "EOPNOTSUPP") return null;
        throw e;
      }
      return getLink({ name: "nkd0" });
    });
    const doctor = (...args: string[]) =>
      exec(denoRunArgv(MAIN, "doctor", "--json", "--netns", ns.path, ...args), {
        allowFail: true,
        timeoutMs: 60_000,
      });

    const t0 = performance.now();
    const unfit = await doctor("--config", config);
    const ms = Math.round(performance.now() - t0);
    equal(unfit.code, 1, `a missing TSN interface makes the node unfit\n${unfit.stderr}`);
    const r = JSON.parse(unfit.stdout) as DoctorReport;
    equal(r.fit, false);
    equal(r.config, config);
    const kernel = check(r, "kernel");
    equal(kernel.verdict, "ok");
    // 6.11+ keeps typed txtimes across the veth; before, TAI ones are cleared (kernel-facts.md).
    match(
      kernel.detail,
      atLeast(Deno.osRelease(), 6, 11) ? /survive it \(6\.11\+\)/ : /clears TAI txtimes/,
    );
    for (const id of ["root", "btf", "bpffs", "tcx", "tai-helper", "core-load"]) {
      equal(check(r, id).verdict, "ok", `${id}: ${check(r, id).detail}`);
    }
    match(check(r, "tcx").detail, tcx ? /^TCX/ : /^no TCX/, `BTF says TCX: ${tcx}`);
    const tracker = check(r, "tracker");
    if (fexit.loads) {
      equal(tracker.verdict, "ok", `the fexit probe loads here: ${tracker.detail}`);
    } else {
      equal(tracker.verdict, "warn", tracker.detail);
      match(tracker.detail, new RegExp(`tsn_track_clone \\(fexit\\) refused: .*${fexit.code}`));
    }
    const tsn0 = check(r, "interface:tsn0");
    equal(tsn0.verdict, "warn", "htb is not a TSN qdisc");
    match(tsn0.detail, /root qdisc htb, 4 TX queue\(s\)/);
    equal(check(r, "interface:nope0").verdict, "fail");
    match(check(r, "cni-conf").detail, /owned by ptp/);
    // The clock as busybox's adjtimex applet reads it (another implementation of the same call).
    const bb = await exec(["busybox", "adjtimex"]);
    const ret = /return value: (\d+)/.exec(bb.stdout)?.[1];
    const status = Number(/status:\s+(\d+)/.exec(bb.stdout)?.[1]);
    const synced = ret !== "5" && (status & 0x40) === 0;
    const clock = check(r, "clock");
    match(clock.detail, synced ? /^system clock synchronised/ : /^system clock unsynchronised/);
    const tsn0Phc = check(r, "phc:tsn0");
    equal(tsn0Phc.verdict, "info");
    match(tsn0Phc.detail, /tsn0: no PTP hardware clock/, "veth: phc_index -1");
    match(check(r, "phc:nope0").detail, /unknown \(.*ENODEV/);
    ok(check(r, "linuxptp"));
    const nk = check(r, "netkit");
    if (netkit === null) {
      equal(nk.verdict, "info", JSON.stringify(nk));
      match(nk.detail, /^no netkit in this kernel \(creating a pair: EOPNOTSUPP\)/);
      ok(!r.checks.some((c) => c.id.startsWith("netkit:")), "no netkit device can exist");
    } else {
      equal(nk.verdict, "ok", JSON.stringify(nk));
      const reports = netkit.netkit?.scrub !== undefined;
      match(nk.detail, reports ? /scrub settings reported/ : /scrub settings not reported/);
      const scrub = netkit.netkit?.peerScrub ?? "not reported";
      match(check(r, "netkit:nkd0").detail, new RegExp(`^nkd0 \\(primary.*scrub ${scrub}:`));
    }
    console.log(`netkit on this host: ${nk.detail}`);

    const fit = await doctor("--config", config, "--restore-on", "tsn0");
    equal(fit.code, 0, fit.stdout);
    const f = JSON.parse(fit.stdout) as DoctorReport;
    // tsn0 without a TSN qdisc, a refused tracker, and the clock unless this host's is disciplined
    const warnings = (fexit.loads ? 1 : 2) + (check(f, "clock").verdict === "warn" ? 1 : 0);
    ok(
      f.fit && f.warnings === warnings,
      JSON.stringify(f.checks.filter((c) => c.verdict !== "ok")),
    );

    const usage = await doctor("--strategy", "skb-hash");
    equal(usage.code, 2, usage.stderr);
    console.log(`doctor on this host: ${ms} ms`);
  } finally {
    await deleteNetns(ns);
    await Deno.remove(dir, { recursive: true });
  }
});
