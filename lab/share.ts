/**
 * @module
 * The host folder a guest mounts read-only over virtio-9p at `/lab` (tag `lab`):
 *
 * ```text
 * bin/deno                  the pinned Deno binary (hard link when possible)
 * lib/                      ldd closure of deno and of libbpf.so.1 (+ libbpf.so.1 and the loader)
 * obj/<name>.bpf.o          the lab's own BPF objects (see LAB_BPF_OBJECTS)
 * extra/<name>              files the caller hands the guest (ShareOptions.files), e.g. a plan
 * repo/<path>               copies of the repository paths the scenarios need
 * ```
 *
 * The guest runs Deno as `/lab/bin/deno` (the initramfs has the loader and the same libraries) or,
 * equivalently, `/lab/lib/ld-linux-x86-64.so.2 --library-path /lab/lib /lab/bin/deno`. Nothing is
 * fetched in the guest: scenarios must not import `jsr:` or remote modules, and `npm:` packages
 * only if the repository's node_modules is shared. Each run gets its own folder under
 * `.cache/lab/shares/`, removed by {@link Share.cleanup}.
 *
 * @example
 * ```ts ignore
 * import { prepareShare } from "./share.ts";
 * const share = await prepareShare({ repoPaths: ["bpf", "sim"] });
 * try { console.log(share.dir); } finally { await share.cleanup(); }
 * ```
 */
import { objectPath } from "@tsn-proxy/bpf";
import { lddClosure } from "./ldd.ts";
import { exists } from "@tsn-proxy/sim/netns";
import { repoRoot } from "@tsn-proxy/bpf";
import { cacheDir } from "./util.ts";

/** Where the share is mounted in the guest. */
export const GUEST_SHARE = "/lab";
/** Where the repository copy appears in the guest. */
const GUEST_REPO = `${GUEST_SHARE}/repo`;
/** The guest-side runner, as seen in the guest. */
export const GUEST_RUNNER = `${GUEST_REPO}/lab/guest/run.sh`;

/** libbpf as Deno scenarios dlopen it. */
const LIBBPF = "/usr/lib/x86_64-linux-gnu/libbpf.so.1";

/** Repository paths every share carries (the guest runner and scenarios live in lab/). */
export const DEFAULT_REPO_PATHS: readonly string[] = ["deno.json", "lab"];

/**
 * The lab's own BPF objects, by the name the share gives them (obj/<name>.bpf.o): committed under
 * lab/bpf/obj/ and built with every other object of bpf/objects.ts (`deno task check:gen`).
 */
const LAB_BPF_OBJECTS: ReadonlyMap<string, string> = new Map(
  ["fexit_skb_clone", "vlan_pcp", "skb_path", "netkit_cni"].map((
    name,
  ) => [name, objectPath(`lab/bpf/obj/${name}.bpf.o`)]),
);

/** Options of {@link prepareShare}. */
export interface ShareOptions {
  /** Repository paths (files or folders, relative to the root) to copy in besides the defaults. */
  readonly repoPaths?: readonly string[];
  /**
   * Host files to hand the guest as `/lab/extra/<name>` (name -> host path): what a scenario is
   * told to do, or objects compiled on the host with other flags than the lab's.
   */
  readonly files?: Readonly<Record<string, string>>;
}

/** Where {@link ShareOptions.files} appear in the guest. */
export const GUEST_EXTRA = `${GUEST_SHARE}/extra`;

const EXTRA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A prepared share folder. */
export interface Share {
  readonly dir: string;
  /** Removes the folder. */
  cleanup(): Promise<void>;
}

const SKIP_NAMES = new Set([".git", ".cache"]);

/** The Deno binary to ship: the repository's pinned one, else the running one. */
export async function denoBinary(): Promise<string> {
  const override = Deno.env.get("TSNLAB_DENO");
  const candidates = [
    ...(override ? [override] : []),
    `${repoRoot()}/tools/deno/node_modules/@deno/linux-x64-glibc/deno`,
    `${repoRoot()}/tools/deno/node_modules/deno/deno`,
    Deno.execPath(),
  ];
  for (const c of candidates) {
    const real = await Deno.realPath(c).catch(() => null);
    if (real && await isElf(real)) return real;
  }
  throw new Error(`no Deno ELF binary found (looked at ${candidates.join(", ")})`);
}

