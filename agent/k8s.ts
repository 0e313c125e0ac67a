/**
 * The opt-in fallback for runtimes that pass no pod annotations: read the pod from the Kubernetes
 * API (name and namespace from CNI_ARGS). `@kubernetes/client-node` costs ~390 ms and ~95 MiB of
 * resident memory to load, so it is loaded on the first lookup only, never at agent start and never
 * in the plugin: an agent whose runtime passes the pod annotations (containerd, CRI-O), or that runs
 * with `kubernetes.enabled: false`, never loads it. It lives in its own module,
 * {@link CLIENT_MODULE}, which this one imports through a specifier computed at run time (see
 * there).
 *
 * @example
 * ```ts ignore
 * import { kubernetesLookup } from "./k8s.ts";
 * const lookup = kubernetesLookup({ kubeconfig: "" }); // in-cluster
 * console.log(await lookup.annotations("default", "my-pod"));
 * ```
 */

/** The one API call the lookup needs (a subset of client-node's CoreV1Api). */
export interface PodReader {
  readNamespacedPod(
    req: { name: string; namespace: string },
  ): Promise<{ metadata?: { annotations?: Record<string, string> } }>;
}

/** Reads a pod's annotations. */
export interface PodLookup {
  /** The pod's annotations; null when the API says the pod does not exist. */
  annotations(namespace: string, name: string): Promise<Record<string, string> | null>;
}

/** Options of {@link kubernetesLookup}. */
export interface LookupOptions {
  /** A kubeconfig file; "" for the in-cluster service account. */
  readonly kubeconfig: string;
  /** Give up after this long (default 5 s). */
  readonly timeoutMs?: number;
  /** Builds the API client; tests inject a fake. Default: client-node's CoreV1Api. */
  readonly makeReader?: () => Promise<PodReader>;
}

/**
 * The module that imports client-node, relative to this one: `./k8s_client.ts` in the source tree,
 * `./k8s_client.js` beside the agent's bundle (tools/release/bundle.ts bundles it on its own), where
 * `import.meta.url` is the bundle's. The specifier is computed, not a literal: `deno bundle` would
 * inline a literal `import()` target into the agent's bundle and Deno's module graph would read
 * and parse it (14 MB of JavaScript) at start even though it is never evaluated there.
 */
export const CLIENT_MODULE: string = import.meta.url.endsWith(".ts")
  ? "./k8s_client.ts"
  : "./k8s_client.js";

/** What {@link CLIENT_MODULE} exports. */
interface ClientModule {
  makePodReader(kubeconfig: string): Promise<PodReader>;
}

async function clientNodeReader(kubeconfig: string): Promise<PodReader> {
  const url = new URL(CLIENT_MODULE, import.meta.url).href;
  const client = (await import(url)) as ClientModule;
  return await client.makePodReader(kubeconfig);
}

function isNotFound(e: unknown): boolean {
  const o = e as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  return o?.code === 404 || o?.statusCode === 404 || o?.response?.statusCode === 404;
}

/** A lookup through the Kubernetes API; the client is built on first use. */
export function kubernetesLookup(opts: LookupOptions): PodLookup {
  let reader: Promise<PodReader> | undefined;
  const timeoutMs = opts.timeoutMs ?? 5000;
  return {
    async annotations(namespace, name) {
      reader ??= (opts.makeReader ?? (() => clientNodeReader(opts.kubeconfig)))();
      let r: PodReader;
      try {
        r = await reader;
      } catch (e) {
        reader = undefined; // a bad kubeconfig may be fixed; try again next time
        throw e;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const read = r.readNamespacedPod({ name, namespace });
      read.catch(() => {}); // a late failure after the timeout won is nobody's to handle
      try {
        const pod = await Promise.race([
          read,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer from the API within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
        return pod.metadata?.annotations ?? {};
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
