/**
 * What the runtime says about a pod, read the same way by the plugin and the agent: its
 * Kubernetes namespace and name (`K8S_POD_NAMESPACE`, `K8S_POD_NAME` in `CNI_ARGS`, set by the
 * runtime, never by the pod) and its opt-in.
 *
 * The opt-in, first source that speaks wins:
 * 1. the network's `optIn: all` (the cluster admin's conf entry: every attachment gets a saver);
 * 2. the pod annotation `tsn-proxy.io/enabled` (the pod owner's own word, passed by the runtime
 *    or read from the API), so an explicit `false` is never overridden by a runtime default;
 * 3. `TSN_PROXY_ENABLED` in `CNI_ARGS` (runtimes that pass no annotations, e.g. podman);
 * 4. annotations passed without ours: not opted in;
 * 5. nothing at all: "unknown" (the agent asks the Kubernetes API).
 *
 * Values: `true`, `yes`, `1` and `false`, `no`, `0`, any case. Any other value of the annotation or
 * the argument is a "no" that names the bad value: a typo must not opt a pod in.
 *
 * @example
 * ```ts
 * import { readPod } from "./pod.ts";
 * const pod = readPod({ K8S_POD_NAMESPACE: "cell", TSN_PROXY_ENABLED: "true" }, {
 *   "tsn-proxy.io/enabled": "false",
 * });
 * console.log(pod.namespace, pod.optIn.decision); // cell no
 * ```
 */

/** The pod annotation that opts a pod in. */
export const ENABLED_ANNOTATION = "tsn-proxy.io/enabled";

/** The `CNI_ARGS` key a runtime without annotations (podman) can use to opt a container in. */
export const ENABLED_ARG = "TSN_PROXY_ENABLED";

/** Which pods of a network get a saver. */
export type OptInMode = "annotation" | "all";

/** A pod's opt-in as the runtime's inputs tell it. */
export type LocalOptIn =
  | { readonly decision: "yes"; readonly source: string }
  | { readonly decision: "no"; readonly source: string }
  | { readonly decision: "unknown"; readonly source: "" };

/** What the runtime's inputs say about a pod. */
export interface PodFacts {
  /** A valid Kubernetes namespace name, else undefined (the policy's default applies). */
  readonly namespace?: string;
  /** The pod's name, when the runtime passed a valid one. */
  readonly name?: string;
  readonly optIn: LocalOptIn;
}

/** RFC 1123 label: what Kubernetes allows as a namespace name. */
export function isNamespaceName(s: string): boolean {
  return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s);
}

/** RFC 1123 subdomain: what Kubernetes allows as a pod name. */
function isPodName(s: string): boolean {
  return s.length <= 253 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s);
}

function flag(v: string): boolean | undefined {
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  return undefined;
}

function decide(
  v: string,
  what: string,
): { decision: "yes" | "no"; source: string } {
  const f = flag(v);
  if (f === undefined) {
    return {
      decision: "no",
      source: `${what} has an invalid value ${JSON.stringify(v.slice(0, 40))}`,
    };
  }
  return { decision: f ? "yes" : "no", source: `${what}=${f}` };
}

/**
 * Reads a pod's namespace, name and opt-in from `CNI_ARGS` and annotations (undefined: the
 * runtime passed none).
 */
export function readPod(
  args: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>> | undefined,
  mode: OptInMode = "annotation",
): PodFacts {
  const ns = args.K8S_POD_NAMESPACE, name = args.K8S_POD_NAME;
  const who = {
    ...(ns !== undefined && isNamespaceName(ns) ? { namespace: ns } : {}),
    ...(name !== undefined && isPodName(name) ? { name } : {}),
  };
  const optIn = ((): LocalOptIn => {
    if (mode === "all") return { decision: "yes", source: "network config optIn=all" };
    const ann = annotations?.[ENABLED_ANNOTATION];
    if (ann !== undefined) return decide(ann, `annotation ${ENABLED_ANNOTATION}`);
    const arg = args[ENABLED_ARG];
    if (arg !== undefined) return decide(arg, `CNI_ARGS ${ENABLED_ARG}`);
    if (annotations) return { decision: "no", source: `no annotation ${ENABLED_ANNOTATION}` };
    return { decision: "unknown", source: "" };
  })();
  return { ...who, optIn };
}
