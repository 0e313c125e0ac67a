/**
 * @module
 * tsn-proxy's chained CNI plugin (`type: "tsn-proxy"`): a thin front end that validates the
 * runtime's input, passes `prevResult` through and hands the work to the node agent.
 *
 * @example
 * ```ts
 * import { localOptIn, parseNetConf } from "@tsn-proxy/cni";
 * const conf = parseNetConf(
 *   '{"cniVersion":"1.1.0","name":"k8s","type":"tsn-proxy","prevResult":{}}',
 *   "ADD",
 * );
 * console.log(localOptIn(conf, { TSN_PROXY_ENABLED: "true" }).decision); // "yes"
 * ```
 */
export {
  ANNOTATIONS_CAPABILITY,
  type Attachment,
  DEFAULT_AGENT_TIMEOUT_MS,
  DEFAULT_SOCKET_PATH,
  localOptIn,
  type NetConf,
  parseNetConf,
} from "./config.ts";
export {
  ENABLED_ANNOTATION,
  ENABLED_ARG,
  isNamespaceName,
  type LocalOptIn,
  type OptInMode,
  type PodFacts,
  readPod,
} from "./pod.ts";
export {
  type CniCommand,
  type CniEnv,
  NETNS_DIRS,
  netnsPathProblem,
  parseCniArgs,
  parseCniEnv,
  validContainerId,
  validIfname,
} from "./env.ts";
export {
  type AgentCommand,
  type AgentRequest,
  type AgentResponse,
  AgentUnavailableError,
  callAgent,
  PROTOCOL_VERSION,
} from "./protocol.ts";
export { passThrough } from "./result.ts";
export { type PluginIO, type PluginOutcome, runPlugin } from "./plugin.ts";
export {
  CNI_VERSION,
  CniError,
  compareVersions,
  ErrorCode,
  PLUGIN_TYPE,
  SUPPORTED_VERSIONS,
  versionInfo,
} from "./spec.ts";
