/**
 * The node half of the datapath: `up` loads the restorer and the strategy's trackers and pins
 * them with the node-wide maps; `down` removes everything the datapath ever attached. These work
 * on a state in memory; {@link Datapath} (datapath.ts) reads and writes the state file around them.
 *
 * @example
 * ```ts ignore
 * import { up } from "./node.ts";
 * const strategy = { name: "skb-addr", keyMode: 0, trackers: [{ program: "tsn_track_clone" }] };
 * up({ strategy, bpffs: "/sys/fs/bpf/tsn", restoreOn: ["nic0"] }, undefined, () => {});
 * ```
 */
import {
  attachTracing,
  BpfError,
  BpfMap,
  BpfProgram,
  ensureBpffsDir,
  ifindex,
  isBpfError,
  removeBpffsDir,
  unpin,
} from "../libbpf/mod.ts";
import { PROGRAMS, TsnConfig, VARIABLES } from "../gen/tsn_core.ts";
import {
  coreConfig,
  type CoreSettings,
  DEFAULT_MAX_AGE_NS,
  DEFAULT_STORE,
  openCore,
  type StoreName,
} from "./core.ts";
import { PinLayout } from "./layout.ts";
import { Rollback } from "./rollback.ts";
import {
  type DatapathState,
  emptyState,
  type PodState,
  type RestorerState,
  type TrackerState,
} from "./state.ts";
import { attachTc, detachTc, tcAttached } from "./tc.ts";

/**
 * A packet-keying strategy as the datapath loads it: resolved by the caller (the registry in
 * `@tsn-proxy/strategies` gives these; the datapath never looks a name up itself).
 */
export interface DatapathStrategy {
  /** The name recorded in the state. */
  readonly name: string;
  /** `tsn_cfg.key_mode` of every instance. */
  readonly keyMode: number;
  /** Tracker programs (C names in the core object) loaded beside the restorer. */
  readonly trackers: readonly { readonly program: string }[];
}

/** What `up` needs. */
export interface UpOptions {
  readonly strategy: DatapathStrategy;
  /** The datapath's own bpffs directory (never the bpffs root). */
  readonly bpffs: string;
  /** TSN interfaces of the current netns that get a restorer. */
  readonly restoreOn: readonly string[];
  /** Records older than this are refused (default {@link DEFAULT_MAX_AGE_NS}). */
  readonly maxAgeNs?: bigint;
  /** Where records live (default {@link DEFAULT_STORE}). */
  readonly store?: StoreName;
  /** Also load the optional kfree/consume cleanup tracers. */
  readonly cleanup?: boolean;
  /**
   * Tolerate interfaces of `restoreOn` that do not exist (a valid name, no such device yet): they
   * get no restorer now and are recorded as `pendingRestorers`, which {@link checkRestorers}
   * attaches when they appear. Default false: a missing interface fails `up`, nothing attached.
   */
  readonly allowMissing?: boolean;
}

/**
 * A Linux interface name (the kernel's dev_valid_name()): 1..15 bytes, no '/', ':' or whitespace,
 * not "." or "..". A name that fails this can never exist, so it is an error even where a missing
 * interface is tolerated.
 */
export function isIfname(name: string): boolean {
  return name.length > 0 && new TextEncoder().encode(name).length <= 15 &&
    !/[\s/:]/.test(name) && name !== "." && name !== "..";
}

/** The index of interface `name`, or undefined when there is no such interface (ENODEV). */
function ifindexIfAny(name: string): number | undefined {
  try {
    return ifindex(name);
  } catch (e) {
    if (isBpfError(e, "ENODEV", "ENXIO")) return undefined;
    throw e;
  }
}

/** A pinned `.rodata` read back as the `tsn_cfg` it holds; null when the pin cannot be read. */
export function readPinnedConfig(pin: string): TsnConfig | null {
  try {
    using map = BpfMap.fromPinned(pin);
    const bytes = map.lookup(new Uint8Array(4));
    return bytes ? TsnConfig.decode(bytes, VARIABLES.tsnCfg.offset) : null;
  } catch {
    return null;
  }
}

/**
 * The settings every instance of a running datapath shares: store and age bound from its state,
 * the key mode from the node instance's pinned `.rodata` (the restorer's own config as the kernel
 * holds it), so a saver always keys packets the way the node's restorer looks them up.
 */
export function stateSettings(state: DatapathState): CoreSettings {
  const pins = new PinLayout(state.bpffs);
  const cfg = readPinnedConfig(pins.nodeConfig);
  if (!cfg) throw new Error(`the datapath in ${state.bpffs} has no node config pinned; run 'down'`);
  return { keyMode: cfg.keyMode, store: state.store, maxAgeNs: BigInt(state.maxAgeNs) };
}

/**
 * Loads the core for `strategy`, pins it, attaches restorers on `restoreOn` and tries the
 * trackers. Idempotent: on a node that is already up with the same strategy it only attaches
 * restorers that are missing; a different strategy is refused (run `down` first). Interface names
 * are resolved before anything is loaded (an invalid name always throws; a missing interface
 * throws unless `allowMissing`), and a failure undoes every step of this call.
 */
