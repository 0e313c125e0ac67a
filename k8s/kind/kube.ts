/**
 * The few Kubernetes API operations the kind e2e needs, as an interface the tests fake, and its
 * implementation with `@kubernetes/client-node` (server-side apply, reads, pod logs, and GETs
 * through the API server's pod proxy to the probes).
 *
 * @example
 * ```ts ignore
 * import { clientNodeKube } from "./kube.ts";
 * const kube = await clientNodeKube(kubeconfigText);
 * console.log(await kube.nodes());
 * ```
 *
 * @module
 */

/** Any object to apply. */
export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
};

/** A pod as the e2e sees it. */
export interface PodStatus {
  readonly name: string;
  /** Pending, Running, Succeeded, Failed, Unknown. */
  readonly phase: string;
  /** Every container ready. */
  readonly ready: boolean;
  readonly node?: string;
  /** Why it is waiting or terminated, when the API says. */
  readonly reason?: string;
}

/** A DaemonSet's rollout. */
export interface DaemonSetStatus {
  readonly desired: number;
  readonly ready: number;
  readonly updated: number;
  readonly generation: number;
  readonly observedGeneration: number;
}

/** A node. */
export interface NodeInfo {
  readonly name: string;
  readonly ready: boolean;
  readonly controlPlane: boolean;
}

/** The API operations of the kind e2e. */
export interface KubeApi {
  /** Server-side apply (creates or updates). */
  apply(obj: KubeObject): Promise<void>;
  /** Deletes; a missing object is fine. */
  remove(obj: KubeObject): Promise<void>;
  pod(namespace: string, name: string): Promise<PodStatus | null>;
  /** Pods matching a label selector. */
  pods(namespace: string, selector: string): Promise<PodStatus[]>;
  daemonSet(namespace: string, name: string): Promise<DaemonSetStatus | null>;
  namespaceExists(name: string): Promise<boolean>;
  nodes(): Promise<NodeInfo[]>;
  logs(namespace: string, pod: string): Promise<string>;
  /** GET through the API server's pod proxy: `/api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH`. */
  proxyGet(namespace: string, pod: string, port: number, path: string): Promise<string>;
}

function statusCode(e: unknown): number | undefined {
  const o = e as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  const c = o?.code ?? o?.statusCode ?? o?.response?.statusCode;
  return typeof c === "number" ? c : undefined;
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (statusCode(e) === 404) return null;
    throw e;
  }
}

/** The KubeApi over client-node, for the cluster a kubeconfig names. */
export async function clientNodeKube(kubeconfig: string, fieldManager = "tsn-proxy-e2e") {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfig);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  type Spec = Parameters<typeof objects.patch>[0];
  const podStatus = (p: import("@kubernetes/client-node").V1Pod): PodStatus => {
    const cs = p.status?.containerStatuses ?? [];
    const why = cs.map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason)
      .find((r) => r);
    return {
      name: p.metadata?.name ?? "",
      phase: p.status?.phase ?? "Unknown",
      ready: cs.length > 0 && cs.every((c) => c.ready),
      ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
      ...(why ? { reason: why } : {}),
    };
  };
  const api: KubeApi = {
    async apply(obj) {
      await objects.patch(
        obj as Spec,
        undefined,
        undefined,
        fieldManager,
        true,
        k8s.PatchStrategy.ServerSideApply,
      );
    },
    async remove(obj) {
      await orNull(objects.delete(obj as Spec));
    },
    async pod(namespace, name) {
      const p = await orNull(core.readNamespacedPod({ name, namespace }));
      return p ? podStatus(p) : null;
    },
    async pods(namespace, selector) {
      const list = await core.listNamespacedPod({ namespace, labelSelector: selector });
      return list.items.map(podStatus);
    },
    async daemonSet(namespace, name) {
      const ds = await orNull(apps.readNamespacedDaemonSet({ name, namespace }));
      if (!ds) return null;
      return {
        desired: ds.status?.desiredNumberScheduled ?? 0,
        ready: ds.status?.numberReady ?? 0,
        updated: ds.status?.updatedNumberScheduled ?? 0,
        generation: ds.metadata?.generation ?? 0,
        observedGeneration: ds.status?.observedGeneration ?? 0,
      };
    },
    async namespaceExists(name) {
      return (await orNull(core.readNamespace({ name }))) !== null;
    },
    async nodes() {
      const list = await core.listNode();
      return list.items.map((n) => ({
        name: n.metadata?.name ?? "",
        ready: n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ??
          false,
        controlPlane: "node-role.kubernetes.io/control-plane" in (n.metadata?.labels ?? {}),
      }));
    },
    async logs(namespace, pod) {
      return await core.readNamespacedPodLog({ name: pod, namespace });
    },
    async proxyGet(namespace, pod, port, path) {
      const body: unknown = await core.connectGetNamespacedPodProxyWithPath({
        name: `${pod}:${port}`,
        namespace,
        path,
      });
      // client-node hands a JSON answer (the probe's) back already parsed.
      return typeof body === "string" ? body : JSON.stringify(body);
    },
  };
  return api;
}
