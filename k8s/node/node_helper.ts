/**
 * Decisions the agent's container entrypoint (./entrypoint.sh) takes, run with the image's Deno
 * (`deno run --no-config`): this file ships as source in the image and imports nothing.
 *
 *   node_helper.ts should-uninstall          exit 0: uninstall from this node, 1: keep
 *   node_helper.ts watch-deletion MARKER     runs beside the agent; writes MARKER when the
 *                                            DaemonSet is deleted or being deleted
 *   node_helper.ts strategy-switch CFG.json  exit 0: the pinned datapath runs another strategy
 *
 * **should-uninstall** answers, after SIGTERM, "is tsn-proxy being removed, or is this pod only
 * restarting?". Kubernetes sends the same SIGTERM for a rolling update, a node shutdown and a
 * deletion, so the answer comes from the API: the DaemonSet (and its namespace) gone or being
 * deleted, or the agent's RBAC removed (403), means uninstall. Anything that cannot be told for
 * sure means keep: API down, time-out, 5xx, and a 401, since a refused token is as much an expired
 * or rotated signing key or an authenticator outage as a deleted ServiceAccount: a kept datapath
 * is harmless until an uninstall, a removed one drops every running pod's metadata.
 *
 * `kubectl delete -f` removes the ServiceAccount at the same moment as the DaemonSet, so by the
 * time the pod gets its SIGTERM the token is usually refused. That is why **watch-deletion** runs
 * while the agent runs, with a token the API still accepts: it watches the DaemonSet and writes a
 * marker when it is deleted or gets a deletionTimestamp; the entrypoint uninstalls on the marker
 * without asking again.
 *
 * **strategy-switch** compares the strategy in the agent's config (the JSON `tsnproxy agent
 * --check` prints) with the one of the datapath a previous agent left pinned; the agent refuses
 * to switch a running datapath, so the entrypoint removes the old one first.
 *
 * @example
 * ```ts
 * import { decideUninstall } from "./node_helper.ts";
 * console.log(decideUninstall({ status: 404, body: {} }).uninstall); // true
 * ```
 *
 * @module
 */

/** What one API GET gave: a status and its JSON body, or a transport error. */
export type ApiAnswer = { readonly status: number; readonly body: unknown } | {
  readonly error: string;
};

/** The decision and why. */
export interface Decision {
  readonly uninstall: boolean;
  readonly reason: string;
}

function deleting(body: unknown): boolean {
  const o = body as { metadata?: { deletionTimestamp?: unknown }; status?: { phase?: unknown } };
  return Boolean(o?.metadata?.deletionTimestamp) || o?.status?.phase === "Terminating";
}

function gone(what: string, a: ApiAnswer): Decision | null {
  if ("error" in a) return null;
  if (a.status === 404) return { uninstall: true, reason: `${what} is gone (404)` };
  if (a.status === 401) {
    return {
      uninstall: false,
      reason: `${what}: the ServiceAccount's token is refused (401), which does not tell a ` +
        "deletion from an expired token or an authenticator outage: keeping",
    };
  }
  if (a.status === 403) {
    return { uninstall: true, reason: `${what}: the agent's RBAC was removed (403)` };
  }
  if (a.status === 200 && deleting(a.body)) {
    return { uninstall: true, reason: `${what} is being deleted` };
  }
  return null;
}

/**
 * Uninstall when the DaemonSet or its namespace is gone or being deleted, or the API no longer
 * accepts the agent's identity; keep on anything uncertain.
 */
export function decideUninstall(ds: ApiAnswer, ns?: ApiAnswer): Decision {
  if ("error" in ds) {
    return { uninstall: false, reason: `API not reachable (${ds.error}): keeping` };
  }
  const d = gone("the DaemonSet", ds);
  if (d) return d;
  if (ds.status !== 200) {
    return { uninstall: false, reason: `the DaemonSet GET answered ${ds.status}: keeping` };
  }
  if (ns === undefined) return { uninstall: false, reason: "the DaemonSet is in place: keeping" };
  if ("error" in ns) {
    return { uninstall: false, reason: `namespace lookup failed (${ns.error}): keeping` };
  }
  const n = gone("the namespace", ns);
  if (n) return n;
  return {
    uninstall: false,
    reason: "DaemonSet and namespace in place (restart or update): keeping",
  };
}

