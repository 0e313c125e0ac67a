import { repoRoot } from "@tsn-proxy/bpf";
import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { AGENT_FILES } from "@tsn-proxy/release";
import { configHash, manifestObjects, renderManifest } from "./manifest.ts";
import { DEFAULT_MANIFEST_OPTIONS, type ManifestOptions, validateOptions } from "./options.ts";
import { IMAGE, NAMES } from "./layout.ts";
import { validateObject } from "./validate.ts";
import {
  agentConfigOf,
  checkAgentPaths,
  checkImage,
  checkMounts,
  checkReferences,
  theDaemonSet,
} from "./semantics.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = repoRoot();

const VARIANT: ManifestOptions = validateOptions({
  strategy: "skb-data",
  tsnInterfaces: ["enp3s0", "eth2"],
  image: "registry.example:5000/tsn/agent@sha256:" + "a".repeat(64),
  namespace: "tsn-proxy",
  policy: { defaultMaxPriority: 1, namespaces: { "robot-cell-1": 5, "tsn-system": "unlimited" } },
  cniConfDir: "/var/lib/rancher/k3s/agent/etc/cni/net.d",
  cniBinDir: "/var/lib/rancher/k3s/data/current/bin",
});

type Obj = Record<string, unknown>;
const clone = <T>(x: T): T => structuredClone(x);

Deno.test("k8s/tsn-proxy.yaml is exactly the default output of the generator", async () => {
  const file = await Deno.readTextFile(join(HERE, "tsn-proxy.yaml"));
  equal(
    file,
    renderManifest(DEFAULT_MANIFEST_OPTIONS),
    "regenerate: deno task manifest > k8s/tsn-proxy.yaml",
  );
});

Deno.test("renderManifest() is the objects, in order, as multi-document YAML", () => {
  for (const o of [DEFAULT_MANIFEST_OPTIONS, VARIANT]) {
    const docs = parseAllDocuments(renderManifest(o));
    for (const d of docs) deepEqual(d.errors, []);
    deepEqual(docs.map((d) => d.toJS()), manifestObjects(o));
  }
  deepEqual(manifestObjects(DEFAULT_MANIFEST_OPTIONS).map((o) => o.kind), [
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "ConfigMap",
    "DaemonSet",
  ]);
});

Deno.test("every generated object is valid against the Kubernetes API schemas", async () => {
  for (const o of [DEFAULT_MANIFEST_OPTIONS, VARIANT]) {
    for (const obj of manifestObjects(o)) {
      deepEqual(
        await validateObject(obj),
        [],
        `${obj.kind} ${obj.metadata?.name}`,
      );
    }
  }
});

Deno.test("validateObject() refuses a bad enum, a wrong type, a missing field and an unknown field", async () => {
  const ds = theDaemonSet(manifestObjects(DEFAULT_MANIFEST_OPTIONS)) as unknown as Obj;
  const c = () => {
    const x = clone(ds) as {
      spec: { template: { spec: { containers: Obj[]; volumes: Obj[] } }; selector?: unknown };
    };
    return { x, container: x.spec.template.spec.containers[0]! };
  };
  let t = c();
  t.container.imagePullPolicy = "Sometimes";
  match((await validateObject(t.x)).join("\n"), /imagePullPolicy/);
  t = c();
  (t.container.volumeMounts as Obj[])[0]!.mountPropagation = "Sideways";
  match((await validateObject(t.x)).join("\n"), /mountPropagation/);
  t = c();
  t.container.securityContext = { capabilites: { add: ["BPF"] } }; // typo
  match((await validateObject(t.x)).join("\n"), /securityContext\.capabilites: unknown field/);
  t = c();
  delete t.x.spec.selector;
  match((await validateObject(t.x)).join("\n"), /selector/);
  t = c();
  t.container.resources = { limits: { memory: ["256Mi"] } };
  ok((await validateObject(t.x)).length > 0);
  t = c();
  (t.x.spec.template.spec.volumes[0] as Obj).hostPath = { path: "/sys/fs/bpf", type: "Folder" };
  match((await validateObject(t.x)).join("\n"), /type/);
});

