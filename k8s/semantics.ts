/**
 * Checks of the manifest that no schema can do: the objects must agree with each other, with the
 * agent (its own config parser, the conf entry it writes) and with the image (k8s/Containerfile).
 * Each function returns readable problems; empty means fine.
 *
 * @example
 * ```ts
 * import { manifestObjects } from "./manifest.ts";
 * import { DEFAULT_MANIFEST_OPTIONS } from "./options.ts";
 * import { checkMounts } from "./semantics.ts";
 * console.log(checkMounts(manifestObjects(DEFAULT_MANIFEST_OPTIONS))); // []
 * ```
 *
 * @module
 */
import { dirname } from "node:path";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { type AgentConfig, parseConfig } from "@tsn-proxy/agent";
import { pluginEntry } from "@tsn-proxy/agent/conflist";
import { CONFIG_KEYS, CONTAINER, IMAGE, METRICS, NAMES, NODE } from "./layout.ts";
import type { ManifestObject } from "./manifest.ts";

type Obj = Record<string, unknown>;
type PodSpec = NonNullable<NonNullable<IDaemonSet["spec"]>["template"]["spec"]>;

/** The one DaemonSet of the manifest. */
export function theDaemonSet(objs: readonly ManifestObject[]): IDaemonSet {
  const ds = objs.filter((o): o is IDaemonSet => o.kind === "DaemonSet");
  if (ds.length !== 1) throw new Error(`expected one DaemonSet, got ${ds.length}`);
  return ds[0]!;
}

function podSpec(objs: readonly ManifestObject[]): PodSpec {
  const spec = theDaemonSet(objs).spec?.template.spec;
  if (!spec) throw new Error("DaemonSet without a pod spec");
  return spec;
}

function configMapData(objs: readonly ManifestObject[], name: string, key: string): string {
  const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata?.name === name) as
    | { data?: Record<string, string> }
    | undefined;
  const text = cm?.data?.[key];
  if (text === undefined) throw new Error(`ConfigMap ${name} has no key ${key}`);
  return text;
}

/** The config the entrypoint assembles from the ConfigMaps, parsed by the agent's own parser. */
export function agentConfigOf(objs: readonly ManifestObject[]): AgentConfig {
  const merged = `${configMapData(objs, NAMES.agentConfig, CONFIG_KEYS.agent)}\n` +
    configMapData(objs, NAMES.policyConfig, CONFIG_KEYS.policy);
  return parseConfig(merged, "merged ConfigMaps", {});
}

/** Every volumeMount names a volume, every volume is mounted, ConfigMap volumes exist. */
export function checkMounts(objs: readonly ManifestObject[]): string[] {
  const spec = podSpec(objs);
  const out: string[] = [];
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  const mounted = new Set<string>();
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const paths = new Set<string>();
    for (const m of c.volumeMounts ?? []) {
      mounted.add(m.name);
      if (!volumes.has(m.name)) out.push(`${c.name}: volumeMount ${m.name} has no volume`);
      if (paths.has(m.mountPath)) out.push(`${c.name}: ${m.mountPath} mounted twice`);
      paths.add(m.mountPath);
    }
  }
  for (const v of volumes.keys()) if (!mounted.has(v)) out.push(`volume ${v} is never mounted`);
  for (const v of volumes.values()) {
    const name = v.configMap?.name;
    if (name && !objs.some((o) => o.kind === "ConfigMap" && o.metadata?.name === name)) {
      out.push(`volume ${v.name}: ConfigMap ${name} is not in the manifest`);
    }
  }
  return out;
}

/** The hostPath that `path` (a container path) lives on, when it is mounted 1:1 from the host. */
function hostPathOf(spec: PodSpec, path: string): string | null {
  const c = spec.containers[0]!;
  let best: { mountPath: string; host: string } | null = null;
  for (const m of c.volumeMounts ?? []) {
    const v = spec.volumes?.find((x) => x.name === m.name);
    if (!v?.hostPath) continue;
    const within = path === m.mountPath || path.startsWith(`${m.mountPath}/`);
    if (within && (!best || m.mountPath.length > best.mountPath.length)) {
      best = { mountPath: m.mountPath, host: v.hostPath.path };
    }
  }
  if (!best) return null;
  return best.host + path.slice(best.mountPath.length);
}

