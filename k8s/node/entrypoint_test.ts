/**
 * k8s/node/entrypoint.sh with a stand-in `tsnproxy` (it logs its calls, prints a `--check` result
 * and runs until SIGTERM) and a stand-in API server: the config assembly, the signal path and the
 * uninstall decision, as the container runs them. The real agent under the same script:
 * k8s/entrypoint_kernel_test.ts.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";

const HERE = new URL(".", import.meta.url).pathname;
const ENTRYPOINT = join(HERE, "entrypoint.sh");

const FAKE_TSNPROXY = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *--check*) [ -n "\${FAKE_BAD_CONFIG:-}" ] && { echo "config error" >&2; exit 2; }
             printf '{"strategy":"%s","stateDir":"%s"}\\n' "$FAKE_STRATEGY" "$FAKE_STATE"; exit 0 ;;
  *--uninstall*) exit 0 ;;
esac
[ -n "\${FAKE_CRASH:-}" ] && exit 3
trap 'echo stopped >> "$FAKE_LOG"; exit 0' TERM
echo running >> "$FAKE_LOG"
while :; do sleep 0.05; done
`;

interface Run {
  code: number;
  calls: string[];
  stderr: string;
  merged: string;
  apiPaths: string[];
  watchPaths: string[];
}

async function runEntrypoint(o: {
  dsStatus?: number;
  crash?: boolean;
  badConfig?: boolean;
  pinnedStrategy?: string;
  term?: boolean;
  /** The watch reports the DaemonSet DELETED; the SIGTERM questions then get 401. */
  deletedWhileRunning?: boolean;
}): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "tsn-entry-" });
  const apiPaths: string[] = [];
  const watchPaths: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    // The watcher beside the agent: its GET and watch are kept apart from the SIGTERM questions.
    const watcher = req.headers.get("user-agent")?.endsWith("/watch") === true;
    (watcher ? watchPaths : apiPaths).push(`${path}${url.search}`.replace(/\?$/, ""));
    if (url.searchParams.get("watch") === "1") {
      const events = o.deletedWhileRunning
        ? JSON.stringify({ type: "DELETED", object: { metadata: { name: "ds" } } }) + "\n"
        : "";
      return new Response(events, { headers: { "content-type": "application/json" } });
    }
    if (o.deletedWhileRunning && !watcher) {
      return Response.json({ kind: "Status", code: 401 }, { status: 401 });
    }
    if (path.includes("/daemonsets/")) {
      return Response.json({ metadata: { name: "ds", resourceVersion: "7" } }, {
        status: o.dsStatus ?? 200,
      });
    }
    return Response.json({ status: { phase: "Active" } });
  });
  try {
    const launcher = join(dir, "tsnproxy");
    await Deno.writeTextFile(launcher, FAKE_TSNPROXY, { mode: 0o755 });
    // No newline at the end: the entrypoint must not glue `policy:` to the last line.
    await Deno.writeTextFile(join(dir, "agent.yaml"), "strategy: skb-data\nrestoreOn: [eth1]");
    await Deno.writeTextFile(join(dir, "policy.yaml"), "policy:\n  defaultMaxPriority: 0\n");
    await Deno.writeTextFile(join(dir, "token"), "tok\n");
    const state = join(dir, "state");
    await Deno.mkdir(state);
    if (o.pinnedStrategy) {
      await Deno.writeTextFile(
        join(state, "datapath.json"),
        JSON.stringify({ strategy: o.pinnedStrategy }),
      );
    }
    const log = join(dir, "calls.log");
    const env: Record<string, string> = {
      PATH: "/usr/bin:/bin",
      TSN_PROXY_LAUNCHER: launcher,
      TSN_PROXY_DENO: Deno.execPath(),
      TSN_PROXY_HELPER: join(HERE, "node_helper.ts"),
      TSN_PROXY_AGENT_CONFIG: join(dir, "agent.yaml"),
      TSN_PROXY_POLICY_CONFIG: join(dir, "policy.yaml"),
      TSN_PROXY_WORK: join(dir, "work"),
      TSN_PROXY_API_URL: `http://127.0.0.1:${server.addr.port}`,
      TSN_PROXY_TOKEN_FILE: join(dir, "token"),
      TSN_PROXY_NAMESPACE: "tsn-system",
      TSN_PROXY_DAEMONSET: "tsn-proxy-agent",
      FAKE_LOG: log,
      FAKE_STRATEGY: "skb-data",
      FAKE_STATE: state,
      ...(o.crash ? { FAKE_CRASH: "1" } : {}),
      ...(o.badConfig ? { FAKE_BAD_CONFIG: "1" } : {}),
    };
    const child = new Deno.Command("/bin/sh", {
      args: [ENTRYPOINT],
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const calls = () => {
      try {
        return Deno.readTextFileSync(log).trim().split("\n");
      } catch {
        return [];
      }
    };
    if (o.term !== false && !o.crash && !o.badConfig) {
      const deadline = Date.now() + 15_000;
      while (!calls().includes("running") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      ok(calls().includes("running"), `the agent never ran: ${calls()}`);
      // A deletion comes before the pod's SIGTERM: let the watch see it first.
      const marker = join(dir, "work/daemonset-deleted");
      while (o.deletedWhileRunning && Date.now() < deadline) {
        if (await Deno.stat(marker).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGTERM");
    }
    const out = await child.output();
    let merged = "";
    try {
      merged = await Deno.readTextFile(join(dir, "work/agent.yaml"));
    } catch { /* not assembled */ }
    return {
      code: out.code,
      calls: calls(),
      stderr: new TextDecoder().decode(out.stderr),
      merged,
      apiPaths,
      watchPaths,
    };
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("entrypoint.sh: SIGTERM while the DaemonSet lives stops the agent and keeps the node", async () => {
  const r = await runEntrypoint({ dsStatus: 200 });
  equal(r.code, 0, r.stderr);
  equal(r.merged, "strategy: skb-data\nrestoreOn: [eth1]\npolicy:\n  defaultMaxPriority: 0\n");
  deepEqual(r.calls.map((c) => c.replace(/--config \S+/, "--config CFG")), [
    "agent --config CFG --check",
    "agent --config CFG",
    "running",
    "stopped",
  ]);
  deepEqual(r.apiPaths, [
    "/apis/apps/v1/namespaces/tsn-system/daemonsets/tsn-proxy-agent",
    "/api/v1/namespaces/tsn-system",
  ]);
  match(r.stderr, /keeping the datapath/);
});

Deno.test("entrypoint.sh: SIGTERM after the DaemonSet was deleted uninstalls", async () => {
  const r = await runEntrypoint({ dsStatus: 404 });
  equal(r.code, 0, r.stderr);
  equal(r.calls.at(-2), "stopped");
  match(r.calls.at(-1)!, /--uninstall$/);
  match(r.stderr, /DaemonSet is gone \(404\)/);
  match(r.stderr, /uninstalling tsn-proxy/);
});

Deno.test("entrypoint.sh: a crashed agent is never taken for an uninstall", async () => {
  const r = await runEntrypoint({ crash: true, dsStatus: 404 });
  equal(r.code, 3);
  ok(!r.calls.some((c) => c.includes("--uninstall")), r.calls.join("\n"));
  deepEqual(r.apiPaths, [], "the API is not even asked");
});

Deno.test("entrypoint.sh: an invalid config stops before the agent runs (exit 2)", async () => {
  const r = await runEntrypoint({ badConfig: true });
  equal(r.code, 2);
  match(r.stderr, /configuration in the ConfigMaps is invalid/);
  equal(r.calls.length, 1);
});

Deno.test("entrypoint.sh: a new strategy removes the pinned datapath first", async () => {
  const r = await runEntrypoint({ dsStatus: 200, pinnedStrategy: "skb-addr" });
  equal(r.code, 0, r.stderr);
  match(r.calls[1]!, /--uninstall$/);
  match(r.calls[2]!, /^agent --config \S+$/);
  match(r.stderr, /runs skb-addr, the config says skb-data/);
});

Deno.test("entrypoint.sh: a deletion the watch saw uninstalls even when the token is refused by then", async () => {
  const r = await runEntrypoint({ deletedWhileRunning: true });
  equal(r.code, 0, r.stderr);
  ok(
    r.watchPaths.some((p) => p.includes("watch=1&fieldSelector=metadata.name%3Dtsn-proxy-agent")),
    r.watchPaths.join("\n"),
  );
  equal(r.calls.at(-2), "stopped");
  match(r.calls.at(-1)!, /--uninstall$/);
  match(r.stderr, /the DaemonSet was deleted \(watch\); uninstalling tsn-proxy/);
  deepEqual(r.apiPaths, [], "no second question: the marker settles it");
});

Deno.test("entrypoint.sh: a refused token (401) at SIGTERM alone keeps the node", async () => {
  const r = await runEntrypoint({ dsStatus: 401 });
  equal(r.code, 0, r.stderr);
  ok(!r.calls.some((c) => c.includes("--uninstall")), r.calls.join("\n"));
  match(r.stderr, /token is refused \(401\)/);
  match(r.stderr, /keeping the datapath/);
});
