/**
 * @module
 * tsn-proxy's node agent: loads the datapath, installs the CNI plugin, keeps the CNI config
 * entry in place, serves the plugin's requests and exposes metrics.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@tsn-proxy/agent";
 * const cfg = parseConfig("restoreOn: [eth1]\n");
 * console.log(cfg.socketPath); // /var/run/tsn-proxy/cni.sock
 * ```
 */
export { AGENT_USAGE, agentCommand } from "./command.ts";
export { runAgent, type RunningAgent, type RunOptions, uninstall } from "./agent.ts";
export { type AgentConfig, ConfigError, DEFAULTS, loadConfig, parseConfig } from "./config.ts";
export { maxPriorityFor, parsePolicy, type Policy } from "./policy.ts";
export { attachmentId, AttachmentIndex, type AttachmentRecord } from "./attachments.ts";
export { CniHandler, type DatapathPort, type SaverSettings } from "./handler.ts";
export { ConfReconciler, type PassResult, REVERT_HINT } from "./reconciler.ts";
export { kubernetesLookup, type PodLookup, type PodReader } from "./k8s.ts";
export { installPlugin, uninstallPlugin } from "./install.ts";
export { AgentMetrics, serveMetrics } from "./metrics.ts";
export {
  createLog,
  errorMessage,
  jsonLine,
  type Log,
  LOG_FORMATS,
  type LogFields,
  type LogFormat,
} from "./log.ts";