Deno.test("the ConfigMaps' config parses with the agent's own parser and says what was asked", () => {
  const cfg = agentConfigOf(manifestObjects(VARIANT));
  equal(cfg.strategy, "skb-data");
  deepEqual(cfg.restoreOn, ["enp3s0", "eth2"]);
  equal(cfg.policy.defaultMaxPriority, 1);
  deepEqual(cfg.policy.namespaces, { "robot-cell-1": 5, "tsn-system": null });
  equal(cfg.cni.binDir, "/var/lib/rancher/k3s/data/current/bin");
  equal(cfg.kubernetes.enabled, true);
  const def = agentConfigOf(manifestObjects(DEFAULT_MANIFEST_OPTIONS));
  equal(def.policy.configured, true, "a policy is always shipped (deny by default)");
  equal(def.policy.defaultMaxPriority, 0);
});

Deno.test("semantic checks pass for the generated manifests", async () => {
  const containerfile = await Deno.readTextFile(join(HERE, "Containerfile"));
  const entrypoint = await Deno.readTextFile(join(HERE, "node/entrypoint.sh"));
  for (const o of [DEFAULT_MANIFEST_OPTIONS, VARIANT]) {
    const objs = manifestObjects(o);
    deepEqual(checkMounts(objs), []);
    deepEqual(checkAgentPaths(objs), []);
    deepEqual(checkReferences(objs), []);
    deepEqual(checkImage(objs, containerfile, sourceHas, entrypoint), []);
  }
});

