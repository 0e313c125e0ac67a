/**
 * The doctor's netkit facts: does this kernel have netkit, does it report the scrub settings, and
 * for each netkit pair present, does its pod side still need the saver.
 *
 * The probe is real, never a version guess: `probeNetkit` creates a netkit pair in a throwaway
 * network namespace and reads it back.
 * The verdict per pair is {@link podLinkVerdict}, the one `tsnproxy status` gives per pod.
 *
 * @example
 * ```ts
 * import { netkitChecks } from "./doctor_netkit.ts";
 * const checks = netkitChecks({ probe: { supported: false, error: "EOPNOTSUPP" }, devices: [] });
 * console.log(checks[0]?.detail); // "no netkit in this kernel ..."
 * ```
 */
import {
  type LinkInfo,
  listLinks,
  type NetkitProbe,
  podLinkVerdict,
  probeNetkit,
  withNetns,
} from "@tsn-proxy/bpf/libbpf";
import type { Check } from "./doctor_checks.ts";

/** What the doctor knows about netkit on this node. */
export interface NetkitFacts {
  readonly probe: NetkitProbe;
  /** The netkit devices in the doctor's namespace, as the kernel reports them. */
  readonly devices: readonly LinkInfo[];
  /** Why the devices could not be listed (absent: listed). */
  readonly devicesError?: string;
  /** `net.ipv4.ip_forward_update_priority` (undefined: unreadable). */
  readonly forwardUpdatesPriority?: boolean;
}

/** The pod side of a pair as seen from its primary: its own scrub is the primary's peer scrub. */
export function peerView(primary: LinkInfo): LinkInfo {
  const nk = primary.netkit;
  if (!nk) return primary;
  return {
    ...primary,
    netkit: { ...nk, primary: false, scrub: nk.peerScrub, peerScrub: nk.scrub },
  };
}

/** Judges the facts: one `netkit` check, and one `netkit:NAME` per pair present. */
export function netkitChecks(f: NetkitFacts): Check[] {
  const p = f.probe;
  const out: Check[] = [];
  if (p.supported === true) {
    out.push({
      id: "netkit",
      verdict: "ok",
      detail: "netkit supported (a pair created in a throwaway netns); scrub settings " +
        (p.reportsScrub
          ? "reported (IFLA_NETKIT_SCRUB/PEER_SCRUB): a pair with peer scrub none keeps the priority"
          : "not reported (kernel before IFLA_NETKIT_SCRUB): netkit always zeroes the priority"),
    });
  } else if (p.supported === false) {
    out.push({
      id: "netkit",
      verdict: "info",
      detail: `no netkit in this kernel (creating a pair: ${p.error}): pods use veth`,
    });
  } else {
    out.push({ id: "netkit", verdict: "info", detail: `netkit not probed: ${p.error}` });
  }
  if (f.devicesError !== undefined) {
    out.push({
      id: "netkit-devices",
      verdict: "warn",
      detail: `cannot list the netkit devices: ${f.devicesError}`,
      fix: "run the doctor as root in the node's network namespace (or pass --netns)",
    });
  }
  const opts = f.forwardUpdatesPriority === undefined
    ? {}
    : { forwardUpdatesPriority: f.forwardUpdatesPriority };
  for (const d of f.devices) {
    if (!d.netkit) continue;
    const pod = d.netkit.primary ? peerView(d) : d;
    const v = podLinkVerdict(pod, opts);
    const side = d.netkit.primary ? "primary, its pod side" : "pod side";
    out.push({
      id: `netkit:${d.name ?? d.ifindex}`,
      verdict: "info",
      detail: `${d.name ?? `ifindex ${d.ifindex}`} (${side}): netkit ${v.netkit?.mode ?? "?"}, ` +
        `scrub ${v.netkit?.scrub ?? "not reported"}: ${v.reason}`,
    });
  }
  return out;
}

/** The netkit devices in `netns` (null: this one). */
export function netkitDevices(netns: string | null): LinkInfo[] {
  const read = () => listLinks().filter((l) => l.kind === "netkit");
  return netns === null ? read() : withNetns(netns, read);
}

/** The node's `net.ipv4.ip_forward_update_priority` (undefined: unreadable). */
export function forwardUpdatesPriority(): boolean | undefined {
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward_update_priority").trim() !== "0";
  } catch {
    return undefined;
  }
}

/** All netkit facts; the devices and the sysctl are read in `netns` (null: this one). */
export async function probeNetkitFacts(netns: string | null): Promise<NetkitFacts> {
  const fwd = netns === null ? forwardUpdatesPriority() : withNetns(netns, forwardUpdatesPriority);
  let devices: LinkInfo[] = [];
  let devicesError: string | undefined;
  try {
    devices = netkitDevices(netns);
  } catch (e) {
    devicesError = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  }
  return {
    probe: await probeNetkit(),
    devices,
    ...(devicesError === undefined ? {} : { devicesError }),
    ...(fwd === undefined ? {} : { forwardUpdatesPriority: fwd }),
  };
}