/** Where and as whom the helper talks to the API (in-cluster defaults; tests override). */
export interface ApiAccess {
  readonly base: string;
  readonly token: string;
  readonly caFile?: string;
  readonly timeoutMs: number;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The in-cluster API access from the environment (`TSN_PROXY_API_URL` overrides, for tests). */
export function apiAccessFromEnv(env: Readonly<Record<string, string | undefined>>): ApiAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  const base = env.TSN_PROXY_API_URL ??
    (host ? `https://${host.includes(":") ? `[${host}]` : host}:${port}` : "");
  if (!base) throw new Error("no KUBERNETES_SERVICE_HOST (not in a pod?) and no TSN_PROXY_API_URL");
  const tokenFile = env.TSN_PROXY_TOKEN_FILE ?? `${SA_DIR}/token`;
  let token = "";
  try {
    token = Deno.readTextFileSync(tokenFile).trim();
  } catch { /* no token: the API answers 401, which is a decision too */ }
  const caFile = env.TSN_PROXY_API_URL ? undefined : `${SA_DIR}/ca.crt`;
  return { base, token, ...(caFile ? { caFile } : {}), timeoutMs: 5000 };
}

/** The User-Agent of the helper's requests (the watch adds "/watch"): visible in audit logs. */
export const USER_AGENT = "tsn-proxy-node-helper";

/** One GET; never throws (a transport problem is an answer). */
export async function apiGet(
  a: ApiAccess,
  path: string,
  userAgent = USER_AGENT,
): Promise<ApiAnswer> {
  let client: Deno.HttpClient | undefined;
  try {
    if (a.caFile) client = Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(a.caFile)] });
    const res = await fetch(`${a.base}${path}`, {
      headers: {
        Accept: "application/json",
        "User-Agent": userAgent,
        ...(a.token ? { Authorization: `Bearer ${a.token}` } : {}),
      },
      signal: AbortSignal.timeout(a.timeoutMs),
      ...(client ? { client } : {}),
    });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, body };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    client?.close();
  }
}

/** should-uninstall: the API lookups and the decision. */
export async function shouldUninstall(
  env: Readonly<Record<string, string | undefined>>,
  get: (path: string) => Promise<ApiAnswer> = (p) => apiGet(apiAccessFromEnv(env), p),
): Promise<Decision> {
  const ns = env.TSN_PROXY_NAMESPACE;
  const ds = env.TSN_PROXY_DAEMONSET;
  if (!ns || !ds) {
    return { uninstall: false, reason: "TSN_PROXY_NAMESPACE/TSN_PROXY_DAEMONSET not set: keeping" };
  }
  const dsAnswer = await get(`/apis/apps/v1/namespaces/${ns}/daemonsets/${ds}`);
  const needNs = !("error" in dsAnswer) && dsAnswer.status === 200 && !deleting(dsAnswer.body);
  return decideUninstall(dsAnswer, needNs ? await get(`/api/v1/namespaces/${ns}`) : undefined);
}

/** What a DaemonSet answer or watch event says about its deletion, or null when it is live. */
export function deletionOf(status: number, type: string, body: unknown): string | null {
  if (status === 404) return "the DaemonSet is gone (404)";
  if (type === "DELETED") return "the DaemonSet was deleted (watch)";
  if (status === 200 && deleting(body)) return "the DaemonSet is being deleted";
  return null;
}

/** Reads newline-delimited JSON from a response body, one parsed object per line. */
async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
}

const WATCH_AGENT = `${USER_AGENT}/watch`;

/**
 * watch-deletion: GETs the DaemonSet, then watches it (fieldSelector on its name) from that
 * resourceVersion; returns why it is being deleted as soon as it is. Errors and ended watches
 * start over after a pause (2 s, doubling to 30 s); only an answer that says "deleted" ends it.
 */
