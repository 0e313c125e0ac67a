import { equal, ok, rejects, throws } from "node:assert/strict";
import {
  AgentProtocolError,
  type AgentRequest,
  AgentUnavailableError,
  callAgent,
  checkRequest,
  checkResponse,
  MAX_ARGS,
  MAX_FIELD_CHARS,
  parseResponse,
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

Deno.test("checkRequest() names the field that breaks a request", () => {
  const base = JSON.parse(JSON.stringify(req)) as Record<string, unknown>;
  const refuses = (patch: Record<string, unknown>, why: RegExp) => {
    const bad = { ...base, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete bad[k];
    throws(
      () => checkRequest(bad),
      (e: unknown) => e instanceof AgentProtocolError && why.test(e.message),
    );
  };
  equal(checkRequest(base).containerId, "c1");
  throws(() => checkRequest(null), /request: null, not an object/);
  throws(() => checkRequest([base]), /request: a list, not an object/);
  refuses({ v: 2 }, /request\.v: not protocol version 1/);
  refuses({ command: "UP" }, /request\.command: not one of ADD/);
  refuses({ containerId: undefined }, /request\.containerId: missing, not a string/);
  refuses({ netns: 5 }, /request\.netns: a number, not a string/);
  refuses({ netns: "/x".repeat(MAX_FIELD_CHARS) }, /request\.netns: longer than 4096/);
  refuses({ optIn: "maybe" }, /request\.optIn: not one of yes, no, unknown/);
  refuses({ args: [] }, /request\.args: a list, not an object/);
  refuses({ args: { K8S_POD_NAME: 5 } }, /request\.args\.K8S_POD_NAME: a number/);
  refuses(
    { args: Object.fromEntries(Array.from({ length: MAX_ARGS + 1 }, (_, i) => [`K${i}`, ""])) },
    /request\.args: more than 64 entries/,
  );
  refuses({ defaultPriority: 0 }, /request\.defaultPriority: not an integer 1\.\.4294967295/);
  refuses({ defaultPriority: "5" }, /request\.defaultPriority/);
  refuses({ defaultPriorityProblem: 7 }, /request\.defaultPriorityProblem: a number/);
  refuses({ validAttachments: {} }, /request\.validAttachments: an object, not a list/);
  refuses({ validAttachments: [null] }, /request\.validAttachments\[0\]: null, not an object/);
  refuses(
    { validAttachments: [{ containerID: "c", ifname: "eth0", extra: 1 }] },
    /request\.validAttachments\[0\]: unknown field "extra"/,
  );
  refuses(
    { validAttachments: [{ containerID: 1, ifname: "eth0" }] },
    /request\.validAttachments\[0\]\.containerID: a number/,
  );
  refuses({ admin: true }, /request: unknown field "admin"/);
  const proto = JSON.parse(JSON.stringify(req).replace("{", '{"__proto__":{"admin":true},'));
  throws(() => checkRequest(proto), /request: unknown field "__proto__"/);
});

Deno.test("checkResponse() names the field that breaks an answer", () => {
  equal(checkResponse({ v: 1, ok: true, attached: true, detail: "x" }).ok, true);
  equal(checkResponse({ v: 1, ok: false, code: 11, msg: "m", details: "d" }).ok, false);
  const refuses = (v: unknown, why: RegExp) =>
    throws(
      () => checkResponse(v),
      (e: unknown) => e instanceof AgentProtocolError && why.test(e.message),
    );
  refuses("ok", /response: a string, not an object/);
  refuses({ v: 0, ok: true }, /response\.v: not protocol version 1/);
  refuses({ v: 1, ok: "yes" }, /response\.ok: a string, not a boolean/);
  refuses({ v: 1, ok: true, attached: 1 }, /response\.attached: a number, not a boolean/);
  refuses({ v: 1, ok: true, code: 4 }, /response: unknown field "code"/);
  refuses({ v: 1, ok: false, msg: "m" }, /response\.code: not a CNI error code/);
  refuses({ v: 1, ok: false, code: 1.5, msg: "m" }, /response\.code/);
  refuses({ v: 1, ok: false, code: 4 }, /response\.msg: missing, not a string/);
  throws(() => parseResponse('{"v":1,"ok":false,"code":4}'), /malformed message \(response\.msg/);
});