/** What the Containerfile's COPY sources hold: the build stage's dist (tools/release/bundle.ts) or the repo. */
function sourceHas(from: string | null, source: string): boolean {
  if (from === "build") {
    const rel = source.replace(/^\/src\/dist\/tsnproxy\//, "");
    const built = new Set<string>([
      "tsnproxy",
      ...Object.values(AGENT_FILES),
      `${AGENT_FILES.plugin}/tsn-proxy`,
      `${AGENT_FILES.plugin}/tsn-proxy.d/deno`,
      `${AGENT_FILES.plugin}/tsn-proxy.d/plugin.js`,
    ]);
    return source.startsWith("/src/dist/tsnproxy/") && built.has(rel);
  }
  try {
    return Deno.statSync(join(ROOT, source)).isFile;
  } catch {
    return false;
  }
}

Deno.test("semantic checks catch a broken manifest", async () => {
  const base = manifestObjects(DEFAULT_MANIFEST_OPTIONS);
  const ds = () => {
    const objs = clone(base);
    return { objs, spec: theDaemonSet(objs).spec!.template.spec! };
  };

  let t = ds();
  t.spec.volumes = t.spec.volumes!.filter((v) => v.name !== "netns");
  match(checkMounts(t.objs).join("\n"), /volumeMount netns has no volume/);
  match(checkAgentPaths(t.objs).join("\n"), /netns dir .* not on a hostPath/);

  t = ds();
  t.spec.volumes!.find((v) => v.name === "run")!.hostPath!.path = "/run/other";
  match(checkAgentPaths(t.objs).join("\n"), /plugin socket .* reaches \/run\/other/);

  t = ds();
  t.spec.containers[0]!.volumeMounts!.find((m) => m.name === "netns")!.mountPropagation = "None";
  match(checkAgentPaths(t.objs).join("\n"), /HostToContainer/);

  t = ds();
  delete t.spec.containers[0]!.volumeMounts!.find((m) => m.name === "netns")!.readOnly;
  match(checkAgentPaths(t.objs).join("\n"), /\/var\/run\/netns must be mounted read-only/);

  t = ds();
  t.spec.volumes!.find((v) => v.name === "bpffs")!.hostPath!.path = "/sys/fs/bpf";
  t.spec.containers[0]!.volumeMounts!.find((m) => m.name === "bpffs")!.mountPath = "/sys/fs/bpf";
  match(checkAgentPaths(t.objs).join("\n"), /mounts the whole bpffs writable/);

  t = ds();
  delete t.spec.containers[0]!.volumeMounts!.find((m) => m.name === "bpffs-root")!.readOnly;
  match(checkAgentPaths(t.objs).join("\n"), /volume bpffs-root mounts the whole bpffs writable/);

  t = ds();
  t.spec.containers[0]!.readinessProbe!.httpGet!.port = 9999;
  match(checkAgentPaths(t.objs).join("\n"), /readiness probe 127\.0\.0\.1:9999/);

  t = ds();
  t.spec.volumes!.find((v) => v.name === "policy")!.configMap!.name = "nope";
  match(checkMounts(t.objs).join("\n"), /ConfigMap nope is not in the manifest/);

  t = ds();
  const cm = t.objs.find((o) => o.metadata?.name === NAMES.agentConfig) as {
    data: Record<string, string>;
  };
  cm.data["agent.yaml"] = cm.data["agent.yaml"]!.replace("restoreOn:", "restoreOnn:");
  match(checkAgentPaths(t.objs).join("\n"), /refuses the ConfigMaps' config: .*restoreOnn/);

  t = ds();
  t.spec.serviceAccountName = "someone-else";
  match(checkReferences(t.objs).join("\n"), /ServiceAccount someone-else is not in the manifest/);

  t = ds();
  (t.objs.find((o) => o.kind === "Role") as { rules: Array<{ verbs: string[] }> }).rules[0]!.verbs
    .push("delete");
  match(checkReferences(t.objs).join("\n"), /grants delete/);

  t = ds();
  t.spec.containers[0]!.command = ["/opt/tsn-proxy/k8s/missing.sh"];
  const containerfile = await Deno.readTextFile(join(HERE, "Containerfile"));
  const entrypoint = await Deno.readTextFile(join(HERE, "node/entrypoint.sh"));
  match(
    checkImage(t.objs, containerfile, sourceHas, entrypoint).join("\n"),
    /missing\.sh is not in the image/,
  );
  const noHelper = containerfile.replace(" k8s/node/node_helper.ts", "");
  match(
    checkImage(base, noHelper, sourceHas, entrypoint).join("\n"),
    new RegExp(`${IMAGE.helper} is not in the image`),
  );
});

Deno.test("configHash() follows the config and the policy, so a change rolls the agents", () => {
  const a = configHash(DEFAULT_MANIFEST_OPTIONS);
  equal(a, configHash({ ...DEFAULT_MANIFEST_OPTIONS }));
  notEqual(a, configHash({ ...DEFAULT_MANIFEST_OPTIONS, strategy: "skb-data" }));
  notEqual(
    a,
    configHash({
      ...DEFAULT_MANIFEST_OPTIONS,
      policy: { defaultMaxPriority: 0, namespaces: { cell: 3 } },
    }),
  );
  notEqual(a, configHash({ ...DEFAULT_MANIFEST_OPTIONS, image: "other/image:1" }) + "x");
});

Deno.test("the DaemonSet uses capabilities, not privileged, and runs on every node", () => {
  const spec = theDaemonSet(manifestObjects(DEFAULT_MANIFEST_OPTIONS)).spec!.template.spec!;
  const sc = spec.containers[0]!.securityContext!;
  equal(sc.privileged, false);
  deepEqual(sc.capabilities?.drop, ["ALL"]);
  deepEqual([...sc.capabilities!.add!].sort(), ["BPF", "NET_ADMIN", "PERFMON", "SYS_ADMIN"]);
  equal(sc.readOnlyRootFilesystem, true);
  // API validation refuses allowPrivilegeEscalation=false together with CAP_SYS_ADMIN.
  equal(sc.allowPrivilegeEscalation, undefined);
  deepEqual(spec.tolerations, [{ operator: "Exists" }]);
  equal(spec.hostNetwork, true);
  equal(spec.priorityClassName, "system-node-critical");
});
