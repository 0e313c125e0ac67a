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
import { type StoreName, STORES } from "./core.ts";

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
  return parseState(text, path);
}

/**
 * Decodes a state file's text and checks it field by field; the error names the file, the field
 * and why (`datapath.json: pods[1].ifindex: a string, not an integer 0..2^31-1`). Fields the
 * format does not define are refused: a file with them was not written by this version.
 *
 * @example
 * ```ts
 * import { emptyState, parseState } from "./state.ts";
 * parseState(JSON.stringify(emptyState("/sys/fs/bpf/t", "skb-addr", "buckets", 1n)), "x.json");
 * ```
 */
export function parseState(text: string, path: string): DatapathState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not a tsn-proxy datapath state (not JSON: ${(e as Error).message})`);
  }
  const at = new Fields(path);
  const s = at.record(v, "", STATE_FIELDS);
  if (s.version !== 1) {
    throw new Error(`${path}: not a tsn-proxy datapath state (version ${String(s.version)})`);
  }
  at.string(s, "bpffs", "", 4096);
  at.string(s, "strategy", "", 64);
  if (!Object.hasOwn(STORES, s.store as string)) {
    at.fail("store", `not one of ${Object.keys(STORES).join(", ")}`);
  }
  at.decimal(s, "maxAgeNs", "");
  at.list(s, "trackers", "", (x, w) => {
    const t = at.record(x, w, ["program", "state", "reason"]);
    at.string(t, "program", w, 64);
    if (t.state !== "attached" && t.state !== "unavailable") {
      at.fail(`${w}.state`, "not attached or unavailable");
    }
    if (t.reason !== undefined) at.string(t, "reason", w, 4096);
  });
  at.list(s, "restorers", "", (x, w) => {
    const r = at.record(x, w, ["ifname", "ifindex", "mode"]);
    at.string(r, "ifname", w, 15);
    at.integer(r, "ifindex", w, 0x7fffffff);
    at.mode(r.mode, `${w}.mode`);
  });
  if (s.pendingRestorers !== undefined) {
    at.list(s, "pendingRestorers", "", (n, w) => {
      if (typeof n !== "string" || n.length > 15) at.fail(w, "not an interface name");
    });
  }
  at.list(s, "pods", "", (x, w) => {
    const p = at.record(x, w, POD_FIELDS);
    at.string(p, "id", w, 128);
    at.string(p, "netns", w, 4096);
    at.string(p, "ifname", w, 15);
    at.integer(p, "ifindex", w, 0x7fffffff);
    at.integer(p, "owner", w, 0xffffffff);
    at.integer(p, "maxPriority", w, 0xffffffff);
    if (p.defaultPriority !== undefined) at.integer(p, "defaultPriority", w, 0xffffffff);
    if (p.txtime !== undefined) {
      const t = at.record(p.txtime, `${w}.txtime`, ["allowed", "horizonNs"]);
      if (typeof t.allowed !== "boolean") at.fail(`${w}.txtime.allowed`, "not a boolean");
      at.decimal(t, "horizonNs", `${w}.txtime`);
    }
    at.mode(p.mode, `${w}.mode`);
  });
  return v as DatapathState;
}

const STATE_FIELDS = [
  "version",
  "bpffs",
  "strategy",
  "store",
  "maxAgeNs",
  "trackers",
  "restorers",
  "pendingRestorers",
  "pods",
] as const satisfies readonly (keyof DatapathState)[];

const POD_FIELDS = [
  "id",
  "netns",
  "ifname",
  "ifindex",
  "owner",
  "maxPriority",
  "defaultPriority",
  "txtime",
  "mode",
] as const satisfies readonly (keyof PodState)[];

type Obj = Record<string, unknown>;

/** Field checks of one file: each failure names the file, the field and why. */
class Fields {
  constructor(readonly path: string) {}

  fail(field: string, why: string): never {
    throw new Error(`${this.path}: ${field || "the file"}: ${why}`);
  }

  record(v: unknown, where: string, known: readonly string[]): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(where, "not an object");
    const extra = Object.keys(v).find((k) => !known.includes(k));
    if (extra !== undefined) {
      this.fail(where, `unknown field ${JSON.stringify(extra.slice(0, 64))}`);
    }
    return v as Obj;
  }

  #name(where: string, k: string): string {
    return where ? `${where}.${k}` : k;
  }

  string(o: Obj, k: string, where: string, max: number): void {
    const v = o[k];
    if (typeof v !== "string") this.fail(this.#name(where, k), `${kind(v)}, not a string`);
    if (v.length > max) this.fail(this.#name(where, k), `longer than ${max} characters`);
  }

  integer(o: Obj, k: string, where: string, max: number): void {
    const v = o[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      this.fail(this.#name(where, k), `${kind(v)}, not an integer 0..${max}`);
    }
  }

  /** A 64-bit count in ns, kept as a decimal string (JSON has no 64-bit integers). */
  decimal(o: Obj, k: string, where: string): void {
    const v = o[k];
    if (typeof v !== "string" || !/^[0-9]{1,20}$/.test(v) || BigInt(v) >= 1n << 64n) {
      this.fail(this.#name(where, k), `${kind(v)}, not a decimal string of a u64`);
    }
  }

  list(o: Obj, k: string, where: string, each: (v: unknown, where: string) => void): void {
    const v = o[k];
    if (!Array.isArray(v)) this.fail(this.#name(where, k), `${kind(v)}, not a list`);
    v.forEach((x, i) => each(x, `${this.#name(where, k)}[${i}]`));
  }

  mode(v: unknown, where: string): void {
    const m = this.record(v, where, ["kind", "handle", "priority"]);
    if (m.kind === "tcx") {
      this.record(m, where, ["kind"]);
    } else if (m.kind === "clsact") {
      this.integer(m, "handle", where, 0xffffffff);
      this.integer(m, "priority", where, 0xffff);
    } else {
      this.fail(`${where}.kind`, "not tcx or clsact");
    }
  }
}

function kind(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
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
