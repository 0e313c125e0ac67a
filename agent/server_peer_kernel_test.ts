/**
 * The agent's socket refuses callers the kernel does not vouch for. The socket is opened up on
 * purpose (0666 in a 0755 directory, as a careless hostPath mount or chmod would leave it), so
 * only the peer-credential check stands between the caller and the handler. Callers are real
 * processes (socat) started as another user (setpriv) and in new user namespaces (unshare), the
 * way a container or an unprivileged tenant on the node would connect.
 */
import { equal, ok } from "node:assert/strict";
import { type AgentRequest, statusRequest } from "@tsn-proxy/cni/protocol";
import { ErrorCode } from "@tsn-proxy/cni";
import { type RefusalReason, serveCni } from "./server.ts";

function requireRoot(): void {
  // A kernel test fails with its reason when it cannot run: it never skips.
  if (Deno.uid() !== 0) throw new Error("this test needs root (setpriv, unshare, socket owner 0)");
}

/** Sends one request line with socat run under prefix; returns the parsed answer. */
async function ask(prefix: string[], path: string, req: AgentRequest) {
  const cmd = new Deno.Command(prefix[0] ?? "socat", {
    args: [...prefix.slice(1), "socat", "-t", "5", "-", `UNIX-CONNECT:${path}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const p = cmd.spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(req) + "\n"));
  await w.close();
  const out = await p.output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!text) throw new Error(`no answer: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text) as { ok: boolean; code?: number; details?: string };
}

async function withOpenSocket(
  fn: (path: string, served: AgentRequest[], refused: RefusalReason[], logs: string[]) => Promise<
    void
  >,
) {
  requireRoot();
  const dir = await Deno.makeTempDir({ prefix: "tsn-peer-" });
  const path = `${dir}/cni.sock`;
  const served: AgentRequest[] = [], refused: RefusalReason[] = [], logs: string[] = [];
  const server = await serveCni(
    path,
    (r) => {
      served.push(r);
      return Promise.resolve({ v: 1, ok: true });
    },
    (msg, fields) => logs.push(`${fields?.event ?? ""} ${msg}`),
    { refused: (r) => refused.push(r) },
  );
  try {
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(path, 0o666);
    await fn(path, served, refused, logs);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const req: AgentRequest = { ...statusRequest("peer test"), network: "k8s" };
const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

Deno.test("agent socket: root in the node's user namespace is served", async () => {
  await withOpenSocket(async (path, served, refused) => {
    const res = await ask(["env"], path, req);
    equal(res.ok, true, JSON.stringify(res));
    equal(served.length, 1);
    equal(refused.length, 0);
  });
});

Deno.test("agent socket: a non-root caller is refused (103), logged and counted", async () => {
  await withOpenSocket(async (path, served, refused, logs) => {
    const res = await ask(nobody, path, { ...req, command: "ADD", netns: "/run/netns/x" });
    equal(res.ok, false);
    equal(res.code, ErrorCode.CallerRefused, JSON.stringify(res));
    ok(res.details?.includes("uid 65534"), res.details);
    equal(served.length, 0, "the handler never saw the request");
    equal(refused.join(), "uid");
    ok(logs.some((l) => l.startsWith("cni.caller_refused")), logs.join("\n"));
  });
});

Deno.test("agent socket: root of a user namespace mapped to an unprivileged uid is refused", async () => {
  await withOpenSocket(async (path, served, refused) => {
    // Inside: uid 0. The agent's user namespace sees the mapped uid 65534.
    const res = await ask([...nobody, "unshare", "--user", "--map-root-user"], path, req);
    equal(res.code, ErrorCode.CallerRefused, JSON.stringify(res));
    equal(served.length, 0);
    equal(refused.join(), "uid");
  });
});

Deno.test("agent socket: root of a user namespace that maps 0 to 0 is refused", async () => {
  await withOpenSocket(async (path, served, refused) => {
    // `unshare --map-root-user` run by the host's root maps 0 -> 0: SO_PEERCRED says uid 0, but
    // the caller holds no capability in the node's user namespace.
    const res = await ask(["unshare", "--user", "--map-root-user"], path, req);
    equal(res.code, ErrorCode.CallerRefused, JSON.stringify(res));
    ok(res.details?.includes("another user namespace"), res.details);
    equal(served.length, 0);
    equal(refused.join(), "userns");
  });
});
