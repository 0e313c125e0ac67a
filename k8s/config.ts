/**
 * The two config texts the manifest carries: the agent's config (ConfigMap `tsn-proxy-config`,
 * key `agent.yaml`) and the priority policy (ConfigMap `tsn-proxy-policy`, key `policy.yaml`).
 * The container's entrypoint (k8s/node/entrypoint.sh) concatenates them into the one file the
 * agent reads: the policy file is a single top-level `policy:` key, so the concatenation is one
 * YAML mapping, and a policy file that tried to set anything else would repeat a key, which the
 * agent's parser refuses.
 *
 * @example
 * ```ts
 * import { agentConfigText, mergedConfigText } from "./config.ts";
 * import { DEFAULT_MANIFEST_OPTIONS } from "./options.ts";
 * console.log(agentConfigText(DEFAULT_MANIFEST_OPTIONS).includes("restoreOn"));
 * console.log(mergedConfigText(DEFAULT_MANIFEST_OPTIONS).includes("policy:"));
 * ```
 *
 * @module
 */
import { stringify } from "yaml";
import { CONFIG_KEYS, CONTAINER, METRICS, NAMES, NODE } from "./layout.ts";
import type { ManifestOptions } from "./options.ts";

const YAML_OPTS = { lineWidth: 0 } as const;

/** The agent's config (without the policy), as it goes into the ConfigMap. */
export function agentConfigText(o: ManifestOptions): string {
  const cfg = {
    strategy: o.strategy,
    restoreOn: [...o.tsnInterfaces],
    maxAgeMs: 100,
    cni: { confDir: o.cniConfDir, binDir: o.cniBinDir, optIn: "annotation" },
    bpffs: NODE.bpffs,
    stateDir: NODE.stateDir,
    socketPath: NODE.socketPath,
    metricsAddress: `${METRICS.host}:${METRICS.port}`,
    kubernetes: { enabled: true },
    // The policy ConfigMap's file, re-read by the running agent: edits reach running savers.
    policyFile: `${CONTAINER.policyConfigDir}/${CONFIG_KEYS.policy}`,
  };
  return [
    "# tsn-proxy node agent (agent/README.md). The priority policy is in ConfigMap",
    `# ${NAMES.policyConfig}. After an edit: kubectl -n ${o.namespace} rollout restart ` +
    `daemonset/${NAMES.daemonSet}`,
    "# (a new strategy applies to pods created after the restart; see k8s/README.md).",
    stringify(cfg, YAML_OPTS),
  ].join("\n");
}

/** The policy as it goes into its ConfigMap: one top-level `policy:` key. */
export function policyConfigText(o: ManifestOptions): string {
  const policy = {
    defaultMaxPriority: o.policy.defaultMaxPriority,
    namespaces: { ...o.policy.namespaces },
  };
  return [
    "# The highest SO_PRIORITY opted-in pods of a namespace may carry to the wire (agent/README.md",
    '# "Priority policy"): an integer or "unlimited". Higher priorities are clamped and counted.',
    "# Applies to running pods too: kubelet updates this file in the agent's container (within",
    "# its ConfigMap sync period, about a minute), the agent re-reads it every 2 s and re-clamps",
    "# running savers in place. Empty or without a value means priority 0, never unlimited.",
    stringify({ policy }, YAML_OPTS),
  ].join("\n");
}

/** What the entrypoint gives the agent: both texts, concatenated (as `cat a; echo; cat b`). */
export function mergedConfigText(o: ManifestOptions): string {
  return `${agentConfigText(o)}\n${policyConfigText(o)}`;
}
