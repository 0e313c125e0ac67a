/**
 * Kubernetes binaries for the local node, built from the Go module proxy and cached by version.
 *
 * The `k8s.io/kubernetes` module zip has no `staging/` tree, so its 31 `k8s.io/X => ./staging/...`
 * replaces point nowhere: they are dropped and the published `k8s.io/X` modules of the same
 * release (`v0.MINOR.PATCH`) are required instead. Binaries land in
 * `.cache/k8s/<version>/bin`; a second run finds them there and builds nothing.
 *
 * Run alone to prefetch: `deno run -A k8s/local/build.ts`.
 *
 * @module
 */

/** The Kubernetes release the local node runs. */
export const KUBE_VERSION = "v1.34.3";

/** The binaries the node needs, cheapest last so progress starts with the long one. */
export const KUBE_BINARIES = [
  "kube-apiserver",
  "kube-controller-manager",
  "kubectl",
  "kubelet",
  "kube-proxy",
  "kube-scheduler",
] as const;

/** One of {@linkcode KUBE_BINARIES}. */
export type KubeBinary = typeof KUBE_BINARIES[number];

/** Where the cache of one version lives, below the repository's `.cache/`. */
export function kubeCacheDir(root: string, version = KUBE_VERSION): string {
  return `${root}/.cache/k8s/${version}`;
}

/** Options of {@linkcode ensureKubeBinaries}. */
export interface BuildOptions {
  /** Repository root (the cache lives in its `.cache/`). */
  root: string;
  /** Release to build; default {@linkcode KUBE_VERSION}. */
  version?: string;
  /** Progress lines; default stderr. */
  log?: (line: string) => void;
}

/**
 * Returns the directory holding every {@linkcode KUBE_BINARIES} entry, building what is missing.
 *
 * @example
 * ```ts ignore
 * const bin = await ensureKubeBinaries({ root: "." });
 * // `${bin}/kubectl version --client`
 * ```
 */
export async function ensureKubeBinaries(opts: BuildOptions): Promise<string> {
  const version = opts.version ?? KUBE_VERSION;
  const log = opts.log ?? ((l: string) => console.error(l));
  const cache = kubeCacheDir(opts.root, version);
  const bin = `${cache}/bin`;
  const missing: KubeBinary[] = [];
  for (const name of KUBE_BINARIES) if (!(await isFile(`${bin}/${name}`))) missing.push(name);
  if (missing.length === 0) {
    log(`k8s ${version}: binaries cached in ${bin}`);
    return bin;
  }
  const go = await findGo();
  const src = await prepareSource(go, cache, version, log);
  await Deno.mkdir(bin, { recursive: true });
  const ldflags = versionLdflags(version);
  let i = 0;
  for (const name of missing) {
    i++;
    log(`k8s ${version}: building ${name} (${i}/${missing.length}) ...`);
    const started = Date.now();
    // Write to a temporary name first: an interrupted build must not leave a binary that looks done.
    await run(
      go,
      [
        "build",
        "-mod=mod",
        "-trimpath",
        "-tags",
        "selinux,notest,grpcnotrace",
        "-ldflags",
        ldflags,
        "-o",
        `${bin}/${name}.tmp`,
        `./cmd/${name}`,
      ],
      src,
      { CGO_ENABLED: "0" },
    );
    await Deno.rename(`${bin}/${name}.tmp`, `${bin}/${name}`);
    log(`k8s ${version}: built ${name} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  return bin;
}

/** The `-X` flags that make `--version` say the release instead of v0.0.0. */
function versionLdflags(version: string): string {
  const m = /^v(\d+)\.(\d+)\./.exec(version);
  const pkg = "k8s.io/component-base/version";
  return [
    "-s -w",
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${m?.[1] ?? ""}`,
    `-X ${pkg}.gitMinor=${m?.[2] ?? ""}`,
    `-X ${pkg}.gitTreeState=clean`,
    `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
  ].join(" ");
}

/** Downloads the module, copies it writable into the cache and rewrites its staging replaces. */
async function prepareSource(
  go: string,
  cache: string,
  version: string,
  log: (l: string) => void,
): Promise<string> {
  const src = `${cache}/src`;
  if (await isFile(`${src}/.prepared`)) return src;
  log(`k8s ${version}: downloading k8s.io/kubernetes@${version} from the Go module proxy`);
  const info = JSON.parse(
    await run(go, ["mod", "download", "-json", `k8s.io/kubernetes@${version}`], cache),
  ) as { Dir?: string };
  if (!info.Dir) {
    throw new Error(`go mod download gave no directory for k8s.io/kubernetes@${version}`);
  }
  await Deno.remove(src, { recursive: true }).catch(() => {});
  await run("cp", ["-r", info.Dir, src], cache);
  await run("chmod", ["-R", "u+w", src], cache);
  for (const f of ["go.work", "go.work.sum"]) await Deno.remove(`${src}/${f}`).catch(() => {});
  const staging = stagingModules(await Deno.readTextFile(`${src}/go.mod`));
  const staged = `v0.${version.replace(/^v\d+\./, "")}`;
  await run(go, ["mod", "edit", ...staging.map((m) => `-dropreplace=${m}`)], src);
  // Only modules the main module requires get a version: a staging module that sits only in the
  // replace block (k8s.io/sample-cli-plugin) is not served and must not be asked for.
  const required = requiredModules(await Deno.readTextFile(`${src}/go.mod`));
  const reqs = staging.filter((m) => required.has(m)).map((m) => `-require=${m}@${staged}`);
  await run(go, ["mod", "edit", ...reqs], src);
  log(`k8s ${version}: ${staging.length} staging replaces -> ${reqs.length} requires of ${staged}`);
  await run(go, ["mod", "download"], src);
  await Deno.writeTextFile(`${src}/.prepared`, `${staged}\n`);
  return src;
}

/** Module paths replaced by `./staging/...` directories in a go.mod. */
export function stagingModules(goMod: string): string[] {
  const out: string[] = [];
  for (const m of goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)) out.push(m[1]!);
  return out;
}

/** Module paths in a go.mod's require directives. */
export function requiredModules(goMod: string): Set<string> {
  const out = new Set<string>();
  let inBlock = false;
  for (const raw of goMod.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    if (line === "require (") inBlock = true;
    else if (inBlock && line === ")") inBlock = false;
    else if (inBlock && line) out.add(line.split(/\s+/)[0]!);
    else if (line.startsWith("require ") && !line.endsWith("(")) out.add(line.split(/\s+/)[1]!);
  }
  return out;
}

async function findGo(): Promise<string> {
  for (const p of ["/usr/local/go/bin/go", "/usr/bin/go"]) if (await isFile(p)) return p;
  throw new Error("building Kubernetes needs Go (>= 1.24) in /usr/local/go or /usr/bin");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  await Deno.mkdir(cwd, { recursive: true });
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    env: { GOFLAGS: "", GOWORK: "off", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`usage: deno run -A k8s/local/build.ts   (builds Kubernetes ${KUBE_VERSION} once)`);
    Deno.exit(0);
  }
  const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const bin = await ensureKubeBinaries({ root });
  console.log(bin);
}
