import { equal, ok } from "node:assert/strict";
import { AgentMetrics, serveMetrics, snake } from "./metrics.ts";
import { httpGetUnix } from "./testing.ts";

Deno.test("serveMetrics() serves /metrics, /readyz and /healthz on a unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-metrics-" });
  const sock = `${dir}/m.sock`;
  let why: string | null = "datapath not loaded yet";
  const m = new AgentMetrics(() => null);
  const server = serveMetrics(`unix:${sock}`, m, () => why);
  try {
    m.observeRequest("ADD", "ok", 0.02);
    m.reconciler.rewrite("wrap-conf");
    m.handler.attachments(3);
    const ready = await httpGetUnix(sock, "/readyz");
    equal(ready.status, 503);
    ok(ready.body.includes("datapath not loaded yet"));
    why = null;
    equal((await httpGetUnix(sock, "/readyz")).status, 200);
    equal((await httpGetUnix(sock, "/healthz")).status, 200);
    const text = (await httpGetUnix(sock, "/metrics")).body;
    ok(text.includes('tsnproxy_cni_requests_total{command="ADD",result="ok"} 1'), text);
    ok(text.includes('tsnproxy_reconciler_rewrites_total{reason="wrap-conf"} 1'));
    ok(text.includes("tsnproxy_attachments 3"));
    ok(text.includes("tsnproxy_ready 1"));
    ok(text.includes("tsnproxy_datapath_records 0"));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snake() turns BPF counter names into label values", () => {
  equal(snake("rejectedFingerprint"), "rejected_fingerprint");
  equal(snake("saved"), "saved");
});
