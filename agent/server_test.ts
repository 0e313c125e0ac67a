import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { type AgentRequest, callAgent, statusRequest } from "@tsn-proxy/cni/protocol";
import { parseRequest, serveCni, socketInUse } from "./server.ts";

const req: AgentRequest = { ...statusRequest(), network: "k8s" };

Deno.test("serveCni() answers requests on a 0600 socket and removes it on close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-srv-" });
  const path = `${dir}/run/cni.sock`;
  const seen: AgentRequest[] = [];
  const server = await serveCni(path, (r) => {
    seen.push(r);
    return Promise.resolve({ v: 1, ok: true, detail: r.command });
  });
  try {
    equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const res = await callAgent(path, { ...req, command: "DEL", containerId: "c1" }, 2000);
    deepEqual(res, { v: 1, ok: true, detail: "DEL" });
    equal(seen[0]?.containerId, "c1");
    ok(await socketInUse(path));
    await rejects(
      serveCni(path, () => Promise.resolve({ v: 1, ok: true })),
      /another tsn-proxy agent/,
    );
  } finally {
    await server.close();
  }
  ok(!(await socketInUse(path)));
  await rejects(Deno.stat(path), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("serveCni() replaces a stale socket file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-srv-" });
  const path = `${dir}/cni.sock`;
  const stale = Deno.listen({ transport: "unix", path });
  stale.close(); // leaves the file, nobody listening (an agent that was killed)
  const server = await serveCni(path, () => Promise.resolve({ v: 1, ok: true }));
  try {
    ok((await callAgent(path, req, 2000)).ok);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseRequest() turns malformed requests into error answers", () => {
  const bad = parseRequest('{"v":1,"command":"UP"}');
  ok("ok" in bad && !bad.ok && bad.code === 100);
  const notJson = parseRequest("{");
  ok("ok" in notJson && !notJson.ok && notJson.code === 6);
  const good = parseRequest(JSON.stringify(req));
  ok("command" in good && good.command === "STATUS");
});

Deno.test("parseRequest() takes a default class only as an integer 1..4294967295", () => {
  const parse = (o: Record<string, unknown>) => parseRequest(JSON.stringify({ ...req, ...o }));
  for (const defaultPriority of [1, 7, 0xffffffff]) {
    const r = parse({ defaultPriority });
    ok("command" in r && r.defaultPriority === defaultPriority, String(defaultPriority));
  }
  for (const defaultPriority of [0, -1, 1.5, 2 ** 32, "5", null, [5], {}]) {
    const r = parse({ defaultPriority });
    ok("ok" in r && !r.ok && r.code === 100, JSON.stringify(defaultPriority));
  }
  ok("command" in parse({ defaultPriorityProblem: "bad value" }));
  for (const defaultPriorityProblem of [5, null, ["x"]]) {
    const r = parse({ defaultPriorityProblem });
    ok("ok" in r && !r.ok && r.code === 100, JSON.stringify(defaultPriorityProblem));
  }
});
