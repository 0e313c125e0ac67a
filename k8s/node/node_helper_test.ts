import { deepEqual, equal, match, ok } from "node:assert/strict";
import {
  type ApiAnswer,
  apiGet,
  decideUninstall,
  shouldUninstall,
  strategySwitch,
} from "./node_helper.ts";

const DS_LIVE: ApiAnswer = { status: 200, body: { metadata: { name: "tsn-proxy-agent" } } };
const NS_LIVE: ApiAnswer = { status: 200, body: { status: { phase: "Active" } } };

Deno.test("decideUninstall(): a restart keeps, a deletion uninstalls, doubt keeps", () => {
  const cases: Array<[ApiAnswer, ApiAnswer | undefined, boolean, RegExp]> = [
    [DS_LIVE, NS_LIVE, false, /restart or update/],
    [{ status: 404, body: {} }, undefined, true, /DaemonSet is gone/],
    [
      { status: 200, body: { metadata: { deletionTimestamp: "2025-01-01T00:00:00Z" } } },
      undefined,
      true,
      /being deleted/,
    ],
    [{ status: 401, body: {} }, undefined, false, /token is refused \(401\).*keeping/],
    [{ status: 403, body: {} }, undefined, true, /RBAC was removed/],
    [
      DS_LIVE,
      { status: 200, body: { status: { phase: "Terminating" } } },
      true,
      /namespace is being deleted/,
    ],
    [
      DS_LIVE,
      { status: 200, body: { metadata: { deletionTimestamp: "x" } } },
      true,
      /namespace is being deleted/,
    ],
    [DS_LIVE, { status: 404, body: {} }, true, /namespace is gone/],
    [DS_LIVE, { status: 403, body: {} }, true, /namespace: the agent's RBAC/],
    [{ error: "connection refused" }, undefined, false, /API not reachable/],
    [{ status: 500, body: {} }, undefined, false, /answered 500: keeping/],
    [{ status: 429, body: {} }, undefined, false, /answered 429/],
    [DS_LIVE, { error: "timed out" }, false, /namespace lookup failed/],
    [DS_LIVE, { status: 503, body: {} }, false, /in place/],
  ];
  for (const [ds, ns, uninstall, reason] of cases) {
    const d = decideUninstall(ds, ns);
    equal(d.uninstall, uninstall, `${JSON.stringify(ds)} ${JSON.stringify(ns)}: ${d.reason}`);
    match(d.reason, reason);
  }
});

Deno.test("shouldUninstall() asks for the DaemonSet, then the namespace only when needed", async () => {
  const env = { TSN_PROXY_NAMESPACE: "tsn-system", TSN_PROXY_DAEMONSET: "tsn-proxy-agent" };
  const asked: string[] = [];
  const fake = (answers: Record<string, ApiAnswer>) => (p: string) => {
    asked.push(p);
    return Promise.resolve(answers[p] ?? { status: 404, body: {} });
  };
  const dsPath = "/apis/apps/v1/namespaces/tsn-system/daemonsets/tsn-proxy-agent";
  const nsPath = "/api/v1/namespaces/tsn-system";
  let d = await shouldUninstall(env, fake({ [dsPath]: DS_LIVE, [nsPath]: NS_LIVE }));
  equal(d.uninstall, false);
  deepEqual(asked, [dsPath, nsPath]);
  asked.length = 0;
  d = await shouldUninstall(env, fake({}));
  equal(d.uninstall, true);
  deepEqual(asked, [dsPath], "a gone DaemonSet settles it");
  d = await shouldUninstall({}, fake({}));
  equal(d.uninstall, false, "without its env the helper keeps");
});

Deno.test("apiGet() sends the ServiceAccount token and turns transport errors into answers", async () => {
  const tokens: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    tokens.push(req.headers.get("authorization") ?? "");
    return Response.json({ kind: "DaemonSet" }, { status: 200 });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const a = await apiGet({ base, token: "t0ken", timeoutMs: 2000 }, "/x");
    deepEqual(a, { status: 200, body: { kind: "DaemonSet" } });
    deepEqual(tokens, ["Bearer t0ken"]);
  } finally {
    await server.shutdown();
  }
  const down = await apiGet({ base: "http://127.0.0.1:9", token: "", timeoutMs: 2000 }, "/x");
  ok("error" in down, JSON.stringify(down));
});

Deno.test("strategySwitch(): only a pinned datapath of another strategy is a switch", () => {
  const cfg = JSON.stringify({ strategy: "skb-data", stateDir: "/run/t" });
  const files = (state?: object, index?: object) => (p: string) => {
    if (p === "/run/t/datapath.json" && state) return JSON.stringify(state);
    if (p === "/run/t/attachments.json" && index) return JSON.stringify(index);
    throw new Error("ENOENT");
  };
  equal(strategySwitch(cfg, files()), null, "nothing pinned");
  equal(strategySwitch(cfg, files({ strategy: "skb-data" })), null, "same strategy: adopt");
  deepEqual(
    strategySwitch(cfg, files({ strategy: "skb-addr" }, { version: 1, attachments: [{}, {}] })),
    { from: "skb-addr", to: "skb-data", attachments: 2 },
  );
  let threw = false;
  try {
    strategySwitch("{}", files());
  } catch {
    threw = true;
  }
  ok(threw, "not --check output");
});
