/**
 * One node's datapath as an object: its bpffs directory and the state file that records what it
 * attached. Every operation reads the state, changes the kernel and writes the state back, so
 * several processes (the agent, `tsnproxy datapath`, a test) can each open the same datapath; a
 * restarted process adopts what is pinned instead of reloading it.
 *
 * @example
 * ```ts ignore
 * import { Datapath } from "./datapath.ts";
 * const dp = Datapath.open({ stateFile: "/run/tsn-proxy/datapath.json", bpffs: "/sys/fs/bpf/tsn" });
 * dp.up({ strategy: { name: "skb-addr", keyMode: 0, trackers: [] }, restoreOn: ["nic0"] });
 * dp.attach({ id: "pod1", netns: "/run/netns/pod1", ifname: "eth0" });
 * console.log(dp.stats().counters.restored);
 * dp.down();
 * ```
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { removeBpffsDir } from "../libbpf/mod.ts";
import { TsnConfigFlags } from "../gen/tsn_core.ts";
import { NO_CLAMP, storeName } from "./core.ts";
import { PinLayout } from "./layout.ts";
import {
  checkRestorers,
  down,
  readPinnedConfig,
  type RestorerCheck,
  up,
  type UpOptions,
} from "./node.ts";
import {
  attachPod,
  type AttachPodOptions,
  detachPod,
  type PodSettings,
  removePodAttachment,
  setPodClamp,
  setPodSettings,
} from "./pod.ts";
import { type DatapathState, loadState, type PodState, removeState, saveState } from "./state.ts";
import { type DatapathStats, readStats } from "./stats.ts";

/** Where a datapath lives. */
export interface DatapathLocation {
  /** The state file that records what the datapath attached. */
  readonly stateFile: string;
  /**
   * Its bpffs directory (never the bpffs root): where `up` pins, and what `down` clears when there
   * is no state. Default: the one the state names.
   */
  readonly bpffs?: string;
}

/** A datapath: see the module doc. */
export class Datapath {
  readonly #stateFile: string | null;
  readonly #bpffs: string | undefined;
  /** A state rebuilt from pins ({@link Datapath.fromPins}): read-only. */
  readonly #fixed: DatapathState | null;

  private constructor(
    stateFile: string | null,
    bpffs: string | undefined,
    fixed: DatapathState | null,
  ) {
    this.#stateFile = stateFile;
    this.#bpffs = bpffs;
    this.#fixed = fixed;
  }

  /** The datapath recorded in `stateFile` (it need not be up yet). Touches nothing. */
  static open(where: DatapathLocation): Datapath {
    return new Datapath(where.stateFile, where.bpffs?.replace(/\/+$/, ""), null);
  }

  /**
   * A read-only view of the datapath pinned in `bpffs` when no state file names it: the node
   * `.rodata` gives key mode, store and age bound; `restore/`, `trackers/` and `pods/` give the
   * attachments (pod netns and interface unknown; a pod without a link pin was attached with
   * legacy tc). `nameOf` names the strategy of a key mode (default `key-N`). Null when nothing is
   * pinned there.
   */
  static fromPins(
    bpffs: string,
    nameOf: (keyMode: number) => string | undefined = () => undefined,
  ): Datapath | null {
    const state = stateFromPins(bpffs.replace(/\/+$/, ""), nameOf);
    return state ? new Datapath(null, state.bpffs, state) : null;
  }

  /** What the datapath attached; undefined when it is not up. Throws on a corrupt state file. */
  state(): DatapathState | undefined {
    return this.#fixed ?? loadState(this.#file());
  }

  /**
   * Loads the core for the strategy, pins it, attaches restorers and tries the trackers; on a
   * datapath already up with the same strategy only adds missing restorers, another strategy is
   * refused. A failure undoes every step of the call. See {@link UpOptions}.
   */
  up(opts: Omit<UpOptions, "bpffs"> & { readonly bpffs?: string }): DatapathState {
    const file = this.#file();
    const bpffs = opts.bpffs ?? this.#bpffs;
    if (bpffs === undefined) throw new Error("Datapath.up needs a bpffs directory");
    return up({ ...opts, bpffs }, loadState(file), (s) => saveState(file, s));
  }

