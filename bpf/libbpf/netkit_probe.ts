/**
 * @module
 * Whether the running kernel has netkit, by a real probe, never a version guess: a netkit pair is
 * created (through the rtnetlink client) in a throwaway network namespace (an `unshare -n` child
 * owns it; the namespace and the pair die with the child) and read back. No netkit driver:
 * RTM_NEWLINK answers EOPNOTSUPP (rtnl_newlink() finds no link ops for kind "netkit"). A kernel
 * with netkit but before IFLA_NETKIT_SCRUB (kernel commit 83134ef46093) reads back no scrub: it
 * always scrubs.
 */
import { BpfError } from "./errors.ts";
import { withNetns } from "./netns.ts";
import { createNetkit, getLink } from "./rtnetlink.ts";

/** The outcome of creating a netkit pair in a throwaway namespace. */
export type NetkitProbe =
  | { readonly supported: true; readonly reportsScrub: boolean }
  | { readonly supported: false; readonly error: string }
  /** Could not probe (not root, no unshare): unknown. */
  | { readonly supported: null; readonly error: string };

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
 * returning; the pair goes with its namespace). Root only (else `supported: null`).
 *
 * @example
 * ```ts ignore
 * import { probeNetkit } from "./netkit_probe.ts";
 * const p = await probeNetkit();
 * if (p.supported) console.log(`netkit, scrub reported: ${p.reportsScrub}`);
 * ```
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
