/**
 * The durable record of what a datapath attached: strategy, tracker outcome, restorers and pod
 * savers. Pins hold the kernel objects; this file holds what pins cannot (why a tracker is missing,
 * which netns a pod link lives in, legacy tc handles), so detach, down and stats work after restarts.
 * Written atomically (temp file + rename): a reader never sees a torn file.
 *
 * @example
 * ```ts ignore
 * import { loadState, saveState, emptyState } from "./state.ts";
 * const s = emptyState("/sys/fs/bpf/tsn", "skb-addr", "buckets", 100_000_000n);
 * await saveState("/run/tsn-proxy/datapath.json", s);
 * ```
 */
import { dirname } from "node:path";
import type { StoreName } from "./core.ts";

/** How a tc program is attached. */
export type AttachMode =
  | { readonly kind: "tcx" }
  | { readonly kind: "clsact"; readonly handle: number; readonly priority: number };

/** A tracker's outcome at load time. */
export interface TrackerState {
  readonly program: string;
  readonly state: "attached" | "unavailable";
  /** Why it is unavailable (errno name and kernel log), for status output. */
  readonly reason?: string;
}

/** A restorer on one TSN interface of the node netns. */
export interface RestorerState {
  readonly ifname: string;
  readonly ifindex: number;
  readonly mode: AttachMode;
}

/** A saver on one pod interface. */
export interface PodState {
  readonly id: string;
  readonly netns: string;
  readonly ifname: string;
  readonly ifindex: number;
  readonly owner: number;
  readonly maxPriority: number;
  /** The pod's default class (absent: none). */
  readonly defaultPriority?: number;
  /** The namespace's txtime rule, horizon in ns as a decimal string (absent: allowed, none). */
  readonly txtime?: { readonly allowed: boolean; readonly horizonNs: string };
  readonly mode: AttachMode;
}

/** Everything one datapath attached. */
export interface DatapathState {
  readonly version: 1;
  readonly bpffs: string;
  readonly strategy: string;
  /** Where records live: the bucket table or the LRU hash. */
  readonly store: StoreName;
  /** Record age bound in ns, as a decimal string (JSON has no 64-bit integers). */
  readonly maxAgeNs: string;
  trackers: TrackerState[];
  restorers: RestorerState[];
  /**
   * TSN interfaces `up` was asked to restore on (with `allowMissing`) that did not exist: no
   * restorer yet; `Datapath.check` (node.ts) attaches one when the interface appears. Absent: none.
   */
  pendingRestorers?: string[];
  pods: PodState[];
}

/** A state with nothing attached yet. */
export function emptyState(
  bpffs: string,
  strategy: string,
  store: StoreName,
  maxAgeNs: bigint,
): DatapathState {
  return {
    version: 1,
    bpffs,
    strategy,
    store,
    maxAgeNs: maxAgeNs.toString(),
    trackers: [],
    restorers: [],
    pods: [],
  };
}

/** Reads a state file; undefined when there is none. Throws on a corrupt file. */
export function loadState(path: string): DatapathState | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const s = JSON.parse(text) as DatapathState;
  if (s.version !== 1 || !Array.isArray(s.pods) || !Array.isArray(s.restorers)) {
    throw new Error(`${path}: not a tsn-proxy datapath state (version ${String(s.version)})`);
  }
  return s;
}

/** Writes a state file atomically, creating its directory (mode 0700: it names pod netns). */
export function saveState(path: string, state: DatapathState): void {
  Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${Deno.pid}`;
  Deno.writeTextFileSync(tmp, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

/** Removes a state file; no error when it is already gone. */
export function removeState(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