  /**
   * Attaches a saver to a pod interface; idempotent for the same id, netns and interface, the
   * same id elsewhere is refused, a failure leaves nothing behind.
   */
  attach(opts: AttachPodOptions): PodState {
    const file = this.#file();
    return attachPod(this.#require(), opts, (s) => saveState(file, s));
  }

  /** Detaches a pod's saver and removes its pins; false when the id was not attached. */
  detach(id: string): boolean {
    const file = this.#file();
    return detachPod(this.#require(), id, (s) => saveState(file, s));
  }

  /**
   * Gives a running saver new settings (clamp, default class, txtime rule), replaced in place so
   * no packet goes unsaved; false when the id is not attached.
   */
  setSettings(id: string, settings: PodSettings): boolean {
    const file = this.#file();
    return setPodSettings(this.#require(), id, settings, (s) => saveState(file, s));
  }

  /** Gives a running saver a new clamp only (undefined: none); false when the id is not attached. */
  setClamp(id: string, maxPriority: number | undefined): boolean {
    const file = this.#file();
    return setPodClamp(this.#require(), id, maxPriority, (s) => saveState(file, s));
  }

  /**
   * Compares the restorers with the interfaces of the current netns: re-attaches the restorer of
   * a re-created interface, attaches pending ones that appeared, reports the gone and missing.
   * Nothing to check when the datapath is not up.
   */
  check(): RestorerCheck[] {
    const file = this.#file();
    const state = loadState(file);
    return state ? checkRestorers(state, (s) => saveState(file, s)) : [];
  }

  /**
   * Node-wide pins the datapath cannot work without (records, counters, restorer program) that
   * are gone, e.g. after bpffs was remounted under a state file. Empty when it is not up.
   */
  missingCorePins(): string[] {
    const state = this.state();
    if (!state) return [];
    const pins = new PinLayout(state.bpffs);
    return [pins.records, pins.counters, pins.restorer].filter((p) => !existsSync(p));
  }

  /**
   * A pod's pins that are gone (its saver, and its link for a TCX attachment); `[id]` when the id
   * is not attached at all.
   */
  missingPodPins(id: string): string[] {
    const state = this.state();
    const pod = state?.pods.find((p) => p.id === id);
    if (!state || !pod) return [id];
    const pins = new PinLayout(state.bpffs);
    const want = [pins.podSaver(id), ...(pod.mode.kind === "tcx" ? [pins.podLink(id)] : [])];
    return want.filter((p) => !existsSync(p));
  }

  /**
   * Removes pod pin directories that the state does not name: what a process killed between a
   * saver's attach and the state write leaves (the saver's TCX link goes with its pin). Returns
   * the ids removed; nothing to do when the datapath is not up.
   */
  removeOrphans(): string[] {
    const state = this.state();
    if (!state) return [];
    const pins = new PinLayout(state.bpffs);
    let names: string[];
    try {
      names = [...Deno.readDirSync(dirname(pins.podDir("x")))].filter((e) => e.isDirectory)
        .map((e) => e.name);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    const known = new Set(state.pods.map((p) => p.id));
    const orphans = names.filter((n) => !known.has(n));
    for (const id of orphans) removeBpffsDir(pins.podDir(id));
    return orphans;
  }

  /** A snapshot of the datapath from its pins. Throws when it is not up. */
  stats(): DatapathStats {
    return readStats(this.#require());
  }

  /**
   * Removes everything the datapath attached and pinned (pod savers in their netns when it still
   * exists, restorers, trackers, maps), then its bpffs directory and the state file. Safe to
   * repeat. `onPodError` gets a saver that cannot be detached (default: throw); removing the bpffs
   * directory drops its link pins, which detaches TCX links anyway.
   */
  down(onPodError?: (pod: PodState, error: unknown) => void): void {
    const file = this.#file();
    const state = loadState(file);
    const bpffs = state?.bpffs ?? this.#bpffs;
    if (bpffs === undefined) throw new Error(`no datapath state at ${file} and no bpffs given`);
    down(bpffs, state, (p) => {
      try {
        removePodAttachment(bpffs, p);
      } catch (e) {
        if (!onPodError) throw e;
        onPodError(p, e);
      }
    });
    removeState(file);
  }

  #file(): string {
    if (this.#stateFile === null) {
      throw new Error(`the datapath in ${this.#bpffs} has no state file (a view from its pins)`);
    }
    return this.#stateFile;
  }

  #require(): DatapathState {
    const state = this.state();
    if (!state) {
      throw new Error(`the datapath is not up (no state at ${this.#stateFile}); run 'up' first`);
    }
    return state;
  }
}

function listDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function stateFromPins(
  bpffs: string,
  nameOf: (keyMode: number) => string | undefined,
): DatapathState | null {
  const pins = new PinLayout(bpffs);
  const cfg = readPinnedConfig(pins.nodeConfig);
  if (!cfg) return null;
  const pods: PodState[] = listDir(join(bpffs, "pods")).map((id) => {
    const podCfg = readPinnedConfig(pins.podConfig(id));
    const denied = ((podCfg?.flags ?? 0) & TsnConfigFlags.TSN_CFG_NO_TXTIME) !== 0;
    const horizonNs = podCfg?.txtimeHorizonNs ?? 0n;
    return {
      id,
      netns: "",
      ifname: "?",
      ifindex: 0,
      owner: podCfg?.owner ?? 0,
      maxPriority: podCfg?.maxPriority ?? NO_CLAMP,
      ...(podCfg?.defaultPriority ? { defaultPriority: podCfg.defaultPriority } : {}),
      ...(denied || horizonNs
        ? { txtime: { allowed: !denied, horizonNs: String(horizonNs) } }
        : {}),
      mode: existsSync(pins.podLink(id))
        ? { kind: "tcx" }
        : { kind: "clsact", handle: 0, priority: 0 },
    };
  });
  return {
    version: 1,
    bpffs,
    strategy: nameOf(cfg.keyMode) ?? `key-${cfg.keyMode}`,
    store: storeName(cfg.store),
    maxAgeNs: cfg.maxAgeNs.toString(),
    trackers: listDir(pins.trackersDir).map((program) => ({ program, state: "attached" })),
    restorers: listDir(pins.restoreDir).map((ifname) => ({
      ifname,
      ifindex: 0,
      mode: { kind: "tcx" },
    })),
    pods,
  };
}
