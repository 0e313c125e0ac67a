/**
 * @module
 * Kernel module selection for the guests: parses `modules.dep` and `modules.builtin` of an unpacked
 * kernel and resolves the wanted modules into a load order (dependencies first). A wanted module
 * that is neither a loadable module nor built in is an error that names it.
 *
 * @example
 * ```ts
 * import { parseModulesDep, resolveModules } from "./modules.ts";
 * const index = parseModulesDep("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n", "");
 * console.log(resolveModules(index, ["a"]).order); // ["kernel/b.ko", "kernel/a.ko"]
 * ```
 */
import type { KernelId } from "./kernels.ts";

/** Modules every guest loads (plus their dependencies), whatever the kernel. */
export const BASE_MODULES: readonly string[] = [
  // the 9p share at /lab
  "virtio_pci",
  "9pnet_virtio",
  "9p",
  // datapath under test
  "veth",
  "sch_taprio",
  "sch_etf",
  "sch_mqprio",
  "sch_prio",
  "sch_ingress",
  "cls_bpf",
  // test-side steering (tc u32 + skbedit) in the etf scenario
  "cls_u32",
  "act_skbedit",
  "8021q",
  "vxlan",
  "bridge",
  // node NAT (nftables masquerade)
  "nf_conntrack",
  "nf_nat",
  "nf_tables",
  "nft_chain_nat",
  "nft_masq",
];

/** Extra modules per kernel (docs/kernel-facts.md: fscache for 9p on 6.1, mqprio's library on 6.12). */
export const KERNEL_MODULES: Readonly<Record<KernelId, readonly string[]>> = {
  "6.1": ["fscache", "netfs"],
  "6.12": ["sch_mqprio_lib", "netfs"],
};

/** A loadable module from modules.dep. */
export interface ModuleEntry {
  /** Path relative to lib/modules/<release>/ (e.g. kernel/net/sched/sch_taprio.ko.xz). */
  readonly path: string;
  /** Paths of the modules it needs, as modules.dep lists them. */
  readonly deps: readonly string[];
}

/** What a kernel offers. */
export interface ModuleIndex {
  /** Loadable modules by normalised name. */
  readonly modules: ReadonlyMap<string, ModuleEntry>;
  /** Built-in modules by normalised name. */
  readonly builtin: ReadonlySet<string>;
  /** `softdep NAME pre: ...` of modules.softdep: names or aliases to load first, if available. */
  readonly softPre: ReadonlyMap<string, readonly string[]>;
  /** modules.alias: alias -> module names (only plain aliases, no wildcards). */
  readonly aliases: ReadonlyMap<string, readonly string[]>;
}

/** The module name of a path: basename without .ko and compression suffix, `-` written as `_`. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return normalizeName(base.replace(/\.ko(\.(xz|gz|zst))?$/, ""));
}

/** Module names treat `-` and `_` alike; the kernel uses `_`. */
export function normalizeName(name: string): string {
  return name.replaceAll("-", "_");
}

/**
 * Parses modules.dep (`path: dep dep ...` per line), modules.builtin (one path a line) and,
 * optionally, modules.softdep and modules.alias (their "pre:" soft dependencies are loaded first:
 * libcrc32c, for one, fails with ENOENT unless a crc32c implementation is already there).
 */
export function parseModulesDep(
  depText: string,
  builtinText: string,
  softdepText = "",
  aliasText = "",
): ModuleIndex {
  const modules = new Map<string, ModuleEntry>();
  for (const raw of depText.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`bad modules.dep line: ${line}`);
    const path = line.slice(0, colon);
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter((d) => d.length > 0);
    modules.set(moduleName(path), { path, deps });
  }
  const builtin = new Set(
    builtinText.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).map(moduleName),
  );
  const softPre = new Map<string, string[]>();
  for (const raw of softdepText.split("\n")) {
    const words = raw.trim().split(/\s+/);
    if (words[0] !== "softdep" || !words[1]) continue;
    const pre: string[] = [];
    let inPre = false;
    for (const w of words.slice(2)) {
      if (w === "pre:") inPre = true;
      else if (w === "post:") inPre = false;
      else if (inPre) pre.push(w);
    }
    const name = normalizeName(words[1]);
    softPre.set(name, [...(softPre.get(name) ?? []), ...pre]);
  }
  const aliases = new Map<string, string[]>();
  for (const raw of aliasText.split("\n")) {
    const words = raw.trim().split(/\s+/);
    if (words[0] !== "alias" || !words[1] || !words[2] || /[*?\[]/.test(words[1])) continue;
    aliases.set(words[1], [...(aliases.get(words[1]) ?? []), normalizeName(words[2])]);
  }
  return { modules, builtin, softPre, aliases };
}

