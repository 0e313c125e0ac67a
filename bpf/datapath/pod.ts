/**
 * The pod half of the datapath: a saver instance per pod interface, loaded with the pod's owner id
 * and priority clamp in its `.rodata`, sharing the node's pinned maps, attached at egress of the
 * pod's interface inside the pod's network namespace.
 *
 * @example
 * ```ts ignore
 * import { attachPod } from "./pod.ts";
 * attachPod({ stateFile: "/run/tsn-proxy/datapath.json", id: "pod1", netns: "/run/netns/pod1",
 *   ifname: "eth0", maxPriority: 3 });
 * ```
 */
import {
  BpfLink,
  ensureBpffsDir,
  ifindex,
  removeBpffsDir,
  tcAttach,
  unpin,
  withNetns,
} from "../libbpf/mod.ts";
import { PROGRAMS } from "../gen/tsn_core.ts";
import { coreConfig, NO_CLAMP, openCore, type TxtimeRule } from "./core.ts";
import { stateSettings } from "./node.ts";
import { checkPodId, PinLayout } from "./layout.ts";
import { Rollback } from "./rollback.ts";
import { type DatapathState, loadState, type PodState, saveState } from "./state.ts";
import { attachTc, detachTc } from "./tc.ts";

/** What `attachPod` needs. */
export interface AttachPodOptions {
  readonly stateFile: string;
  /** A stable id for the attachment (the CNI container id + ifname, or the netns name). */
  readonly id: string;
  /** Path of the pod's network namespace (`/run/netns/NAME`, `/proc/PID/ns/net`). */
  readonly netns: string;
  /** The pod-side interface, usually `eth0`. */
  readonly ifname: string;
  /** Priorities above this are clamped to it (the namespace policy); default: no clamp. */
  readonly maxPriority?: number;
  /** The pod's default class: the priority of packets whose socket set none (clamped too). */
  readonly defaultPriority?: number;
  /** The namespace's txtime rule; default: allowed, no horizon. */
  readonly txtime?: TxtimeRule;
}

/** What a pod's saver instance is configured with (its `.rodata`), as the policy sets it. */
export interface PodSettings {
  readonly maxPriority?: number;
  readonly defaultPriority?: number;
  readonly txtime?: TxtimeRule;
}

/** A pod's settings as the state records them (only what differs from the defaults). */
function settingsState(
  s: PodSettings,
): Pick<PodState, "maxPriority" | "defaultPriority" | "txtime"> {
  return {
    maxPriority: s.maxPriority ?? NO_CLAMP,
    ...(s.defaultPriority ? { defaultPriority: s.defaultPriority } : {}),
    ...(s.txtime && (!s.txtime.allowed || s.txtime.horizonNs)
      ? { txtime: { allowed: s.txtime.allowed, horizonNs: String(s.txtime.horizonNs) } }
      : {}),
  };
}

/** The settings a pod's state records. */
function settingsOf(p: PodState): PodSettings {
  return {
    maxPriority: p.maxPriority,
    ...(p.defaultPriority ? { defaultPriority: p.defaultPriority } : {}),
    ...(p.txtime
      ? { txtime: { allowed: p.txtime.allowed, horizonNs: BigInt(p.txtime.horizonNs) } }
      : {}),
  };
}

/**
 * 32-bit FNV-1a of the UTF-8 bytes of `text`: the project's one short, stable hash of an id.
 *
 * @example
 * ```ts
 * fnv1a32(""); // 0x811c9dc5
 * ```
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** Owner ids tag records with their pod: FNV-1a of the attachment id, never 0 (0 = node). */
export function ownerId(id: string): number {
  return fnv1a32(id) || 1;
}

function requireState(stateFile: string): DatapathState {
  const state = loadState(stateFile);
  if (!state) throw new Error(`the datapath is not up (no state at ${stateFile}); run 'up' first`);
  return state;
}

/**
 * Attaches a saver to a pod interface. Idempotent for the same id, netns and interface; the same
 * id on another interface is refused. The interface is looked up in the pod netns before anything
 * is loaded, and a failure leaves nothing behind.
 */