export function up(
  opts: UpOptions,
  existing: DatapathState | undefined,
  save: (state: DatapathState) => void,
): DatapathState {
  for (const name of opts.restoreOn) {
    if (!isIfname(name)) throw new Error(`invalid interface name ${JSON.stringify(name)}`);
  }
  const ifindexes = opts.restoreOn.map((name) => ({
    name,
    index: opts.allowMissing ? ifindexIfAny(name) : ifindex(name),
  }));
  const pins = new PinLayout(ensureBpffsDir(opts.bpffs));
  if (existing && existing.strategy !== opts.strategy.name) {
    throw new Error(
      `the datapath in ${opts.bpffs} runs strategy ${existing.strategy}; ` +
        `run 'down' before switching to ${opts.strategy.name}`,
    );
  }
  const state = existing ??
    emptyState(
      pins.dir,
      opts.strategy.name,
      opts.store ?? DEFAULT_STORE,
      opts.maxAgeNs ?? DEFAULT_MAX_AGE_NS,
    );
  const settings: CoreSettings = {
    keyMode: opts.strategy.keyMode,
    store: state.store,
    maxAgeNs: BigInt(state.maxAgeNs),
  };
  return Rollback.run((rb) => {
    if (!existing) loadNodeCore(pins, settings, rb);
    const pending = new Set(state.pendingRestorers ?? []);
    for (const { name, index } of ifindexes) {
      if (state.restorers.some((r) => r.ifname === name)) continue;
      if (index === undefined) {
        pending.add(name);
        continue;
      }
      state.restorers.push(attachRestorer(pins, name, index, rb));
      pending.delete(name);
    }
    setPending(state, pending);
    if (!existing) {
      const trackers = opts.strategy.trackers.map((t) => t.program);
      if (opts.cleanup) {
        trackers.push(PROGRAMS.tsnCleanupKfree.name, PROGRAMS.tsnCleanupConsume.name);
      }
      state.trackers = trackers.map((p) => loadTracker(pins, p, settings, rb));
    }
    save(state);
    return state;
  });
}

/** Records the pending restorers (none: the field is left out). */
function setPending(state: DatapathState, pending: Iterable<string>): void {
  const names = [...pending];
  if (names.length) state.pendingRestorers = names;
  else delete state.pendingRestorers;
}

function loadNodeCore(pins: PinLayout, settings: CoreSettings, rb: Rollback) {
  const obj = openCore({
    programs: [PROGRAMS.tsnRestorer.name],
    config: coreConfig(settings),
  });
  try {
    obj.load();
    const pinned: [string, { pin(path: string): void }][] = [
      [pins.records, obj.map("tsn_records")],
      [pins.buckets, obj.map("tsn_buckets")],
      [pins.clockGate, obj.map("tsn_clock_gate")],
      [pins.counters, obj.map("tsn_counters")],
      [pins.nodeConfig, obj.map(".rodata")],
      [pins.restorer, obj.program(PROGRAMS.tsnRestorer.name)],
    ];
    for (const [path, o] of pinned) {
      o.pin(path);
      rb.push(`unpin ${path}`, () => unpin(path));
    }
  } finally {
    obj.close();
  }
}

function attachRestorer(
  pins: PinLayout,
  ifname: string,
  index: number,
  rb: Rollback,
): RestorerState {
  ensureBpffsDir(pins.restoreDir);
  const prog = BpfProgram.fromPinned(pins.restorer);
  try {
    // First on the hook: a program before it could end the chain or read the priority first.
    const linkPin = pins.restorerLink(ifname);
    const mode = attachTc(prog, index, { first: true, linkPin });
    rb.push(`detach restorer from ${ifname}`, () => detachTc(mode, index, linkPin));
    return { ifname, ifindex: index, mode };
  } finally {
    prog.close();
  }
}

function loadTracker(
  pins: PinLayout,
  program: string,
  settings: CoreSettings,
  rb: Rollback,
): TrackerState {
  const obj = openCore({
    programs: [program],
    config: coreConfig(settings),
    shareMapsOf: pins,
  });
  try {
    try {
      obj.load();
    } catch (e) {
      // A kernel that refuses the tracker (fexit: EPERM under lockdown or without trampolines)
      // degrades the strategy; it must not take the node down.
      if (e instanceof BpfError) return { program, state: "unavailable", reason: bpfReason(e) };
      throw e;
    }
    ensureBpffsDir(pins.trackersDir);
    const link = attachTracing(obj.program(program));
    try {
      link.pin(pins.trackerLink(program));
    } finally {
      link.close();
    }
    rb.push(`unpin ${pins.trackerLink(program)}`, () => unpin(pins.trackerLink(program)));
    return { program, state: "attached" };
  } finally {
    obj.close();
  }
}

