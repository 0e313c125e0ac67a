/**
 * Names and paths the Kubernetes packaging is built from, in one place: the objects' names, the
 * node paths the agent shares with the host (the plugin runs in the host's context, so every path
 * it or the runtime sees must be the same string inside the agent's container), and where the
 * image (k8s/Containerfile) puts things.
 *
 * @example
 * ```ts
 * import { IMAGE, NODE } from "./layout.ts";
 * console.log(NODE.socketPath, IMAGE.entrypoint);
 * ```
 *
 * @module
 */

/** Names of the objects the manifest creates. */
export const NAMES = {
  /** Default namespace (`--namespace`). */
  namespace: "tsn-system",
  serviceAccount: "tsn-proxy-agent",
  clusterRole: "tsn-proxy-agent",
  role: "tsn-proxy-agent",
  agentConfig: "tsn-proxy-config",
  policyConfig: "tsn-proxy-policy",
  daemonSet: "tsn-proxy-agent",
  container: "agent",
} as const;

/** Keys of the two ConfigMaps. */
export const CONFIG_KEYS = { agent: "agent.yaml", policy: "policy.yaml" } as const;

/** Labels every object carries; the DaemonSet selects on `name` + `component`. */
export const LABELS = {
  "app.kubernetes.io/name": "tsn-proxy",
  "app.kubernetes.io/part-of": "tsn-proxy",
} as const;

/** The pod template's extra label (selector = LABELS name + this). */
export const AGENT_COMPONENT = { "app.kubernetes.io/component": "agent" } as const;

/** Pod template annotation: the hash of both config texts, so a changed config rolls the pods. */
export const CONFIG_HASH_ANNOTATION = "tsn-proxy.io/config-sha256";

/**
 * Node (host) paths, mounted into the agent's container at the same path: the conf entry the
 * agent writes names `socketPath`, which the plugin then opens from the host.
 */
export const NODE = {
  /**
   * tsn-proxy's own directory in the host's bpffs: the only part of the bpffs the agent's
   * container mounts (other add-ons' pins stay out of its reach).
   */
  bpffsMount: "/sys/fs/bpf/tsn-proxy",
  /**
   * The agent's pins, one level below the mount: the datapath refuses a bpffs mount root as its
   * directory, and in the container the mounted directory is one.
   */
  bpffs: "/sys/fs/bpf/tsn-proxy/node",
  /** Where containerd and CRI-O create pod netns bind mounts (`CNI_NETNS`). */
  netnsDir: "/var/run/netns",
  /** The agent's state and the plugin socket: tmpfs, so both go away with the pins at reboot. */
  stateDir: "/var/run/tsn-proxy",
  socketPath: "/var/run/tsn-proxy/cni.sock",
  cniConfDir: "/etc/cni/net.d",
  cniBinDir: "/opt/cni/bin",
} as const;

/** The agent's metrics/readiness address (loopback of the node: the pod is hostNetwork). */
export const METRICS = { host: "127.0.0.1", port: 9402 } as const;

/** Paths inside the agent image (k8s/Containerfile). */
export const IMAGE = {
  /** `dist/tsnproxy/` of `deno task build`. */
  root: "/opt/tsn-proxy",
  launcher: "/opt/tsn-proxy/tsnproxy",
  /** The Deno runtime inside the agent's plugin copy (the launcher runs the agent with it). */
  deno: "/opt/tsn-proxy/tsnproxy.d/plugin/tsn-proxy.d/deno",
  /** k8s/node/ of the repository. */
  k8sDir: "/opt/tsn-proxy/k8s",
  entrypoint: "/opt/tsn-proxy/k8s/entrypoint.sh",
  helper: "/opt/tsn-proxy/k8s/node_helper.ts",
} as const;

/** Paths inside the agent's container. */
export const CONTAINER = {
  agentConfigDir: "/etc/tsn-proxy/agent",
  policyConfigDir: "/etc/tsn-proxy/policy",
  /** Writable scratch (emptyDir; the root filesystem is read-only): merged config, Deno cache. */
  tmp: "/tmp",
  /** The config the entrypoint assembles from both ConfigMaps. */
  mergedConfig: "/tmp/tsn-proxy/agent.yaml",
} as const;
