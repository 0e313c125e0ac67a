/**
 * The Kubernetes manifest of tsn-proxy: every object `kubectl apply -f` needs, in apply order.
 *
 * 1. `Namespace` (Pod Security `privileged`: the agent needs hostNetwork, hostPath and
 *    capabilities, which `baseline` forbids).
 * 2. `ServiceAccount`, `ClusterRole` + binding (get pods: the opt-in fallback; get its own
 *    namespace: the uninstall decision), `Role` + binding (get its own DaemonSet: ditto).
 * 3. `ConfigMap` tsn-proxy-config (the agent's config) and `ConfigMap` tsn-proxy-policy (the
 *    priority policy, which only whoever may edit ConfigMaps in the agent's namespace can change).
 * 4. `DaemonSet` (hostNetwork, every node, capabilities instead of privileged, host paths shared
 *    with the plugin, readiness = datapath loaded and conf entry in place).
 *
 * See k8s/README.md for why each setting is what it is.
 *
 * @example
 * ```ts
 * import { parseAllDocuments } from "yaml";
 * import { renderManifest } from "./manifest.ts";
 * import { DEFAULT_MANIFEST_OPTIONS } from "./options.ts";
 * const yaml = renderManifest(DEFAULT_MANIFEST_OPTIONS);
 * console.log(parseAllDocuments(yaml).length); // 9
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import type { IClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { agentConfigText, policyConfigText } from "./config.ts";
import {
  AGENT_COMPONENT,
  CONFIG_HASH_ANNOTATION,
  CONFIG_KEYS,
  CONTAINER,
  IMAGE,
  LABELS,
  METRICS,
  NAMES,
  NODE,
} from "./layout.ts";
import { type ManifestOptions, VERSION } from "./options.ts";

/** Any object of the manifest. */
export type ManifestObject =
  | INamespace
  | IServiceAccount
  | IClusterRole
  | IClusterRoleBinding
  | IRole
  | IRoleBinding
  | IConfigMap
  | IDaemonSet;

/**
 * The agent's Linux capabilities (instead of `privileged: true`), measured on 6.18 by
 * k8s/caps_kernel_test.ts; see k8s/README.md "Capabilities":
 * - SYS_ADMIN: `setns(2)` into the pod's netns to attach its saver. The kernel also accepts it
 *   in place of the three below (`bpf_capable()`, `perfmon_capable()`, `bpf_net_capable()`).
 * - BPF: loading programs and maps, pinning.
 * - PERFMON: the verifier's `allow_ptr_leaks` (the sk_buff address is the `skb-addr` key) and
 *   tracing programs (the fexit clone tracker, the tp_btf cleanup).
 * - NET_ADMIN: tc: clsact qdisc and filters over netlink on kernels without TCX (< 6.6).
 */
export const AGENT_CAPABILITIES: readonly string[] = ["BPF", "NET_ADMIN", "PERFMON", "SYS_ADMIN"];

/**
 * Requests and limits from measurements (k8s/measure_agent.ts; numbers and method in
 * k8s/README.md "Resources"): steady RSS 81 MiB (anonymous 43 MiB) while no opt-in lookup has
 * loaded `@kubernetes/client-node`, 176-177 MiB (anonymous 132-133 MiB) and peak 177 MiB once pod
 * churn with API lookups has; CPU 1-8 m idle, ~20-30 ms per pod ADD+DEL, peaks ~200 m with 4 ADDs in
 * parallel. The memory covers the worst case (a runtime that passes no pod annotations, so the
 * client is loaded). k8s/resources_kernel_test.ts measures again and fails when the agent outgrows
 * them.
 */
export const AGENT_RESOURCES = {
  requests: { cpu: "20m", memory: "208Mi" },
  limits: { cpu: "1", memory: "288Mi" },
} as const;

function labels(extra: Record<string, string> = {}): Record<string, string> {
  return { ...LABELS, "app.kubernetes.io/version": VERSION, ...extra };
}