/**
 * The module that provides a soft dependency (a module name or an alias), or undefined when it is
 * built in or not available (soft dependencies are optional). Among several modules behind one
 * alias the generic C implementation wins: it works on any CPU QEMU emulates.
 */
export function resolveSoft(index: ModuleIndex, name: string): string | undefined {
  const n = normalizeName(name);
  if (index.builtin.has(n)) return undefined;
  if (index.modules.has(n)) return n;
  const candidates = index.aliases.get(name) ?? [];
  if (candidates.some((c) => index.builtin.has(c))) return undefined;
  const loadable = candidates.filter((c) => index.modules.has(c)).sort();
  return loadable.find((c) => c.endsWith("_generic")) ?? loadable[0];
}

/** How a wanted module is provided by a kernel. */
export type ModuleStatus = "module" | "builtin" | "missing";

/** A resolved module set. */
export interface ResolvedModules {
  /** Paths to load, each after all of its dependencies. */
  readonly order: readonly string[];
  /** Every wanted module and how the kernel provides it. */
  readonly status: Readonly<Record<string, ModuleStatus>>;
}

/** A wanted module the kernel has neither as a module nor built in. */
export class MissingModuleError extends Error {
  constructor(readonly missing: readonly string[], readonly kernel: string) {
    super(`kernel ${kernel} lacks module(s): ${missing.join(", ")}`);
    this.name = "MissingModuleError";
  }
}

/** Status of each wanted module, without failing on missing ones. */
export function moduleStatus(
  index: ModuleIndex,
  wanted: readonly string[],
): Record<string, ModuleStatus> {
  const status: Record<string, ModuleStatus> = {};
  for (const w of wanted) {
    const name = normalizeName(w);
    status[name] = index.modules.has(name)
      ? "module"
      : index.builtin.has(name)
      ? "builtin"
      : "missing";
  }
  return status;
}

/**
 * Resolves wanted module names into a load order: dependencies first, each path once, in a stable
 * order (wanted order, then depth first). Built-in modules need no loading. Throws
 * {@link MissingModuleError} naming every missing module.
 */
export function resolveModules(
  index: ModuleIndex,
  wanted: readonly string[],
  kernel = "?",
): ResolvedModules {
  const status = moduleStatus(index, wanted);
  const missing = Object.entries(status).filter(([, s]) => s === "missing").map(([n]) => n);
  if (missing.length) throw new MissingModuleError(missing, kernel);

  const byPath = new Map<string, ModuleEntry>();
  for (const entry of index.modules.values()) byPath.set(entry.path, entry);
  const order: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (path: string, chain: readonly string[]) => {
    if (done.has(path)) return;
    if (visiting.has(path)) {
      throw new Error(`module dependency cycle: ${[...chain, path].join(" -> ")}`);
    }
    const entry = byPath.get(path);
    if (!entry) {
      throw new Error(`modules.dep names ${path} (needed by ${chain.at(-1)}) but not its entry`);
    }
    visiting.add(path);
    for (const soft of index.softPre.get(moduleName(path)) ?? []) {
      const provider = resolveSoft(index, soft);
      const softEntry = provider === undefined ? undefined : index.modules.get(provider);
      if (softEntry && !visiting.has(softEntry.path)) visit(softEntry.path, [...chain, path]);
    }
    for (const dep of entry.deps) visit(dep, [...chain, path]);
    visiting.delete(path);
    done.add(path);
    order.push(path);
  };
  for (const [name, s] of Object.entries(status)) {
    if (s !== "module") continue;
    const entry = index.modules.get(name);
    if (entry) visit(entry.path, []);
  }
  return { order, status };
}