async function isElf(path: string): Promise<boolean> {
  const f = await Deno.open(path).catch(() => null);
  if (!f) return false;
  try {
    const head = new Uint8Array(4);
    const n = await f.read(head);
    return n === 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
  } finally {
    f.close();
  }
}

/** Hard-links `src` to `dst`, or copies when they are on different filesystems. */
async function linkOrCopy(src: string, dst: string): Promise<void> {
  try {
    await Deno.link(src, dst);
  } catch {
    await Deno.copyFile(src, dst);
  }
}

/** Copies a file or a folder tree (symlinks kept as symlinks, .git and .cache skipped). */
async function copyTree(src: string, dst: string): Promise<number> {
  const st = await Deno.lstat(src);
  if (st.isSymlink) {
    await Deno.symlink(await Deno.readLink(src), dst);
    return 1;
  }
  if (st.isFile) {
    await Deno.copyFile(src, dst);
    // Keep the modification time: a copy that looks newer or older than it is misleads whoever
    // compares them (make-like steps, a reader checking what the guest ran).
    if (st.mtime) await Deno.utime(dst, st.atime ?? st.mtime, st.mtime);
    return 1;
  }
  if (!st.isDirectory) return 0;
  await Deno.mkdir(dst, { recursive: true });
  let n = 0;
  for await (const e of Deno.readDir(src)) {
    if (SKIP_NAMES.has(e.name)) continue;
    n += await copyTree(`${src}/${e.name}`, `${dst}/${e.name}`);
  }
  return n;
}

