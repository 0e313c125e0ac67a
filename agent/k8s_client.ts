/**
 * The part of the agent that imports `@kubernetes/client-node`: builds the pod reader of the opt-in
 * lookup (agent/k8s.ts). Nothing imports this module statically. agent/k8s.ts loads it on the first
 * lookup through a specifier computed at run time, so that neither `deno bundle` inlines it into
 * the agent's bundle nor Deno's module graph reads and parses it when the agent starts: the shipped
 * agent carries it as its own bundle, `tsnproxy.d/k8s_client.js` (tools/release/bundle.ts). Inlined into
 * the agent's bundle, client-node and its generated models were 14 MB of JavaScript that cost the
 * agent ~170 MiB of resident memory at start, whether or not a lookup ever happened.
 *
 * @example
 * ```ts ignore
 * import { makePodReader } from "./k8s_client.ts";
 * const reader = await makePodReader(""); // in-cluster service account
 * console.log(await reader.readNamespacedPod({ name: "p", namespace: "default" }));
 * ```
 *
 * @module
 */
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import type { PodReader } from "./k8s.ts";

/** client-node's CoreV1Api for a kubeconfig file ("" for the in-cluster service account). */
export function makePodReader(kubeconfig: string): Promise<PodReader> {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  return Promise.resolve(kc.makeApiClient(CoreV1Api) as unknown as PodReader);
}