/**
 * The agent's config (from the ConfigMaps) against the pod: the socket in the conf entry the
 * agent writes is the agent's socket, and it, the CNI dirs, the state dir, the bpffs dir and the
 * pod netns dir reach the same path on the host; the probes hit the metrics address.
 */
export function checkAgentPaths(objs: readonly ManifestObject[]): string[] {
  const out: string[] = [];
  let cfg: AgentConfig;
  try {
    cfg = agentConfigOf(objs);
  } catch (e) {
    return [`the agent refuses the ConfigMaps' config: ${(e as Error).message}`];
  }
  const spec = podSpec(objs);
  const entry = pluginEntry({ socketPath: cfg.socketPath, optIn: cfg.cni.optIn });
  if (entry.socketPath !== cfg.socketPath) {
    out.push("conf entry socketPath differs from the agent's");
  }
  const shared: Array<[string, string]> = [
    ["the plugin socket (the plugin connects from the host)", dirname(String(entry.socketPath))],
    ["cni.confDir", cfg.cni.confDir],
    ["cni.binDir", cfg.cni.binDir],
    ["stateDir", cfg.stateDir],
    ["bpffs", cfg.bpffs],
    ["pod netns dir (CNI_NETNS)", NODE.netnsDir],
  ];
  for (const [what, path] of shared) {
    const host = hostPathOf(spec, path);
    if (host === null) out.push(`${what} ${path}: not on a hostPath volume`);
    else if (host !== path) out.push(`${what} ${path}: reaches ${host} on the host, not ${path}`);
  }
  const bpffsMount = spec.containers[0]!.volumeMounts?.find((m) => m.mountPath === NODE.bpffsMount);
  if (!cfg.bpffs.startsWith(`${NODE.bpffsMount}/`) || !bpffsMount) {
    out.push(`bpffs ${cfg.bpffs} is not below the mounted bpffs directory ${NODE.bpffsMount}`);
  }
  // Least privilege: the pods' netns are only entered, and other add-ons' pins stay out of reach.
  const netnsMount = spec.containers[0]!.volumeMounts?.find((m) => m.mountPath === NODE.netnsDir);
  if (netnsMount && netnsMount.readOnly !== true) {
    out.push(`${NODE.netnsDir} must be mounted read-only (the agent only enters pod netns)`);
  }
  for (const v of spec.volumes ?? []) {
    const p = v.hostPath?.path.replace(/\/+$/, "");
    const mounts = spec.containers[0]!.volumeMounts?.filter((m) => m.name === v.name) ?? [];
    if (p === "/sys/fs" || p === "/sys") {
      out.push(`volume ${v.name} mounts ${p}: mount only ${NODE.bpffsMount} writable`);
    } else if (p === NODE.bpffsRoot && mounts.some((m) => m.readOnly !== true)) {
      out.push(`volume ${v.name} mounts the whole bpffs writable: only ${NODE.bpffsMount} may be`);
    }
  }
  for (const m of spec.containers[0]!.volumeMounts ?? []) {
    if (
      ([NODE.netnsDir, NODE.bpffsMount, NODE.bpffsRoot] as string[]).includes(m.mountPath) &&
      m.mountPropagation !== "HostToContainer"
    ) {
      out.push(`${m.mountPath} must be HostToContainer (mounts made later on the host)`);
    }
    if (m.mountPropagation === "Bidirectional") {
      out.push(`${m.mountPath}: Bidirectional needs a privileged container`);
    }
  }
  const c = spec.containers[0]!;
  for (
    const [name, p] of [["readiness", c.readinessProbe], ["liveness", c.livenessProbe]] as const
  ) {
    const g = p?.httpGet;
    if (!g) {
      out.push(`${name} probe is not an HTTP GET`);
      continue;
    }
    if (`${g.host}:${g.port}` !== cfg.metricsAddress) {
      out.push(
        `${name} probe ${g.host}:${g.port} is not the metrics address ${cfg.metricsAddress}`,
      );
    }
  }
  if (c.readinessProbe?.httpGet?.path !== "/readyz") out.push("readiness probe must GET /readyz");
  if (cfg.metricsAddress !== `${METRICS.host}:${METRICS.port}`) {
    out.push(`metricsAddress ${cfg.metricsAddress} is not ${METRICS.host}:${METRICS.port}`);
  }
  if (!spec.hostNetwork) out.push("the agent must run in the node's netns (hostNetwork)");
  return out;
}

