/**
 * The doctor's netkit facts: does this kernel have netkit, does it report the scrub settings, and
 * for each netkit pair present, does its pod side still need the saver.
 *
 * The probe is real, never a version guess: it creates a netkit pair (through the rtnetlink
 * client) in a throwaway network namespace (one `unshare --net` child owns it; the namespace dies
 * with the child) and reads it back. No netkit driver: RTM_NEWLINK answers EOPNOTSUPP
 * (rtnl_newlink() finds no link ops for kind "netkit"). A kernel with netkit but before
 * IFLA_NETKIT_SCRUB (kernel commit 83134ef46093) reads back no scrub: it always scrubs.
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
  BpfError,
  createNetkit,
  getLink,
  type LinkInfo,
  listLinks,
  podLinkVerdict,
  withNetns,
} from "@tsn-proxy/bpf/libbpf";
import type { Check } from "./doctor_checks.ts";

/** The outcome of creating a netkit pair in a throwaway namespace. */
export type NetkitProbe =
  | { readonly supported: true; readonly reportsScrub: boolean }
  | { readonly supported: false; readonly error: string }
  /** Could not probe (not root, no unshare): unknown. */
  | { readonly supported: null; readonly error: string };

/** What the doctor knows about netkit on this node. */
export interface NetkitFacts {
  readonly probe: NetkitProbe;
  /** The netkit devices in the doctor's namespace, as the kernel reports them. */
  readonly devices: readonly LinkInfo[];
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

const UNSHARE = "/usr/bin/unshare";

function errorText(e: unknown): string {
  if (e instanceof BpfError) return e.code;
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/** Creates and reads back a netkit pair inside `netnsPath`. */
function probeIn(netnsPath: string): NetkitProbe {
  return withNetns(netnsPath, () => {
    try {
      createNetkit({ name: "tsnpk0", peerName: "tsnpk1", mode: "l3" });
    } catch (e) {
      return { supported: false, error: errorText(e) };
    }
    const link = getLink({ name: "tsnpk0" });
    return { supported: true, reportsScrub: link.netkit?.scrub !== undefined };
  });
}

/**
 * Probes netkit in a throwaway namespace owned by an `unshare --net` child (killed before
 * returning; the pair goes with its namespace).
 */
export async function probeNetkit(): Promise<NetkitProbe> {
  if (Deno.uid() !== 0) return { supported: null, error: "needs root" };
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(UNSHARE, {
      args: ["-n", "sleep", "30"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (e) {
    return { supported: null, error: `${UNSHARE}: ${errorText(e)}` };
  }
  try {
    const ours = Deno.readLinkSync("/proc/thread-self/ns/net");
    const path = `/proc/${child.pid}/ns/net`;
    for (let i = 0; i < 200; i++) {
      try {
        if (Deno.readLinkSync(path) !== ours) return probeIn(path);
      } catch { /* not there yet */ }
      await new Promise((r) => setTimeout(r, 10));
    }
    return { supported: null, error: "the unshare child never entered its own netns" };
  } catch (e) {
    return { supported: null, error: errorText(e) };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  }
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

/** All netkit facts. */
export async function probeNetkitFacts(netns: string | null): Promise<NetkitFacts> {
  const fwd = forwardUpdatesPriority();
  return {
    probe: await probeNetkit(),
    devices: netkitDevices(netns),
    ...(fwd === undefined ? {} : { forwardUpdatesPriority: fwd }),
  };
}