/** Checks a repository-relative path: no absolute paths, no `..`. */
export function checkRepoPath(p: string): string {
  const clean = p.replace(/^\.\//, "").replace(/\/+$/, "");
  if (!clean || clean.startsWith("/") || clean.split("/").includes("..")) {
    throw new Error(`repo path must be relative to the repository root: ${JSON.stringify(p)}`);
  }
  return clean;
}

/** The workspace members named by a deno.json text. */
export function workspaceMembers(denoJson: string): string[] {
  const parsed: unknown = JSON.parse(denoJson);
  if (typeof parsed !== "object" || parsed === null) return [];
  const ws = (parsed as { workspace?: unknown }).workspace;
  const list = Array.isArray(ws) ? ws : (ws as { members?: unknown } | undefined)?.members;
  return Array.isArray(list)
    ? list.filter((m): m is string => typeof m === "string").map(checkRepoPath)
    : [];
}

/** Members of which only a subfolder is shared (`agent/clock` of `agent`). */
export function partlySharedMembers(denoJson: string, paths: readonly string[]): string[] {
  return workspaceMembers(denoJson).filter((m) =>
    !paths.some((p) => m === p || m.startsWith(`${p}/`)) &&
    paths.some((p) => p.startsWith(`${m}/`))
  );
}

/**
 * A partly shared member's deno.json without its `imports`: its exports resolve
 * (`@tsn-proxy/agent/clock`) while the npm packages of the parts not shared are never fetched.
 */
export function partMemberConfig(denoJson: string): string {
  const parsed = JSON.parse(denoJson) as Record<string, unknown>;
  delete parsed["imports"];
  return JSON.stringify(parsed, null, 2) + "\n";
}

/**
 * The root deno.json as the guest sees it: the workspace lists only the members whose folders are
 * shared (`paths`), wholly or partly, so Deno neither misses a member's config nor fetches the npm
 * packages of a member that is not there.
 */
export function sharedRootConfig(denoJson: string, paths: readonly string[]): string {
  const parsed = JSON.parse(denoJson) as Record<string, unknown>;
  const partly = new Set(partlySharedMembers(denoJson, paths));
  const shared = (m: string) =>
    partly.has(m) || paths.some((p) => m === p || m.startsWith(`${p}/`));
  const members = workspaceMembers(denoJson).filter(shared).map((m) => `./${m}`);
  const ws = parsed["workspace"];
  if (Array.isArray(ws)) parsed["workspace"] = members;
  else if (typeof ws === "object" && ws !== null) parsed["workspace"] = { ...ws, members };
  return JSON.stringify(parsed, null, 2) + "\n";
}

/** Removes share folders left by runs that died (older than an hour). */
async function pruneStale(base: string): Promise<void> {
  for await (const e of Deno.readDir(base)) {
    const st = await Deno.stat(`${base}/${e.name}`).catch(() => null);
    if (st?.mtime && Date.now() - st.mtime.getTime() > 3600_000) {
      await Deno.remove(`${base}/${e.name}`, { recursive: true }).catch(() => {});
    }
  }
}

/** Prepares a fresh share folder for one guest run. */
export async function prepareShare(opts: ShareOptions = {}): Promise<Share> {
  const root = repoRoot();
  const base = `${cacheDir()}/shares`;
  await Deno.mkdir(base, { recursive: true });
  await pruneStale(base);
  const dir = `${base}/${new Date().toISOString().replace(/[:.]/g, "-")}-${Deno.pid}-${
    crypto.randomUUID().slice(0, 6)
  }`;
  const cleanup = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    await Deno.mkdir(`${dir}/bin`, { recursive: true });
    await Deno.mkdir(`${dir}/lib`);
    await Deno.mkdir(`${dir}/obj`);
    await Deno.mkdir(`${dir}/repo`);
    await Deno.mkdir(`${dir}/extra`);
    for (const [name, path] of Object.entries(opts.files ?? {})) {
      if (!EXTRA_NAME.test(name)) throw new Error(`bad extra file name ${JSON.stringify(name)}`);
      await Deno.copyFile(path, `${dir}/extra/${name}`);
    }

    const deno = await denoBinary();
    await linkOrCopy(deno, `${dir}/bin/deno`);
    const closure = await lddClosure([deno, LIBBPF]);
    if (!closure.loader) throw new Error("ldd reported no dynamic loader for deno");
    closure.libs.set("libbpf.so.1", LIBBPF);
    closure.libs.set("ld-linux-x86-64.so.2", closure.loader);
    for (const [soname, path] of closure.libs) {
      await Deno.copyFile(await Deno.realPath(path), `${dir}/lib/${soname}`);
    }

    for (const [name, path] of LAB_BPF_OBJECTS) {
      await Deno.copyFile(path, `${dir}/obj/${name}.bpf.o`);
    }

    const paths = new Set([...DEFAULT_REPO_PATHS, ...(opts.repoPaths ?? [])].map(checkRepoPath));
    // Folders first, so that a member's deno.json inside a copied folder is not copied twice.
    const sorted = [...paths].sort((a, b) => a.length - b.length);
    for (const p of sorted) {
      if (sorted.some((q) => q !== p && p.startsWith(`${q}/`))) continue;
      if (!await exists(`${root}/${p}`)) throw new Error(`repo path ${p} does not exist`);
      const parent = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "";
      if (parent) await Deno.mkdir(`${dir}/repo/${parent}`, { recursive: true });
      await copyTree(`${root}/${p}`, `${dir}/repo/${p}`);
    }
    // The guest has no network: a root config naming members that are not shared (whose npm
    // imports Deno would try to fetch at start) is cut down to the members that are.
    if (paths.has("deno.json")) {
      const text = await Deno.readTextFile(`${root}/deno.json`);
      await Deno.writeTextFile(`${dir}/repo/deno.json`, sharedRootConfig(text, [...paths]));
      for (const m of partlySharedMembers(text, [...paths])) {
        const own = await Deno.readTextFile(`${root}/${m}/deno.json`);
        await Deno.writeTextFile(`${dir}/repo/${m}/deno.json`, partMemberConfig(own));
      }
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { dir, cleanup };
}