export async function watchDeletion(
  env: Readonly<Record<string, string | undefined>>,
  signal?: AbortSignal,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<string> {
  const ns = env.TSN_PROXY_NAMESPACE, ds = env.TSN_PROXY_DAEMONSET;
  if (!ns || !ds) throw new Error("TSN_PROXY_NAMESPACE/TSN_PROXY_DAEMONSET not set");
  let pause = 2000;
  while (!signal?.aborted) {
    const a = apiAccessFromEnv(env);
    const got = await apiGet(a, `/apis/apps/v1/namespaces/${ns}/daemonsets/${ds}`, WATCH_AGENT);
    if (!("error" in got)) {
      const why = deletionOf(got.status, "", got.body);
      if (why) return why;
    }
    const rv = "error" in got || got.status !== 200
      ? undefined
      : (got.body as { metadata?: { resourceVersion?: unknown } })?.metadata?.resourceVersion;
    if (typeof rv === "string") {
      let client: Deno.HttpClient | undefined;
      try {
        if (a.caFile) {
          client = Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(a.caFile)] });
        }
        const q = `watch=1&fieldSelector=metadata.name%3D${encodeURIComponent(ds)}` +
          `&resourceVersion=${encodeURIComponent(rv)}&timeoutSeconds=600`;
        const res = await fetch(`${a.base}/apis/apps/v1/namespaces/${ns}/daemonsets?${q}`, {
          headers: {
            Accept: "application/json",
            "User-Agent": WATCH_AGENT,
            Authorization: `Bearer ${a.token}`,
          },
          ...(signal ? { signal } : {}),
          ...(client ? { client } : {}),
        });
        if (res.ok && res.body) {
          pause = 2000; // a watch that was accepted resets the back-off
          for await (const ev of jsonLines(res.body)) {
            const e = ev as { type?: unknown; object?: unknown };
            const why = deletionOf(200, String(e.type ?? ""), e.object);
            if (why) return why;
          }
        } else {
          await res.body?.cancel();
        }
      } catch {
        /* a broken watch: start over */
      } finally {
        client?.close();
      }
    }
    if (signal?.aborted) break;
    await sleep(pause);
    pause = Math.min(pause * 2, 30_000);
  }
  throw new Error("stopped");
}

/** strategy-switch: the configured strategy vs the pinned datapath's (null: nothing pinned). */
export function strategySwitch(
  configJson: string,
  readFile: (path: string) => string = Deno.readTextFileSync,
): { from: string; to: string; attachments: number } | null {
  const cfg = JSON.parse(configJson) as { strategy?: unknown; stateDir?: unknown };
  if (typeof cfg.strategy !== "string" || typeof cfg.stateDir !== "string") {
    throw new Error("not the output of `tsnproxy agent --check` (strategy, stateDir)");
  }
  let state: { strategy?: unknown };
  try {
    state = JSON.parse(readFile(`${cfg.stateDir}/datapath.json`));
  } catch {
    return null; // no datapath pinned (first start, or after a reboot: the state dir is tmpfs)
  }
  if (typeof state.strategy !== "string" || state.strategy === cfg.strategy) return null;
  let attachments = 0;
  try {
    // agent/attachments.ts: {"version": 1, "attachments": [...]}
    const index = JSON.parse(readFile(`${cfg.stateDir}/attachments.json`));
    if (Array.isArray(index?.attachments)) attachments = index.attachments.length;
  } catch { /* none */ }
  return { from: state.strategy, to: cfg.strategy, attachments };
}

async function main(args: string[]): Promise<number> {
  const env = Deno.env.toObject();
  const say = (s: string) => console.error(`tsn-proxy node_helper: ${s}`);
  switch (args[0]) {
    case "should-uninstall": {
      const d = await shouldUninstall(env);
      say(d.reason);
      return d.uninstall ? 0 : 1;
    }
    case "watch-deletion": {
      if (!args[1]) break;
      const why = await watchDeletion(env);
      Deno.writeTextFileSync(args[1], `${why}\n`);
      say(`${why}: marked for uninstall at SIGTERM`);
      return 0;
    }
    case "strategy-switch": {
      if (!args[1]) break;
      const s = strategySwitch(Deno.readTextFileSync(args[1]));
      if (!s) return 1;
      say(
        `the pinned datapath runs ${s.from}, the config says ${s.to}: the old one is removed ` +
          `first; ${s.attachments} running pod(s) lose their saver until they are recreated`,
      );
      return 0;
    }
  }
  say(
    "usage: node_helper.ts should-uninstall | watch-deletion MARKER | strategy-switch CONFIG.json",
  );
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