/** Names that must agree across objects: namespace, ServiceAccount, roles, env, selector. */
export function checkReferences(objs: readonly ManifestObject[]): string[] {
  const out: string[] = [];
  const ns = objs.find((o) => o.kind === "Namespace")?.metadata?.name;
  if (!ns) return ["no Namespace"];
  for (const o of objs) {
    const isClusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind);
    if (!isClusterScoped && o.metadata?.namespace !== ns) {
      out.push(`${o.kind} ${o.metadata?.name} is not in namespace ${ns}`);
    }
  }
  const ds = theDaemonSet(objs);
  const spec = podSpec(objs);
  const sa = spec.serviceAccountName;
  if (!objs.some((o) => o.kind === "ServiceAccount" && o.metadata?.name === sa)) {
    out.push(`ServiceAccount ${sa} is not in the manifest`);
  }
  for (const b of objs.filter((o) => o.kind.endsWith("Binding")) as unknown as Obj[]) {
    const ref = b.roleRef as { kind: string; name: string };
    if (!objs.some((o) => o.kind === ref.kind && o.metadata?.name === ref.name)) {
      out.push(`${b.kind} refers to a missing ${ref.kind} ${ref.name}`);
    }
    const subjects = b.subjects as Array<{ kind: string; name: string; namespace?: string }>;
    if (!subjects.some((s) => s.kind === "ServiceAccount" && s.name === sa && s.namespace === ns)) {
      out.push(`${b.kind} does not bind ServiceAccount ${ns}/${sa}`);
    }
  }
  const selector = ds.spec?.selector.matchLabels ?? {};
  const labels = ds.spec?.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(selector)) {
    if (labels[k] !== v) out.push(`selector ${k}=${v} does not match the pod template`);
  }
  const env = new Map((spec.containers[0]!.env ?? []).map((e) => [e.name, e]));
  if (env.get("TSN_PROXY_DAEMONSET")?.value !== ds.metadata?.name) {
    out.push("TSN_PROXY_DAEMONSET is not the DaemonSet's name");
  }
  if (env.get("TSN_PROXY_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath !== "metadata.namespace") {
    out.push("TSN_PROXY_NAMESPACE must come from metadata.namespace");
  }
  // What node_helper.ts should-uninstall reads must be allowed, and nothing more than needed.
  const rules = objs.flatMap((o) =>
    o.kind === "Role" || o.kind === "ClusterRole"
      ? ((o as unknown as Obj).rules as Array<Obj>).map((r) => ({ kind: o.kind, ...r }))
      : []
  ) as Array<{ kind: string; resources: string[]; verbs: string[]; resourceNames?: string[] }>;
  const allows = (kind: string, resource: string, name: string, verb = "get") =>
    rules.some((r) =>
      r.kind === kind && r.resources.includes(resource) && r.verbs.includes(verb) &&
      (r.resourceNames === undefined || r.resourceNames.includes(name))
    );
  if (!allows("Role", "daemonsets", String(ds.metadata?.name))) {
    out.push("the Role does not allow get on the agent's DaemonSet");
  }
  // node_helper.ts watch-deletion watches it by name while the agent runs.
  if (!allows("Role", "daemonsets", String(ds.metadata?.name), "watch")) {
    out.push("the Role does not allow watch on the agent's DaemonSet");
  }
  if (!allows("ClusterRole", "namespaces", ns)) {
    out.push("the ClusterRole does not allow get on the agent's namespace");
  }
  if (!allows("ClusterRole", "pods", "any-pod")) {
    out.push("the ClusterRole does not allow get pods");
  }
  for (const r of rules) {
    const needed = r.resources.includes("daemonsets") && r.resourceNames?.length === 1
      ? ["get", "watch"]
      : ["get"];
    const extra = r.verbs.filter((v) => !needed.includes(v));
    if (extra.length) {
      out.push(
        `${r.kind} grants ${extra.join(",")} on ${r.resources}: only ${needed} is needed`,
      );
    }
  }
  return out;
}

