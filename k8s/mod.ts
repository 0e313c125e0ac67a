/**
 * @module
 * tsn-proxy on Kubernetes: the manifest generator behind `tsnproxy manifest` (namespace, RBAC,
 * agent config, priority policy, DaemonSet) and its validation against the Kubernetes API
 * schemas. The kind e2e (`deno task e2e:kind`) lives in k8s/kind/.
 *
 * @example
 * ```ts
 * import { DEFAULT_MANIFEST_OPTIONS, manifestObjects } from "@tsn-proxy/k8s";
 * const kinds = manifestObjects(DEFAULT_MANIFEST_OPTIONS).map((o) => o.kind);
 * console.log(kinds.at(-1)); // DaemonSet
 * ```
 */
export { manifestCommand } from "./command.ts";
export {
  AGENT_CAPABILITIES,
  AGENT_RESOURCES,
  configHash,
  daemonSet,
  type ManifestObject,
  manifestObjects,
  renderManifest,
} from "./manifest.ts";
export {
  DEFAULT_MANIFEST_OPTIONS,
  type ManifestOptions,
  ManifestUsageError,
  parseManifestArgs,
  type PolicySection,
  validateOptions,
  VERSION,
} from "./options.ts";
export { agentConfigText, mergedConfigText, policyConfigText } from "./config.ts";
export { CONFIG_KEYS, CONTAINER, IMAGE, NAMES, NODE } from "./layout.ts";
