/**
 * Pure functions over CNI config files: which file of a conf dir is the primary network (the one
 * kubelet, containerd and CRI-O use: lexically first valid `.conf`/`.conflist`/`.json`, as
 * libcni's `ConfFiles` + sort), wrapping a lone `.conf` into a `.conflist` (as libcni's
 * `ConfListFromConf`), and placing tsn-proxy's entry last in the plugin chain, exactly once.
 *
 * @example
 * ```ts
 * import { pluginEntry, withEntry } from "./conflist.ts";
 * const list = { cniVersion: "0.3.1", name: "cbr0", plugins: [{ type: "flannel" }] };
 * const entry = pluginEntry({ socketPath: "/var/run/tsn-proxy/cni.sock", optIn: "annotation" });
 * console.log(withEntry(list, entry).plugins.map((p) => p.type)); // ["flannel", "tsn-proxy"]
 * ```
 */
import { ANNOTATIONS_CAPABILITY, PLUGIN_TYPE } from "@tsn-proxy/cni";

/** The extensions libcni reads. */
export const CONF_EXTENSIONS: readonly string[] = [".conf", ".conflist", ".json"];

type Obj = Record<string, unknown>;

/** A conflist document. */
export interface ConfList extends Obj {
  name: string;
  plugins: Obj[];
}

/** A config file that libcni would load. */
export interface ValidConf {
  readonly name: string;
  readonly kind: "conflist" | "conf";
  /** The file as a conflist (a `.conf` wrapped). */
  readonly list: ConfList;
  /** The config version (chaining needs >= 0.3.0). */
  readonly cniVersion: string;
}

/** A file libcni would skip, and why. */
export interface InvalidConf {
  readonly name: string;
  readonly error: string;
}

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True for a name libcni considers (by extension). */
export function isConfName(name: string): boolean {
  return CONF_EXTENSIONS.some((ext) => name.endsWith(ext)) && !name.startsWith(".");
}

/** Wraps a single-plugin config into a list, as libcni's ConfListFromConf does. */
export function wrapConf(conf: Obj): ConfList {
  return {
    cniVersion: conf.cniVersion,
    name: String(conf.name ?? ""),
    plugins: [conf],
  } as ConfList;
}

/** Parses one file the way libcni loads it; an InvalidConf says why it would be skipped. */
export function parseConfFile(name: string, text: string): ValidConf | InvalidConf {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { name, error: `not JSON: ${(e as Error).message}` };
  }
  if (!isObject(doc)) return { name, error: "not a JSON object" };
  const version = typeof doc.cniVersion === "string" ? doc.cniVersion : "";
  if (name.endsWith(".conflist")) {
    if (typeof doc.name !== "string" || doc.name === "") return { name, error: "no name" };
    const plugins = doc.plugins;
    if (!Array.isArray(plugins) || plugins.length === 0) return { name, error: "no plugins" };
    if (!plugins.every((p) => isObject(p) && typeof p.type === "string" && p.type !== "")) {
      return { name, error: "a plugin without a type" };
    }
    return { name, kind: "conflist", list: doc as ConfList, cniVersion: version };
  }
  if (typeof doc.type !== "string" || doc.type === "") return { name, error: "missing 'type'" };
  return { name, kind: "conf", list: wrapConf(doc), cniVersion: version };
}

/** The primary config among files (name -> text): the lexically first valid one. */
export function pickPrimary(files: ReadonlyMap<string, string>): {
  primary?: ValidConf;
  valid: ValidConf[];
  skipped: InvalidConf[];
} {
  const valid: ValidConf[] = [];
  const skipped: InvalidConf[] = [];
  for (const name of [...files.keys()].filter(isConfName).sort()) {
    const parsed = parseConfFile(name, files.get(name) ?? "");
    if ("error" in parsed) skipped.push(parsed);
    else valid.push(parsed);
  }
  return { ...(valid[0] ? { primary: valid[0] } : {}), valid, skipped };
}

/** Options of the plugin entry. */
export interface EntryOptions {
  readonly socketPath: string;
  readonly optIn: "annotation" | "all";
}

/** tsn-proxy's entry in a plugin chain. */
export function pluginEntry(o: EntryOptions): Obj {
  return {
    type: PLUGIN_TYPE,
    socketPath: o.socketPath,
    optIn: o.optIn,
    capabilities: { [ANNOTATIONS_CAPABILITY]: true },
  };
}

/** The number of tsn-proxy entries in a list. */
export function entryCount(list: ConfList): number {
  return list.plugins.filter((p) => p.type === PLUGIN_TYPE).length;
}

/** True when the list ends with exactly this entry and holds no other tsn-proxy entry. */
export function hasEntryInPlace(list: ConfList, entry: Obj): boolean {
  const last = list.plugins[list.plugins.length - 1];
  return entryCount(list) === 1 && last !== undefined && deepEqual(last, entry);
}

/** The list without tsn-proxy entries. */
export function withoutEntry(list: ConfList): ConfList {
  return { ...list, plugins: list.plugins.filter((p) => p.type !== PLUGIN_TYPE) };
}

/** The list with every old tsn-proxy entry removed and entry appended. */
export function withEntry(list: ConfList, entry: Obj): ConfList {
  return { ...list, plugins: [...withoutEntry(list).plugins, entry] };
}

/** The file a primary config is written to: itself, or `<base>.conflist` for a wrapped `.conf`. */
export function targetName(conf: ValidConf): string {
  return conf.kind === "conflist" ? conf.name : conf.name.replace(/\.(conf|json)$/, ".conflist");
}

/** The bytes written for a list. */
export function renderList(list: ConfList): string {
  return JSON.stringify(list, null, 2) + "\n";
}

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((x, i) => deepEqual(x, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}