/** Image paths a Containerfile provides: `COPY` destinations mapped to their sources. */
export interface ImageCopy {
  readonly from: string | null;
  readonly sources: readonly string[];
  readonly dest: string;
}

/** The COPY instructions of the last stage of a Containerfile. */
function finalStageCopies(containerfile: string): ImageCopy[] {
  const lines = containerfile.replace(/\\\n/g, " ").split("\n").map((l) => l.trim());
  let copies: ImageCopy[] = [];
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) copies = [];
    const m = /^COPY\s+(.*)$/i.exec(line);
    if (!m) continue;
    const words = m[1]!.split(/\s+/);
    let from: string | null = null;
    while (words[0]?.startsWith("--")) {
      const flag = words.shift()!;
      if (flag.startsWith("--from=")) from = flag.slice("--from=".length);
    }
    const dest = words.pop()!;
    copies.push({ from, sources: words, dest });
  }
  return copies;
}

/**
 * Whether the image has `path`, given the final stage's COPYs and a resolver for their sources
 * (a repository path, or a path of the build stage's `/src`).
 */
function imageHas(
  copies: readonly ImageCopy[],
  path: string,
  sourceHas: (from: string | null, source: string) => boolean,
): boolean {
  for (const c of copies) {
    if (c.dest.endsWith("/")) {
      for (const s of c.sources) {
        if (s.endsWith("/") && path.startsWith(c.dest)) {
          if (sourceHas(c.from, s + path.slice(c.dest.length))) return true;
        } else if (path === c.dest + s.split("/").at(-1)) {
          if (sourceHas(c.from, s)) return true;
        }
      }
    } else if (path === c.dest && c.sources.length === 1 && sourceHas(c.from, c.sources[0]!)) {
      return true;
    }
  }
  return false;
}

/** The container's command, and the paths the entrypoint runs, exist in the image. */
export function checkImage(
  objs: readonly ManifestObject[],
  containerfile: string,
  sourceHas: (from: string | null, source: string) => boolean,
  entrypointScript: string,
): string[] {
  const out: string[] = [];
  const copies = finalStageCopies(containerfile);
  const c = podSpec(objs).containers[0]!;
  const cmd = c.command?.[0];
  if (!cmd) out.push("the container has no command");
  const needed = new Set<string>([cmd ?? ""]);
  // The entrypoint's defaults: ${VAR:-/opt/...} and $ROOT/... paths.
  const root = /ROOT=\$\{TSN_PROXY_ROOT:-([^}]+)\}/.exec(entrypointScript)?.[1];
  if (root !== IMAGE.root) out.push(`entrypoint.sh ROOT default ${root} is not ${IMAGE.root}`);
  for (const m of entrypointScript.matchAll(/:-\$ROOT(\/[^}]+)\}/g)) needed.add(IMAGE.root + m[1]);
  for (const p of [IMAGE.launcher, IMAGE.deno, IMAGE.helper]) needed.add(p);
  for (const p of needed) {
    if (p && !imageHas(copies, p, sourceHas)) out.push(`${p} is not in the image`);
  }
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(containerfile)?.[1];
  if (entry && JSON.parse(entry)[0] !== cmd) {
    out.push(`the image's ENTRYPOINT ${entry} differs from the DaemonSet's command ${cmd}`);
  }
  for (
    const [v, dir] of [["agent", CONTAINER.agentConfigDir], ["policy", CONTAINER.policyConfigDir]]
  ) {
    if (!entrypointScript.includes(dir!)) {
      out.push(`entrypoint.sh does not read the ${v} config from ${dir}`);
    }
  }
  return out;
}