/** One line for status output: errno name and the first line of the message. */
function bpfReason(e: BpfError): string {
  return `${e.code}: ${e.message.split("\n")[0]}`;
}

/** What {@link checkRestorers} found for one TSN interface. */
export interface RestorerCheck {
  readonly ifname: string;
  /**
   * `ok`: attached to the device the name resolves to; `gone`: no interface of that name (its
   * restorer went with it); `reattached`: the interface came back (a new ifindex) or lost its
   * restorer, and the restorer is attached again; `failed`: (re-)attaching failed (see `error`).
   * For a pending restorer (an interface `up` did not find): `missing`: still no such interface;
   * `attached`: it appeared and got its first restorer.
   */
  readonly outcome: "ok" | "gone" | "reattached" | "failed" | "missing" | "attached";
  /** The interface's index now (absent when it is gone). */
  readonly ifindex?: number;
  /** The index the state recorded before, when it changed. */
  readonly previousIfindex?: number;
  /** Why re-attaching failed. */
  readonly error?: string;
}

/**
 * Compares every restorer of the state with the kernel (interfaces of the current netns): a TSN
 * interface that was deleted and created again (a driver reload, a VF reset, a renamed device)
 * has a new ifindex and no restorer, and a TCX link of the old device is left defunct. Such a
 * restorer is attached again (first on the hook, its link pin replaced) and the state file gets
 * the new ifindex. An interface that is gone is reported, and checked again on the next call.
 * Pending restorers (interfaces `up` did not find) are attached once their interface exists.
 */
export function checkRestorers(
  state: DatapathState,
  save: (state: DatapathState) => void,
): RestorerCheck[] {
  const pins = new PinLayout(state.bpffs);
  const out: RestorerCheck[] = [];
  let changed = false;
  state.restorers = state.restorers.map((r) => {
    let index: number;
    try {
      index = ifindex(r.ifname);
    } catch (e) {
      if (!isBpfError(e, "ENODEV", "ENXIO")) throw e;
      out.push({ ifname: r.ifname, outcome: "gone" });
      return r;
    }
    const linkPin = pins.restorerLink(r.ifname);
    if (tcAttached(r.mode, index, linkPin)) {
      out.push({ ifname: r.ifname, outcome: "ok", ifindex: index });
      if (index === r.ifindex) return r;
      changed = true; // the state was behind (e.g. written by an older agent)
      return { ...r, ifindex: index };
    }
    try {
      const fresh = Rollback.run((rb) => {
        // The old attachment: a defunct TCX link, or one on a renamed device, or a clsact filter
        // that went with its device. Removing it also frees the link pin for the new link.
        detachTc(r.mode, r.ifindex, linkPin);
        return attachRestorer(pins, r.ifname, index, rb);
      });
      changed = true;
      out.push({
        ifname: r.ifname,
        outcome: "reattached",
        ifindex: index,
        previousIfindex: r.ifindex,
      });
      return fresh;
    } catch (e) {
      out.push({
        ifname: r.ifname,
        outcome: "failed",
        ifindex: index,
        error: e instanceof Error ? e.message : String(e),
      });
      return r;
    }
  });
  const pending: string[] = [];
  for (const name of state.pendingRestorers ?? []) {
    if (state.restorers.some((r) => r.ifname === name)) {
      changed = true; // attached meanwhile (an `up` that found it)
      continue;
    }
    const index = ifindexIfAny(name);
    if (index === undefined) {
      out.push({ ifname: name, outcome: "missing" });
      pending.push(name);
      continue;
    }
    try {
      const fresh = Rollback.run((rb) => {
        // Nothing should be pinned for it; a leftover link pin would make the new pin fail.
        detachTc({ kind: "tcx" }, 0, pins.restorerLink(name));
        return attachRestorer(pins, name, index, rb);
      });
      state.restorers.push(fresh);
      changed = true;
      out.push({ ifname: name, outcome: "attached", ifindex: index });
    } catch (e) {
      pending.push(name);
      out.push({
        ifname: name,
        outcome: "failed",
        ifindex: index,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }
  if (changed) {
    setPending(state, pending);
    save(state);
  }
  return out;
}

/**
 * Removes everything the datapath attached and pinned: pod savers (in their netns, when it still
 * exists), restorers, trackers, maps, then the bpffs directory. Safe to repeat; without a state it
 * still clears the bpffs directory.
 */
export function down(
  bpffs: string,
  state: DatapathState | undefined,
  detachPod: (pod: PodState) => void,
): void {
  const pins = new PinLayout(bpffs);
  for (const pod of state?.pods ?? []) detachPod(pod);
  for (const r of state?.restorers ?? []) {
    try {
      detachTc(r.mode, r.ifindex, pins.restorerLink(r.ifname));
    } catch (e) {
      // An interface that is gone took its filters with it.
      if (!(e instanceof BpfError && e.code === "ENODEV")) throw e;
    }
  }
  removeBpffsDir(bpffs);
}
