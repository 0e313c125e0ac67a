/**
 * A stand-in Kubernetes API for measurements and tests (plain HTTP on 127.0.0.1):
 *
 * - GET /api/v1/namespaces/NS/pods/NAME: a pod annotated `tsn-proxy.io/enabled: "true"` (404 for
 *   names starting with "gone-");
 * - GET /apis/apps/v1/namespaces/NS/daemonsets/NAME: the status code written in the file given as
 *   the second argument (200 when absent or empty);
 * - GET /api/v1/namespaces/NS: an Active namespace.
 *
 * `deno run --allow-net --allow-read k8s/testdata/fake_apiserver.ts PORT [DS_STATUS_FILE]`;
 * prints "listening PORT" when ready.
 *
 * @module
 */
const port = Number(Deno.args[0] ?? 0);
const dsStatusFile = Deno.args[1];

function dsStatus(): number {
  try {
    return Number(Deno.readTextFileSync(dsStatusFile!).trim()) || 200;
  } catch {
    return 200;
  }
}

const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
  const path = new URL(req.url).pathname;
  const pod = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path);
  if (pod && !pod[2]!.startsWith("gone-")) {
    return Response.json({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: pod[2],
        namespace: pod[1],
        annotations: { "tsn-proxy.io/enabled": "true" },
      },
    });
  }
  const ds = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/daemonsets\/([^/]+)$/.exec(path);
  if (ds) {
    const status = dsStatus();
    return Response.json({ kind: "DaemonSet", metadata: { name: ds[2] } }, { status });
  }
  if (/^\/api\/v1\/namespaces\/[^/]+$/.test(path)) {
    return Response.json({ kind: "Namespace", status: { phase: "Active" } });
  }
  return Response.json({ kind: "Status", code: 404, reason: "NotFound" }, { status: 404 });
});
console.log(`listening ${server.addr.port}`);
