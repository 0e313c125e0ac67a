/**
 * @module
 * Builds the gzip initramfs of one kernel: busybox-static with its applet links, iproute2's `ip`
 * and `tc` and `bpftool` (host binaries with their `ldd` closure and the dynamic loader), the
 * modules the lab needs with their dependencies (from modules.dep; `.ko.xz` decompressed on the
 * host so busybox `insmod` can load them), and `/init` (lab/guest/init.sh). The result is cached
 * under `.cache/lab/initramfs/` by a SHA-256 of every input, so a rebuild happens only when a
 * binary, a module, the init script or this layout changes.
 *
 * @example
 * ```ts ignore
 * import { ensureKernel } from "./kernels.ts";
 * import { buildInitramfs } from "./initramfs.ts";
 * const img = await buildInitramfs(await ensureKernel("6.1"));
 * console.log(img.path, img.modules.status);
 * ```
 */
import { type CpioEntry, cpioNewc, gzip } from "./cpio.ts";
import type { UnpackedKernel } from "./kernels.ts";
import { lddClosure } from "./ldd.ts";
import {
  BASE_MODULES,
  KERNEL_MODULES,
  normalizeName,
  parseModulesDep,
  type ResolvedModules,
  resolveModules,
} from "./modules.ts";
import { denoBinary } from "./share.ts";
import { cacheDir, run, sha256Hex, withLock, writeFileAtomic } from "./util.ts";

/** Bump when the layout below changes in a way the input hash cannot see. */
const LAYOUT_VERSION = "tsnlab-initramfs-4";

/** Where the init script lives in the repository. */
export const INIT_SCRIPT = new URL("./guest/init.sh", import.meta.url);

/** Busybox applets that must not be linked: iproute2's real binaries take these names. */
const SHADOWED_APPLETS: ReadonlySet<string> = new Set(["ip", "tc"]);

/** One planned member; files come from a host path (optionally xz-compressed) or inline bytes. */
export type PlannedEntry =
  | {
    readonly type: "host";
    readonly path: string;
    readonly src: string;
    readonly mode: number;
    readonly xz?: boolean;
  }
  | {
    readonly type: "inline";
    readonly path: string;
    readonly data: Uint8Array;
    readonly mode: number;
  }
  | Exclude<CpioEntry, { type: "file" }>;

/** Host programs copied into the initramfs, by their path inside it. */
export interface HostTools {
  readonly busybox: string;
  readonly ip: string;
  readonly tc: string;
  readonly bpftool: string;
  /** More host programs, each at its own path inside the initramfs (the e2e toolkit's). */
  readonly extras?: readonly HostExtra[];
}

/** A host program placed at `path` (no leading slash) inside the initramfs. */
export interface HostExtra {
  readonly path: string;
  readonly src: string;
}

/**
 * The programs the e2e toolkit (sim/netns.ts `BIN`) runs, at the same absolute paths as on the
 * host, so the toolkit runs unchanged in a guest. Each is the host's binary (with its library
 * closure), found at one of the candidates. ip, tc and bpftool are links to /bin's copies.
 */
