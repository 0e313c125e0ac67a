import { deepEqual, equal, match, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  bpfChecks,
  type Check,
  cniChecks,
  type DoctorFacts,
  formatDoctor,
  interfaceCheck,
  kernelCheck,
  type KernelFacts,
  runChecks,
  trackerCheck,
  verdictOf,
} from "./doctor_checks.ts";
import { parseLockdown, probeCni } from "./doctor_probe.ts";

const TESTDATA = fileURLToPath(new URL("./testdata/doctor/", import.meta.url));
const fixture = (name: string) => Deno.readTextFileSync(TESTDATA + name);
const EPERM = {
  ok: false,
  code: "EPERM",
  message: "bpf_object__load: EPERM (Operation not permitted)",
} as const;

/** The 6.18 CI host (docs/kernel-facts.md): BTF, TCX, fexit refused with EPERM. */
function host(over: Partial<KernelFacts> = {}): KernelFacts {
  return {
    release: "6.18.44-fc-v657",
    root: true,
    btf: true,
    bpffsMounts: ["/sys/fs/bpf"],
    tcx: true,
    taiHelper: true,
    lockdown: null,
    core: { ok: true },
    tracker: EPERM,
    ...over,
  };
}

const byId = (checks: Check[], id: string) => {
  const c = checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}: ${checks.map((x) => x.id).join(", ")}`);
  return c;
};

Deno.test("kernelCheck() draws the lines at 6.1 (unfit below) and 6.11 (txtimes survive)", () => {
  equal(kernelCheck("5.15.0-91-generic").verdict, "fail");
  equal(kernelCheck("6.0.19").verdict, "fail", "no bpf_ktime_get_tai_ns before 6.1");
  const old = kernelCheck("6.1.0-56-amd64");
  equal(old.verdict, "ok");
  match(old.detail, /clears TAI txtimes .* restores both/);
  const edge = kernelCheck("6.10.14");
  match(edge.detail, /clears TAI/);
  const kept = kernelCheck("6.11.0");
  match(kept.detail, /survive it \(6\.11\+\).*leaves the txtimes alone/);
  match(kernelCheck("6.18.44-fc-v657").detail, /Linux 6\.18/);
  equal(kernelCheck("7.0.1").verdict, "ok");
  equal(kernelCheck("weird").verdict, "warn");
});

Deno.test("bpfChecks() on the CI host: root, BTF, bpffs, TCX, per-CPU lookup, the core loads", () => {
  const c = bpfChecks(host());
  deepEqual(c.map((x) => [x.id, x.verdict]), [
    ["root", "ok"],
    ["btf", "ok"],
    ["bpffs", "ok"],
    ["tcx", "ok"],
    ["tai-helper", "ok"],
    ["core-load", "ok"],
  ]);
});

Deno.test("bpfChecks() fails a node without BTF, bpffs or the helper, and explains legacy tc", () => {
  const c = bpfChecks(
    host({
      btf: false,
      bpffsMounts: [],
      tcx: false,
      taiHelper: false,
      core: { ok: false, code: "EINVAL", message: "bpf_object__load: EINVAL (Invalid argument)" },
    }),
  );
  equal(byId(c, "btf").verdict, "fail");
  match(byId(c, "btf").fix!, /CONFIG_DEBUG_INFO_BTF/);
  equal(byId(c, "bpffs").verdict, "fail");
  match(byId(c, "bpffs").fix!, /mount -t bpf/);
  equal(byId(c, "tcx").verdict, "info");
  match(byId(c, "tcx").detail, /legacy tc clsact/);
  equal(byId(c, "tai-helper").verdict, "fail");
  equal(byId(c, "core-load").verdict, "fail");
  match(byId(c, "core-load").detail, /EINVAL/);
  const notRoot = bpfChecks(host({ root: false, core: null, tcx: null, taiHelper: null }));
  equal(byId(notRoot, "root").verdict, "fail");
  equal(byId(notRoot, "core-load").verdict, "fail");
  equal(byId(notRoot, "tcx").verdict, "warn");
});

Deno.test("trackerCheck(): EPERM degrades skb-addr (warn, says what is lost); skb-data needs none", () => {
  const refused = trackerCheck("skb-addr", ["tsn_track_clone"], host());
  equal(refused.verdict, "warn");
  match(refused.detail, /tsn_track_clone \(fexit\) refused: bpf_object__load: EPERM/);
  match(refused.detail, /cloned on the node .* lose their metadata/);
  const locked = trackerCheck("skb-addr", ["tsn_track_clone"], host({ lockdown: "integrity" }));
  match(locked.detail, /lockdown is "integrity"/);
  equal(
    trackerCheck("skb-addr", ["tsn_track_clone"], host({ tracker: { ok: true } })).verdict,
    "ok",
  );
  const none = trackerCheck("skb-data", [], host({ tracker: null }));
  equal(none.verdict, "ok");
  match(none.detail, /needs no tracker/);
  equal(parseLockdown("none [integrity] confidentiality\n"), "integrity");
  equal(parseLockdown(""), null);
});

Deno.test("interfaceCheck() wants the NIC, a taprio/mqprio root and a queue per class", () => {
  const missing = interfaceCheck({ name: "eth1", exists: false, qdiscs: null, txQueues: null });
  equal(missing.verdict, "fail");
  const taprio = interfaceCheck({
    name: "eth1",
    exists: true,
    qdiscs: fixture("tc-taprio-etf.txt"),
    txQueues: 4,
  });
  equal(taprio.verdict, "ok");
  equal(
    taprio.detail,
    "eth1: taprio, 4 traffic classes, clockid TAI; etf on 100:2 (TAI), 4 TX queue(s)",
  );
  const mq = interfaceCheck({
    name: "eth1",
    exists: true,
    qdiscs: fixture("tc-mqprio-etf.txt"),
    txQueues: 8,
  });
  match(mq.detail, /mqprio, 2 traffic classes; etf on 8001:2 \(TAI, offload\)/);
  const short = interfaceCheck({
    name: "eth1",
    exists: true,
    qdiscs: fixture("tc-taprio-etf.txt"),
    txQueues: 1,
  });
  equal(short.verdict, "warn");
  match(short.detail, /fewer TX queues than traffic classes/);
  const plain = interfaceCheck({
    name: "nic0",
    exists: true,
    qdiscs: fixture("tc-htb-clsact.txt"),
    txQueues: 4,
  });
  equal(plain.verdict, "warn");
  match(plain.detail, /root qdisc htb, 4 TX queue\(s\): no taprio or mqprio/);
  match(plain.fix!, /taprio/);
});

Deno.test("cniChecks() names the primary's owner and flags Cilium's exclusive mode and Multus", async () => {
  const kindnet = cniChecks(await probeCni(TESTDATA + "netd-kindnet"));
  equal(byId(kindnet, "cni-conf").verdict, "ok");
  match(byId(kindnet, "cni-conf").detail, /10-kindnet\.conflist: owned by ptp \(ptp -> portmap\)/);
  match(byId(kindnet, "cni-skipped").detail, /00-broken\.conf \(not JSON/);

  const cilium = cniChecks(await probeCni(TESTDATA + "netd-cilium-exclusive"));
  match(byId(cilium, "cni-conf").detail, /owned by cilium-cni/);
  equal(byId(cilium, "cni-conflict").verdict, "warn");
  match(byId(cilium, "cni-conflict").fix!, /cni\.exclusive=false/);
  equal(byId(cilium, "cni-exclusive").verdict, "fail");
  match(byId(cilium, "cni-exclusive").detail, /10-calico\.conflist\.cilium_bak/);

  const multus = cniChecks(await probeCni(TESTDATA + "netd-multus"));
  match(byId(multus, "cni-conf").detail, /a lone \.conf: the agent wraps it/);
  match(byId(multus, "cni-conflict").detail, /Multus/);

  const none = cniChecks(await probeCni(TESTDATA + "no-such-dir"));
  deepEqual(none.map((c) => [c.id, c.verdict]), [["cni-conf", "warn"]]);
});

Deno.test("cniChecks() fails a pre-0.3.0 primary and warns about a misplaced entry", () => {
  const files = (text: string) => ({
    confDir: "/etc/cni/net.d",
    exists: true,
    files: new Map([["10-x.conflist", text]]),
    others: [],
  });
  const old = cniChecks(files('{"cniVersion":"0.2.0","name":"x","plugins":[{"type":"bridge"}]}'));
  equal(byId(old, "cni-conf").verdict, "fail");
  const misplaced = cniChecks(
    files(
      '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"tsn-proxy"},{"type":"bridge"}]}',
    ),
  );
  equal(byId(misplaced, "cni-conf").verdict, "warn");
  const placed = cniChecks(
    files(
      '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"},{"type":"tsn-proxy"}]}',
    ),
  );
  match(byId(placed, "cni-conf").detail, /the tsn-proxy entry is in place/);
});

Deno.test("runChecks() + verdictOf(): warnings keep a node fit, one failure makes it unfit", async () => {
  const facts: DoctorFacts = {
    strategy: "skb-addr",
    trackerPrograms: ["tsn_track_clone"],
    kernel: host(),
    interfaces: [{ name: "eth1", exists: true, qdiscs: fixture("tc-taprio-etf.txt"), txQueues: 4 }],
    cni: await probeCni(TESTDATA + "netd-kindnet"),
  };
  const fit = runChecks(facts);
  deepEqual(verdictOf(fit), { fit: true, warnings: 1 });
  const text = formatDoctor(fit);
  match(text, /^OK {4}kernel /m);
  match(text, /^WARN {2}tracker .*\n {8,}-> unicast pod traffic is unaffected/m);
  match(text, /verdict: FIT for tsn-proxy \(1 warning\)$/);

  const unfit = runChecks({
    ...facts,
    interfaces: [{ name: "eth9", exists: false, qdiscs: null, txQueues: null }],
  });
  equal(verdictOf(unfit).fit, false);
  match(formatDoctor(unfit), /verdict: UNFIT for tsn-proxy \(failed: interface:eth9\)/);
  const unnamed = runChecks({ ...facts, interfaces: null });
  equal(byId(unnamed, "interfaces").verdict, "warn");
  ok(verdictOf(unnamed).fit);
});