export function attachPod(opts: AttachPodOptions): PodState {
  checkPodId(opts.id);
  const state = requireState(opts.stateFile);
  const settings = settingsState(opts);
  const index = withNetns(opts.netns, () => ifindex(opts.ifname));
  const known = state.pods.find((p) => p.id === opts.id);
  if (known) {
    if (known.netns === opts.netns && known.ifname === opts.ifname) return known;
    throw new Error(`attachment "${opts.id}" exists for ${known.netns} ${known.ifname}`);
  }
  const pins = new PinLayout(state.bpffs);
  const owner = ownerId(opts.id);
  return Rollback.run((rb) => {
    ensureBpffsDir(pins.podDir(opts.id));
    rb.push(`remove ${pins.podDir(opts.id)}`, () => removeBpffsDir(pins.podDir(opts.id)));
    const obj = openCore({
      programs: [PROGRAMS.tsnSaver.name],
      config: coreConfig({ ...stateSettings(state), owner, ...opts }),
      shareMapsOf: pins,
    });
    let mode;
    try {
      obj.load();
      obj.program(PROGRAMS.tsnSaver.name).pin(pins.podSaver(opts.id));
      obj.map(".rodata").pin(pins.podConfig(opts.id));
      const saver = obj.program(PROGRAMS.tsnSaver.name);
      const linkPin = pins.podLink(opts.id);
      mode = withNetns(opts.netns, () => attachTc(saver, index, { first: false, linkPin }));
      const attached = mode;
      rb.push(
        `detach saver from ${opts.ifname}`,
        () => withNetns(opts.netns, () => detachTc(attached, index, linkPin)),
      );
    } finally {
      obj.close();
    }
    const pod: PodState = {
      id: opts.id,
      netns: opts.netns,
      ifname: opts.ifname,
      ifindex: index,
      owner,
      ...settings,
      mode,
    };
    state.pods.push(pod);
    saveState(opts.stateFile, state);
    return pod;
  });
}

/**
 * Gives a running pod saver a new priority clamp (a policy change); see {@link setPodSettings}.
 * Returns false when the id is not attached, true when the saver now has `maxPriority` (no clamp:
 * undefined).
 */
export function setPodClamp(stateFile: string, id: string, maxPriority?: number): boolean {
  const pod = requireState(stateFile).pods.find((p) => p.id === id);
  if (!pod) return false;
  const { maxPriority: _, ...rest } = settingsOf(pod);
  return setPodSettings(stateFile, id, {
    ...rest,
    ...(maxPriority === undefined ? {} : { maxPriority }),
  });
}

/**
 * Gives a running pod saver new settings (a policy change: clamp, default class, txtime rule): a
 * new saver instance with the new `.rodata` replaces the old one in place, so every packet meets
 * one config or the other and none goes unsaved: a TCX link swaps its program
 * (`bpf_link_update`), a clsact filter is replaced at its own handle and priority. The pins then
 * name the new program and config. Returns false when the id is not attached.
 */
export function setPodSettings(stateFile: string, id: string, settings: PodSettings): boolean {
  const state = requireState(stateFile);
  const pod = state.pods.find((p) => p.id === id);
  if (!pod) return false;
  const next = settingsState(settings);
  if (JSON.stringify(settingsState(settingsOf(pod))) === JSON.stringify(next)) return true;
  const pins = new PinLayout(state.bpffs);
  const obj = openCore({
    programs: [PROGRAMS.tsnSaver.name],
    config: coreConfig({ ...stateSettings(state), owner: pod.owner, ...settings }),
    shareMapsOf: pins,
  });
  try {
    obj.load();
    const saver = obj.program(PROGRAMS.tsnSaver.name);
    const mode = pod.mode;
    if (mode.kind === "tcx") {
      const link = BpfLink.fromPinned(pins.podLink(id));
      try {
        link.update(saver);
      } finally {
        link.close();
      }
    } else {
      withNetns(pod.netns, () =>
        tcAttach(saver, pod.ifindex, "egress", {
          handle: mode.handle,
          priority: mode.priority,
          replace: true,
        }));
    }
    // The kernel runs the new program now; the pins follow (they only keep objects alive).
    unpin(pins.podSaver(id));
    saver.pin(pins.podSaver(id));
    unpin(pins.podConfig(id));
    obj.map(".rodata").pin(pins.podConfig(id));
  } finally {
    obj.close();
  }
  state.pods = state.pods.map((p) => {
    if (p.id !== id) return p;
    const { defaultPriority: _d, txtime: _t, ...base } = p;
    return { ...base, ...next };
  });
  saveState(stateFile, state);
  return true;
}

/**
 * Detaches a pod's saver and removes its pins. Best effort and idempotent: a netns or interface
 * that is already gone took the attachment with it. Returns false when the id was not attached.
 */
export function detachPod(stateFile: string, id: string): boolean {
  const state = requireState(stateFile);
  const pod = state.pods.find((p) => p.id === id);
  if (!pod) return false;
  removePodAttachment(state.bpffs, pod);
  state.pods = state.pods.filter((p) => p.id !== id);
  saveState(stateFile, state);
  return true;
}

/** Detaches one pod (netns permitting) and removes its pin directory. */
export function removePodAttachment(bpffs: string, pod: PodState): void {
  const pins = new PinLayout(bpffs);
  let netnsAlive = true;
  try {
    Deno.statSync(pod.netns);
  } catch {
    netnsAlive = false;
  }
  if (netnsAlive) {
    withNetns(pod.netns, () => detachTc(pod.mode, pod.ifindex, pins.podLink(pod.id)));
  }
  removeBpffsDir(pins.podDir(pod.id));
}