export const E2E_TOOLS: readonly {
  readonly path: string;
  readonly candidates: readonly string[];
}[] = [
  { path: "usr/bin/nsenter", candidates: ["/usr/bin/nsenter", "/bin/nsenter"] },
  { path: "usr/bin/socat", candidates: ["/usr/bin/socat", "/bin/socat"] },
  { path: "usr/bin/tcpdump", candidates: ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"] },
  { path: "usr/bin/ss", candidates: ["/usr/bin/ss", "/bin/ss", "/usr/sbin/ss", "/sbin/ss"] },
  { path: "usr/sbin/nft", candidates: ["/usr/sbin/nft", "/sbin/nft"] },
  { path: "usr/sbin/sysctl", candidates: ["/usr/sbin/sysctl", "/sbin/sysctl"] },
];

/** Links at the e2e toolkit's paths to the initramfs' own iproute2 and bpftool. */
export const E2E_LINKS: readonly { readonly path: string; readonly target: string }[] = [
  { path: "usr/sbin/ip", target: "../../bin/ip" },
  { path: "usr/sbin/tc", target: "../../bin/tc" },
  { path: "usr/sbin/bpftool", target: "../../bin/bpftool" },
];

/** Options of {@link buildInitramfs}. */
export interface InitramfsOptions {
  /** Modules to add to {@link BASE_MODULES} and the kernel's own list. */
  readonly extraModules?: readonly string[];
  /**
   * Host binaries whose library closure the initramfs also carries, so that they run from the
   * share with the initramfs' loader (default: the Deno binary the share ships).
   */
  readonly closureOf?: readonly string[];
}

/** A built (or cached) initramfs. */
export interface Initramfs {
  readonly path: string;
  /** Content hash of its inputs (also in the file name). */
  readonly hash: string;
  readonly modules: ResolvedModules;
  readonly bytes: number;
  /** True when it came from the cache. */
  readonly cached: boolean;
}

/** The first existing path of each candidate list (iproute2 and bpftool moved between /sbin and /usr/sbin). */
async function findHostTools(): Promise<HostTools> {
  const first = async (name: string, candidates: readonly string[]) => {
    for (const c of candidates) {
      const st = await Deno.stat(c).catch(() => null);
      if (st?.isFile) return await Deno.realPath(c);
    }
    throw new Error(
      `host program ${name} not found (looked at ${candidates.join(", ")}); run ./dev setup`,
    );
  };
  const extras: HostExtra[] = [];
  for (const t of E2E_TOOLS) {
    const name = t.path.slice(t.path.lastIndexOf("/") + 1);
    extras.push({ path: t.path, src: await first(`${name} (e2e toolkit)`, t.candidates) });
  }
  return {
    busybox: await first("busybox (busybox-static)", ["/bin/busybox", "/usr/bin/busybox"]),
    ip: await first("ip (iproute2)", ["/usr/bin/ip", "/bin/ip", "/usr/sbin/ip", "/sbin/ip"]),
    tc: await first("tc (iproute2)", ["/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"]),
    bpftool: await first("bpftool", ["/usr/sbin/bpftool", "/sbin/bpftool", "/usr/bin/bpftool"]),
    extras,
  };
}

/** Checks that busybox is the static build: /init and its applets must not need a library. */
async function checkStatic(path: string): Promise<void> {
  const out = await new Deno.Command("ldd", { args: [path], stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!/not a dynamic executable|statically linked/.test(text)) {
    throw new Error(`${path} is not static busybox: install busybox-static`);
  }
}

/** Applet paths from `busybox --list-full` (e.g. "bin/sh"), minus the shadowed ones. */
export function appletLinks(listFull: string): string[] {
  return listFull.split("\n").map((l) => l.trim()).filter((l) =>
    l.length > 0 && !l.endsWith("/busybox")
  )
    .filter((l) => !SHADOWED_APPLETS.has(l.slice(l.lastIndexOf("/") + 1)));
}

/** The busybox symlink target for an applet path, relative to the applet's folder. */
export function busyboxTarget(appletPath: string): string {
  const depth = appletPath.split("/").length - 1;
  return `${"../".repeat(depth)}bin/busybox`;
}

/**
 * Plans the members (without reading any file): the layout of the initramfs for a kernel, its
 * resolved modules and the host tools with their library closure.
 */
export function planInitramfs(args: {
  readonly release: string;
  readonly modulesDir: string;
  readonly modules: ResolvedModules;
  readonly tools: HostTools;
  readonly applets: readonly string[];
  readonly libs: ReadonlyMap<string, string>;
  readonly loader: string;
  readonly init: Uint8Array;
}): PlannedEntry[] {
  const enc = new TextEncoder();
  const entries: PlannedEntry[] = [];
  const files = new Set<string>();
  const add = (e: PlannedEntry) => {
    if (files.has(e.path)) return;
    files.add(e.path);
    entries.push(e);
  };
  add({ type: "host", path: "bin/busybox", src: args.tools.busybox, mode: 0o755 });
  add({ type: "host", path: "bin/ip", src: args.tools.ip, mode: 0o755 });
  add({ type: "host", path: "bin/tc", src: args.tools.tc, mode: 0o755 });
  add({ type: "host", path: "bin/bpftool", src: args.tools.bpftool, mode: 0o755 });
  // Before the applets: a real program (util-linux nsenter) wins over busybox's applet.
  for (const e of args.tools.extras ?? []) {
    add({ type: "host", path: e.path, src: e.src, mode: 0o755 });
  }
  for (const l of E2E_LINKS) add({ type: "symlink", path: l.path, target: l.target });
  for (const applet of args.applets) {
    add({ type: "symlink", path: applet, target: busyboxTarget(applet) });
  }
  add({ type: "host", path: "lib64/ld-linux-x86-64.so.2", src: args.loader, mode: 0o755 });
  for (const [soname, src] of [...args.libs].sort(([a], [b]) => a.localeCompare(b))) {
    add({ type: "host", path: `lib/x86_64-linux-gnu/${soname}`, src, mode: 0o644 });
  }
  const order: string[] = [];
  for (const rel of args.modules.order) {
    const plain = rel.replace(/\.xz$/, "");
    const dest = `${args.release}/${plain}`;
    order.push(dest);
    add({
      type: "host",
      path: `lib/modules/${dest}`,
      src: `${args.modulesDir}/${rel}`,
      mode: 0o644,
      xz: rel.endsWith(".xz"),
    });
  }
  if (args.modules.order.some((p) => /\.(zst|gz)$/.test(p))) {
    throw new Error("only uncompressed and .xz modules are supported");
  }
  add({
    type: "inline",
    path: "etc/lab/modules",
    data: enc.encode(order.join("\n") + "\n"),
    mode: 0o644,
  });
  add({
    type: "inline",
    path: "etc/lab/modules.json",
    data: enc.encode(JSON.stringify(args.modules.status) + "\n"),
    mode: 0o644,
  });
  add({
    type: "inline",
    path: "etc/passwd",
    // tcpdump drops its privileges to the user "tcpdump" and exits when there is none.
    data: enc.encode(
      "root:x:0:0:root:/root:/bin/sh\ntcpdump:x:101:101::/nonexistent:/bin/false\n",
    ),
    mode: 0o644,
  });
  add({
    type: "inline",
    path: "etc/group",
    data: enc.encode("root:x:0:\ntcpdump:x:101:\n"),
    mode: 0o644,
  });
  add({ type: "inline", path: "init", data: args.init, mode: 0o755 });
  add({ type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 });
  add({ type: "char", path: "dev/null", mode: 0o666, major: 1, minor: 3 });
  add({ type: "symlink", path: "var/run", target: "../run" });
  for (
    const d of [
      "proc",
      "sys",
      "dev",
      "tmp",
      "run",
      "lab",
      "root",
      "mnt",
      "usr/bin",
      "usr/sbin",
      "sbin",
    ]
  ) {
    add({ type: "dir", path: d, mode: d === "tmp" ? 0o1777 : 0o755 });
  }
  return withParents(entries);
}

/** Adds every missing parent folder and sorts so that parents come first. */
export function withParents(entries: readonly PlannedEntry[]): PlannedEntry[] {
  const byPath = new Map<string, PlannedEntry>();
  for (const e of entries) byPath.set(e.path, e);
  for (const e of entries) {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!byPath.has(dir)) byPath.set(dir, { type: "dir", path: dir, mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** SHA-256 over the layout and the bytes of every host file. */
export async function hashPlan(plan: readonly PlannedEntry[], salt: string): Promise<string> {
  const parts: string[] = [LAYOUT_VERSION, salt];
  for (const e of plan) {
    switch (e.type) {
      case "host":
        parts.push(
          `H ${e.path} ${e.mode} ${e.xz ? "xz" : ""} ${await sha256Hex(
            await Deno.readFile(e.src),
          )}`,
        );
        break;
      case "inline":
        parts.push(`I ${e.path} ${e.mode} ${await sha256Hex(e.data)}`);
        break;
      case "symlink":
        parts.push(`L ${e.path} ${e.target}`);
        break;
      case "dir":
        parts.push(`D ${e.path} ${e.mode}`);
        break;
      case "char":
        parts.push(`C ${e.path} ${e.mode} ${e.major}:${e.minor}`);
        break;
    }
  }
  return await sha256Hex(parts.join("\n"));
}

async function readHost(e: { src: string; xz?: boolean }): Promise<Uint8Array> {
  if (!e.xz) return await Deno.readFile(e.src);
  const out = await new Deno.Command("xz", {
    args: ["-dc", e.src],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`xz -dc ${e.src}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/** Reads the planned host files and writes the cpio archive. */
export async function materialize(plan: readonly PlannedEntry[]): Promise<Uint8Array> {
  const entries: CpioEntry[] = [];
  for (const e of plan) {
    if (e.type === "host") {
      entries.push({ type: "file", path: e.path, mode: e.mode, data: await readHost(e) });
    } else if (e.type === "inline") {
      entries.push({ type: "file", path: e.path, mode: e.mode, data: e.data });
    } else entries.push(e);
  }
  return cpioNewc(entries);
}

/** Resolves the kernel's modules for the lab (base list + the kernel's own + extras). */
async function labModules(
  kernel: UnpackedKernel,
  extra: readonly string[] = [],
): Promise<ResolvedModules> {
  const index = parseModulesDep(
    await Deno.readTextFile(`${kernel.modulesDir}/modules.dep`),
    await Deno.readTextFile(`${kernel.modulesDir}/modules.builtin`).catch(() => ""),
    await Deno.readTextFile(`${kernel.modulesDir}/modules.softdep`).catch(() => ""),
    await Deno.readTextFile(`${kernel.modulesDir}/modules.alias`).catch(() => ""),
  );
  const wanted = [
    ...new Set([...BASE_MODULES, ...KERNEL_MODULES[kernel.pin.id], ...extra].map(normalizeName)),
  ];
  return resolveModules(index, wanted, `${kernel.pin.package} ${kernel.pin.version}`);
}

/** Builds (or finds in the cache) the initramfs of a kernel. */
export async function buildInitramfs(
  kernel: UnpackedKernel,
  opts: InitramfsOptions = {},
): Promise<Initramfs> {
  const modules = await labModules(kernel, opts.extraModules);
  const tools = await findHostTools();
  await checkStatic(tools.busybox);
  const applets = appletLinks(await run(tools.busybox, ["--list-full"]));
  const closure = await lddClosure([
    tools.ip,
    tools.tc,
    tools.bpftool,
    ...(tools.extras ?? []).map((e) => e.src),
    ...(opts.closureOf ?? [await denoBinary()]),
  ]);
  if (!closure.loader) throw new Error("ldd reported no dynamic loader for ip/tc/bpftool");
  const plan = planInitramfs({
    release: kernel.pin.release,
    modulesDir: kernel.modulesDir,
    modules,
    tools,
    applets,
    libs: closure.libs,
    loader: await Deno.realPath(closure.loader),
    init: await Deno.readFile(INIT_SCRIPT),
  });
  const code = await Promise.all(
    ["./initramfs.ts", "./cpio.ts"].map((f) => Deno.readTextFile(new URL(f, import.meta.url))),
  );
  const salt = `${kernel.pin.package}=${kernel.pin.version}\n${await sha256Hex(code.join("\n"))}`;
  const hash = (await hashPlan(plan, salt)).slice(0, 16);
  const dir = `${cacheDir()}/initramfs`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${kernel.pin.id}-${hash}.cpio.gz`;
  return await withLock(`${dir}/.lock-${kernel.pin.id}`, async () => {
    const st = await Deno.stat(path).catch(() => null);
    if (st?.isFile && st.size > 0) return { path, hash, modules, bytes: st.size, cached: true };
    const gz = await gzip(await materialize(plan));
    await writeFileAtomic(path, gz);
    // Keep only the newest few images per kernel.
    const old: { name: string; mtime: number }[] = [];
    for await (const f of Deno.readDir(dir)) {
      if (f.name.startsWith(`${kernel.pin.id}-`) && f.name !== `${kernel.pin.id}-${hash}.cpio.gz`) {
        old.push({
          name: f.name,
          mtime: (await Deno.stat(`${dir}/${f.name}`)).mtime?.getTime() ?? 0,
        });
      }
    }
    for (const f of old.sort((a, b) => b.mtime - a.mtime).slice(3)) {
      await Deno.remove(`${dir}/${f.name}`).catch(() => {});
    }
    return { path, hash, modules, bytes: gz.length, cached: false };
  });
}
