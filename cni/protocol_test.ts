import { equal, ok, rejects } from "node:assert/strict";
import {
  AgentProtocolError,
  type AgentRequest,
  AgentUnavailableError,
  callAgent,
  readLine,
  writeMessage,
} from "./protocol.ts";

const req: AgentRequest = {
  v: 1,
  command: "ADD",
  network: "k8s",
  cniVersion: "1.0.0",
  containerId: "c1",
  netns: "/run/netns/p",
  ifname: "eth0",
  args: {},
  optIn: "yes",
  optInSource: "test",
};

async function fakeAgent(reply: (line: string) => string | null) {
  const dir = await Deno.makeTempDir({ prefix: "tsn-proto-" });
  const path = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const loop = (async () => {
    for await (const conn of listener) {
      const line = await readLine(conn);
      const out = reply(line);
      if (out === null) {
        await new Promise((r) => setTimeout(r, 300));
      } else {
        await conn.write(new TextEncoder().encode(out));
      }
      conn.close();
    }
  })().catch(() => {});
  return {
    path,
    async close() {
      listener.close();
      await loop;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("callAgent() sends one JSON line and reads one back", async () => {
  let seen = "";
  const a = await fakeAgent((line) => {
    seen = line;
    return '{"v":1,"ok":true,"attached":true}\n';
  });
  try {
    const res = await callAgent(a.path, req, 2000);
    ok(res.ok && res.attached);
    equal(JSON.parse(seen).containerId, "c1");
  } finally {
    await a.close();
  }
});

Deno.test("callAgent() reports a missing socket and a silent agent as unavailable", async () => {
  await rejects(callAgent("/nonexistent/tsn.sock", req, 500), AgentUnavailableError);
  const a = await fakeAgent(() => null);
  try {
    await rejects(callAgent(a.path, req, 100), AgentUnavailableError);
  } finally {
    await a.close();
  }
});

Deno.test("callAgent() refuses an answer that is not the protocol", async () => {
  const a = await fakeAgent(() => '{"hello":1}\n');
  try {
    await rejects(callAgent(a.path, req, 2000), AgentProtocolError);
  } finally {
    await a.close();
  }
});

Deno.test("writeMessage() and readLine() round-trip through a pipe-like buffer", async () => {
  const chunks: Uint8Array[] = [];
  await writeMessage({ write: (p) => (chunks.push(p.slice()), Promise.resolve(p.length)) }, {
    a: 1,
  });
  let i = 0;
  const line = await readLine({
    read: (p) => {
      const c = chunks[i++];
      if (!c) return Promise.resolve(null);
      p.set(c);
      return Promise.resolve(c.length);
    },
  });
  equal(line, '{"a":1}');
});