function meta(name: string, namespace?: string, extra: Record<string, string> = {}) {
  return { name, ...(namespace ? { namespace } : {}), labels: labels(extra) };
}

/** sha256 over both config texts (the pod template's annotation). */
export function configHash(o: ManifestOptions): string {
  return createHash("sha256")
    .update(agentConfigText(o))
    .update("\0")
    .update(policyConfigText(o))
    .digest("hex");
}

type Volume = NonNullable<NonNullable<IDaemonSet["spec"]>["template"]["spec"]>["volumes"];

function hostPathVolume(
  name: string,
  path: string,
  type: "Directory" | "DirectoryOrCreate",
): NonNullable<Volume>[number] {
  return { name, hostPath: { path, type } };
}

/** The agent's DaemonSet. */
export function daemonSet(o: ManifestOptions): IDaemonSet {
  const selector = {
    "app.kubernetes.io/name": LABELS["app.kubernetes.io/name"],
    ...AGENT_COMPONENT,
  };
  const probe = (path: string) => ({
    httpGet: { host: METRICS.host, port: METRICS.port, path, scheme: "HTTP" as const },
  });
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: meta(NAMES.daemonSet, o.namespace, AGENT_COMPONENT),
    spec: {
      selector: { matchLabels: selector },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: {
          labels: labels(AGENT_COMPONENT),
          annotations: { [CONFIG_HASH_ANNOTATION]: configHash(o) },
        },
        spec: {
          serviceAccountName: NAMES.serviceAccount,
          hostNetwork: true,
          dnsPolicy: "ClusterFirstWithHostNet",
          priorityClassName: "system-node-critical",
          // Every node: control-plane, NoExecute and not-ready taints included (a node without
          // the agent would run opted-in pods without their metadata).
          tolerations: [{ operator: "Exists" }],
          // SIGTERM: the entrypoint stops the agent (datapath stays) and decides whether this is
          // an uninstall (k8s/node/node_helper.ts); uninstalling takes a few seconds.
          terminationGracePeriodSeconds: 30,
          containers: [{
            name: NAMES.container,
            image: o.image,
            imagePullPolicy: "IfNotPresent",
            command: [IMAGE.entrypoint],
            env: [
              {
                name: "TSN_PROXY_NAMESPACE",
                valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
              },
              { name: "TSN_PROXY_DAEMONSET", value: NAMES.daemonSet },
              { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              { name: "TMPDIR", value: CONTAINER.tmp },
            ],
            securityContext: {
              privileged: false,
              runAsUser: 0,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"], add: [...AGENT_CAPABILITIES] },
              seccompProfile: { type: "RuntimeDefault" },
              // The runtime's default AppArmor profile denies writes below /sys/fs (the pins);
              // SELinux hosts need spc_t for the host paths.
              appArmorProfile: { type: "Unconfined" },
              seLinuxOptions: { type: "spc_t", level: "s0" },
            },
            resources: {
              requests: { ...AGENT_RESOURCES.requests },
              limits: { ...AGENT_RESOURCES.limits },
            },
            // Ready = datapath loaded with its pins present + conf entry in place (+ plugin
            // installed). The agent listens on the node's loopback; kubelet probes from the host
            // netns, which is the pod's.
            startupProbe: { ...probe("/healthz"), periodSeconds: 2, failureThreshold: 30 },
            readinessProbe: { ...probe("/readyz"), periodSeconds: 5, failureThreshold: 2 },
            livenessProbe: { ...probe("/healthz"), periodSeconds: 10, failureThreshold: 6 },
            volumeMounts: [
              // Only what the agent writes is writable: its own bpffs directory, not the bpffs
              // (other add-ons' pins); the pods' netns only to enter them (setns opens read-only).
              { name: "bpffs", mountPath: NODE.bpffsMount, mountPropagation: "HostToContainer" },
              {
                name: "netns",
                mountPath: NODE.netnsDir,
                mountPropagation: "HostToContainer",
                readOnly: true,
              },
              { name: "run", mountPath: NODE.stateDir },
              { name: "cni-conf", mountPath: o.cniConfDir },
              { name: "cni-bin", mountPath: o.cniBinDir },
              { name: "agent-config", mountPath: CONTAINER.agentConfigDir, readOnly: true },
              { name: "policy", mountPath: CONTAINER.policyConfigDir, readOnly: true },
              { name: "tmp", mountPath: CONTAINER.tmp },
            ],
          }],
          volumes: [
            hostPathVolume("bpffs", NODE.bpffsMount, "DirectoryOrCreate"),
            hostPathVolume("netns", NODE.netnsDir, "DirectoryOrCreate"),
            hostPathVolume("run", NODE.stateDir, "DirectoryOrCreate"),
            hostPathVolume("cni-conf", o.cniConfDir, "DirectoryOrCreate"),
            hostPathVolume("cni-bin", o.cniBinDir, "DirectoryOrCreate"),
            { name: "agent-config", configMap: { name: NAMES.agentConfig } },
            { name: "policy", configMap: { name: NAMES.policyConfig } },
            { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
          ],
        },
      },
    },
  };
}

