import { deepEqual, equal, match } from "node:assert/strict";
import type { LinkInfo } from "@tsn-proxy/bpf/libbpf";
import { netkitChecks, peerView } from "./doctor_netkit.ts";

const primary = (scrub: "none" | "default" | undefined, peerScrub: typeof scrub): LinkInfo => ({
  ifindex: 7,
  name: "nk0",
  kind: "netkit",
  netkit: { primary: true, mode: "l3", policy: "pass", peerPolicy: "pass", scrub, peerScrub },
});

Deno.test("netkitChecks: a kernel without netkit says so and lists nothing", () => {
  const c = netkitChecks({ probe: { supported: false, error: "EOPNOTSUPP" }, devices: [] });
  deepEqual(c.map((x) => [x.id, x.verdict]), [["netkit", "info"]]);
  match(c[0]!.detail, /no netkit in this kernel \(creating a pair: EOPNOTSUPP\)/);
});

Deno.test("netkitChecks: whether the kernel reports scrub", () => {
  const yes = netkitChecks({ probe: { supported: true, reportsScrub: true }, devices: [] });
  equal(yes[0]!.verdict, "ok");
  match(yes[0]!.detail, /scrub settings reported/);
  const no = netkitChecks({ probe: { supported: true, reportsScrub: false }, devices: [] });
  match(no[0]!.detail, /not reported .*always zeroes/);
  const unknown = netkitChecks({ probe: { supported: null, error: "needs root" }, devices: [] });
  match(unknown[0]!.detail, /not probed: needs root/);
});

Deno.test("netkitChecks: a pair's verdict is its pod side's (the primary's peer scrub)", () => {
  // primary scrubs by default, its pod side with none: the pod's own transmits keep the priority
  const devices = [primary("default", "none")];
  const routed = netkitChecks({ probe: { supported: true, reportsScrub: true }, devices });
  equal(routed[1]!.id, "netkit:nk0");
  match(
    routed[1]!.detail,
    /^nk0 \(primary, its pod side\): netkit l3, scrub none: .*ip_forward\(\)/,
  );
  const kept = netkitChecks({
    probe: { supported: true, reportsScrub: true },
    devices,
    forwardUpdatesPriority: false,
  });
  match(kept[1]!.detail, /saver is not needed/);
  const scrubbed = netkitChecks({
    probe: { supported: true, reportsScrub: true },
    devices: [primary("none", "default")],
    forwardUpdatesPriority: false,
  });
  match(scrubbed[1]!.detail, /scrub default: netkit_xmit\(\) zeroes/);
  const old = netkitChecks({
    probe: { supported: true, reportsScrub: false },
    devices: [primary(undefined, undefined)],
  });
  match(old[1]!.detail, /scrub not reported: .*always zeroes/);
});

Deno.test("netkitChecks: devices that cannot be listed are a warning, not silence", () => {
  const c = netkitChecks({
    probe: { supported: true, reportsScrub: true },
    devices: [],
    devicesError: "rtnetlink dump links: EPERM",
  });
  deepEqual(c.map((x) => [x.id, x.verdict]), [["netkit", "ok"], ["netkit-devices", "warn"]]);
  match(c[1]!.detail, /EPERM/);
});

Deno.test("peerView swaps the scrubs and leaves other devices alone", () => {
  const v = peerView(primary("default", "none"));
  equal(v.netkit?.scrub, "none");
  equal(v.netkit?.peerScrub, "default");
  equal(v.netkit?.primary, false);
  const veth: LinkInfo = { ifindex: 3, name: "veth0", kind: "veth" };
  equal(peerView(veth), veth);
});
