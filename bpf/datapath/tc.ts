/**
 * Attaching a tc program the best way the running kernel allows: a TCX link (6.6+), pinned so it
 * outlives the agent, or else a legacy clsact direct-action filter, which the kernel keeps on the
 * device by itself.
 *
 * @example
 * ```ts ignore
 * import { attachTc } from "./tc.ts";
 * const mode = attachTc(prog, 4, { first: true, linkPin: "/sys/fs/bpf/tsn/restore/nic0" });
 * ```
 */
import {
  attachTcx,
  BpfLink,
  type BpfProgram,
  isBpfError,
  kernelHasTcx,
  tcAttach,
  tcDetach,
  tcQuery,
} from "../libbpf/mod.ts";
import type { AttachMode } from "./state.ts";

/** Legacy clsact handle of every tsn-proxy filter ("tsn" in hex-ish). */
export const CLSACT_HANDLE = 0x75e;
/** clsact priorities: 1 runs before anything else, 0xfff0 after filters others add. */
export const CLSACT_FIRST = 1;
/** The saver runs after the pod's own filters: it records what they left. */
export const CLSACT_LAST = 0xfff0;

/** Where and how to attach an egress program. */
export interface TcAttachOptions {
  /** Run before other programs on the hook (restorer) or after them (saver). */
  readonly first: boolean;
  /** Where to pin the TCX link. */
  readonly linkPin: string;
}

/** Attaches `prog` at egress of `ifindex` in the current netns; returns how. */
export function attachTc(prog: BpfProgram, ifindex: number, opts: TcAttachOptions): AttachMode {
  if (kernelHasTcx()) {
    const link = attachTcx(prog, ifindex, "egress", { first: opts.first });
    try {
      link.pin(opts.linkPin);
    } catch (e) {
      link.detach();
      throw e;
    }
    link.close();
    return { kind: "tcx" };
  }
  const priority = opts.first ? CLSACT_FIRST : CLSACT_LAST;
  const f = tcAttach(prog, ifindex, "egress", { handle: CLSACT_HANDLE, priority, replace: true });
  return { kind: "clsact", handle: f.handle, priority: f.priority };
}

/**
 * Detaches what {@link attachTc} attached, in the current netns. A device or link that is already
 * gone (pod deleted, interface removed) counts as detached.
 */
export function detachTc(mode: AttachMode, ifindex: number, linkPin: string): void {
  if (mode.kind === "tcx") {
    let link: BpfLink;
    try {
      link = BpfLink.fromPinned(linkPin);
    } catch (e) {
      if (isBpfError(e, "ENOENT")) return;
      throw e;
    }
    link.detach(); // bpf_link_detach, then the pin it was opened from goes too
    return;
  }
  try {
    tcDetach(ifindex, "egress", { handle: mode.handle, priority: mode.priority });
  } catch (e) {
    if (!isBpfError(e, "ENOENT", "ENODEV", "EINVAL")) throw e;
  }
}

/**
 * True when what {@link attachTc} attached is still on the device `ifindex` of the current netns:
 * a TCX link whose pin exists and whose kernel info names that device (a link whose device was
 * deleted stays pinned but defunct, with ifindex 0), or a clsact filter with our handle and
 * priority. A device that was deleted and re-created has a new ifindex and none of this.
 */
export function tcAttached(mode: AttachMode, ifindex: number, linkPin: string): boolean {
  if (mode.kind === "tcx") {
    let link: BpfLink;
    try {
      link = BpfLink.fromPinned(linkPin);
    } catch (e) {
      if (isBpfError(e, "ENOENT")) return false;
      throw e;
    }
    try {
      return link.info().tcx?.ifindex === ifindex;
    } finally {
      link.close();
    }
  }
  try {
    return tcQuery(ifindex, "egress", { handle: mode.handle, priority: mode.priority }) !==
      undefined;
  } catch (e) {
    if (isBpfError(e, "ENODEV", "EINVAL", "ENOENT")) return false;
    throw e;
  }
}

/** The device a TCX link pin is attached to (0: defunct, its device is gone); undefined: no pin. */
export function tcxLinkIfindex(linkPin: string): number | undefined {
  let link: BpfLink;
  try {
    link = BpfLink.fromPinned(linkPin);
  } catch (e) {
    if (isBpfError(e, "ENOENT")) return undefined;
    throw e;
  }
  try {
    return link.info().tcx?.ifindex ?? 0;
  } finally {
    link.close();
  }
}