/** Every object, in apply order. */
export function manifestObjects(o: ManifestOptions): ManifestObject[] {
  const ns = o.namespace;
  const sa = { kind: "ServiceAccount", name: NAMES.serviceAccount, namespace: ns };
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ns,
        labels: labels({
          "pod-security.kubernetes.io/enforce": "privileged",
          "pod-security.kubernetes.io/audit": "privileged",
          "pod-security.kubernetes.io/warn": "privileged",
        }),
      },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(NAMES.serviceAccount, ns) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta(NAMES.clusterRole),
      rules: [
        // The opt-in fallback when the runtime passed no pod annotations (agent/k8s.ts).
        { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
        // The uninstall decision on SIGTERM: is the agent's namespace being deleted?
        { apiGroups: [""], resources: ["namespaces"], resourceNames: [ns], verbs: ["get"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: meta(NAMES.clusterRole),
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: NAMES.clusterRole,
      },
      subjects: [sa],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta(NAMES.role, ns),
      rules: [
        // The uninstall decision on SIGTERM: is the agent's DaemonSet being deleted? Watched
        // while the agent runs (a fieldSelector on its name), asked again at SIGTERM.
        {
          apiGroups: ["apps"],
          resources: ["daemonsets"],
          resourceNames: [NAMES.daemonSet],
          verbs: ["get", "watch"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(NAMES.role, ns),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAMES.role },
      subjects: [sa],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(NAMES.agentConfig, ns),
      data: { [CONFIG_KEYS.agent]: agentConfigText(o) },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(NAMES.policyConfig, ns),
      data: { [CONFIG_KEYS.policy]: policyConfigText(o) },
    },
    daemonSet(o),
  ];
}

/** The header of the printed manifest. */
export function manifestHeader(o: ManifestOptions): string {
  return [
    "# tsn-proxy: Kubernetes manifest, generated by `tsnproxy manifest` (k8s/manifest.ts); do not",
    "# edit by hand: regenerate. Install: kubectl apply -f tsn-proxy.yaml. Uninstall:",
    "# kubectl delete -f tsn-proxy.yaml (the agents remove the datapath; see k8s/README.md).",
    `# strategy ${o.strategy}, TSN interfaces ${o.tsnInterfaces.join(",")}, image ${o.image}`,
  ].join("\n");
}

/** The manifest as multi-document YAML. */
export function renderManifest(o: ManifestOptions): string {
  const docs = manifestObjects(o).map((obj) => stringify(obj, { lineWidth: 0 }).trimEnd());
  return `${manifestHeader(o)}\n---\n${docs.join("\n---\n")}\n`;
}
