/**
 * Property-based tests (fast-check) of the agent's end of the plugin protocol: the real socket
 * server and CNI handler, with a real attachment index in a temp dir and a fake datapath that
 * records what it was asked to attach.
 *
 * - Arbitrary lines (bytes, JSON, requests with one field of the wrong type): exactly one answer
 *   per connection, a protocol message with a CNI error code; nothing recorded, nothing attached.
 * - ADD requests whose target is not a pod interface (a container id or interface name the spec
 *   forbids, a netns that is not an absolute path, the node's own netns) are refused with 4 and
 *   leave nothing; an attach the datapath refuses is 102 and leaves nothing.
 * - A request over the 1 MiB bound is answered (100) instead of dropped; 64 connections at once
 *   with arbitrary content are all answered, and the server still serves afterwards.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import type { AgentRequest, AgentResponse } from "@tsn-proxy/cni/protocol";
import { readLine } from "@tsn-proxy/cni/protocol";
import { netnsPathProblem } from "@tsn-proxy/cni";
import { AttachmentIndex } from "./attachments.ts";
import { CniHandler, type DatapathPort } from "./handler.ts";
import { parsePolicy } from "./policy.ts";
import { serveCni } from "./server.ts";

const RUNS = 1000;

class RecordingDatapath implements DatapathPort {
  attached: string[] = [];
  failWith: string | null = null;
  notReady() {
    return null;
  }
  attach(o: { id: string }) {
    if (this.failWith) throw new Error(this.failWith);
    this.attached.push(o.id);
  }
  detach(id: string) {
    const had = this.attached.includes(id);
    this.attached = this.attached.filter((x) => x !== id);
    return had;
  }
  has(id: string) {
    return this.attached.includes(id);
  }
  missingPins() {
    return [];
  }
}

async function withServer(
  fn: (
    ask: (bytes: Uint8Array) => Promise<string>,
    ctx: { dp: RecordingDatapath; index: AttachmentIndex; netns: string },
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "tsn-srv-fuzz-" });
  const netns = join(dir, "netns");
  Deno.writeTextFileSync(netns, ""); // stands for a pod's netns path
  const dp = new RecordingDatapath();
  const index = new AttachmentIndex(join(dir, "attachments.json"));
  const handler = new CniHandler({
    datapath: dp,
    index,
    policy: parsePolicy({ defaultMaxPriority: 0 }),
    ready: () => null,
    // The temp file stands in for a runtime's netns; every other path meets the real check.
    netnsProblem: (p) => p === netns ? null : netnsPathProblem(p),
    log: () => {},
  });
  const socket = join(dir, "cni.sock");
  const server = await serveCni(socket, (req) => handler.handle(req));
  const ask = async (bytes: Uint8Array): Promise<string> => {
    const conn = await Deno.connect({ transport: "unix", path: socket });
    try {
      // The server may answer and hang up before it read everything (oversized requests).
      const writing = (async () => {
        let off = 0;
        while (off < bytes.length) off += await conn.write(bytes.subarray(off));
        await conn.closeWrite();
      })().catch(() => {});
      const line = await readLine(conn);
      await writing;
      return line;
    } finally {
      conn.close();
    }
  };
  try {
    await fn(ask, { dp, index, netns });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function answer(line: string): AgentResponse {
  const r = JSON.parse(line) as AgentResponse;
  equal(r.v, 1);
  ok(typeof r.ok === "boolean");
  if (!r.ok) ok(Number.isInteger(r.code) && r.code > 0 && typeof r.msg === "string");
  return r;
}

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v) + "\n");

function addRequest(netns: string, o: Partial<AgentRequest> = {}): AgentRequest {
  return {
    v: 1,
    command: "ADD",
    network: "k8s",
    cniVersion: "1.0.0",
    containerId: "c0ffee",
    netns,
    ifname: "eth0",
    args: { K8S_POD_NAMESPACE: "ns", K8S_POD_NAME: "p" },
    optIn: "yes",
    optInSource: "annotation",
    ...o,
  };
}

const KEYS = [
  "v",
  "command",
  "network",
  "cniVersion",
  "containerId",
  "netns",
  "ifname",
  "args",
  "optIn",
  "optInSource",
  "validAttachments",
];

Deno.test("fuzz: arbitrary request lines get one protocol answer each; nothing recorded, nothing attached", async () => {
  await withServer(async (ask, { dp, index, netns }) => {
    let tried = 0;
    const codes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((b) => b.filter((x) => x !== 0x0a)),
          fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
          // A valid ADD with one key set to a value of the wrong type, or removed.
          fc.tuple(
            fc.constantFrom(...KEYS),
            fc.oneof(fc.jsonValue(), fc.constant(undefined)),
          ).filter(([k, v]) => {
            const good = addRequest(netns) as unknown as Record<string, unknown>;
            return typeof v !== typeof good[k] || v === null || Array.isArray(v) ||
              k === "args" || k === "validAttachments" || k === "v" || k === "command" ||
              k === "optIn";
          }).map(([k, v]) => {
            const r = addRequest(netns) as unknown as Record<string, unknown>;
            if (v === undefined) delete r[k];
            else r[k] = v;
            return new TextEncoder().encode(JSON.stringify(r));
          }),
        ),
        async (bytes) => {
          tried++;
          const before = dp.attached.length;
          const r = answer(await ask(bytes));
          if (r.ok) {
            // Only a well-formed request can succeed: it must parse as one.
            const req = JSON.parse(new TextDecoder().decode(bytes));
            ok(typeof req.containerId === "string" && Array.isArray(req.validAttachments ?? []));
            // and if it attached, it was a valid ADD.
            if (dp.attached.length > before) equal(req.command, "ADD");
          } else {
            codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
            equal(dp.attached.length, before, "an error answer, yet something was attached");
            ok(r.code !== 999, `a malformed request hit the handler: ${r.details ?? r.msg}`);
          }
        },
      ),
      { numRuns: RUNS },
    );
    // Shapes the handler must never see: GC's list not a list, CNI_ARGS values not strings.
    for (
      const bad of [
        { ...addRequest(netns), command: "GC", validAttachments: {} },
        { ...addRequest(netns), command: "GC", validAttachments: [{ containerID: 1 }] },
        { ...addRequest(netns), args: { K8S_POD_NAMESPACE: 5 } },
      ]
    ) {
      const r = answer(await ask(enc(bad)));
      ok(!r.ok && r.code === 100, `${JSON.stringify(bad)}: ${JSON.stringify(r)}`);
    }
    // Every attachment recorded is one the datapath holds, and vice versa.
    deepEqual(index.list().map((a) => a.id).sort(), [...dp.attached].sort());
    console.log(`request lines: ${tried}, errors ${JSON.stringify(Object.fromEntries(codes))}`);
  });
});

Deno.test("fuzz: ADD of a target that is not a pod interface is refused (4) and leaves nothing", async () => {
  await withServer(async (ask, { dp, index, netns }) => {
    let tried = 0;
    const bad = fc.oneof(
      fc.oneof(fc.constant(""), fc.string().map((s) => `-${s}`), fc.string().map((s) => `a/${s}`))
        .map((containerId) => ({ containerId })),
      fc.oneof(fc.constantFrom("", ".", "..", "a/b", "a:b", "a b"), fc.string({ minLength: 16 }))
        .map((ifname) => ({ ifname })),
      fc.oneof(fc.constant(""), fc.string().filter((s) => !s.startsWith("/")))
        .map((n) => ({ netns: n })),
      fc.constantFrom("/proc/self/ns/net", "/proc/thread-self/ns/net", `/proc/${Deno.pid}/ns/net`)
        .map((n) => ({ netns: n })),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (o) => {
        tried++;
        const r = answer(await ask(enc(addRequest(netns, o))));
        ok(!r.ok && r.code === 4, `${JSON.stringify(o)}: ${JSON.stringify(r)}`);
        equal(dp.attached.length, 0);
        equal(index.list().length, 0);
      }),
      { numRuns: RUNS },
    );
    // An attach the kernel refuses: 102, nothing recorded.
    dp.failWith = "ENODEV: no eth0 in that netns";
    const r = answer(await ask(enc(addRequest(netns))));
    ok(!r.ok && r.code === 102);
    equal(index.list().length, 0);
    dp.failWith = null;
    ok(answer(await ask(enc(addRequest(netns)))).ok, "a good ADD still works");
    equal(index.list().length, 1);
    console.log(`bad targets: ${tried}, each refused with 4, nothing recorded`);
  });
});

Deno.test("an oversized request is answered; 64 connections at once are all answered", async () => {
  await withServer(async (ask, { netns }) => {
    const huge = new TextEncoder().encode(`{"v":1,"x":"${"a".repeat(1 << 21)}"}\n`);
    const r = answer(await ask(huge));
    ok(!r.ok && r.code === 100, JSON.stringify(r));
    const lines = fc.sample(
      fc.oneof(
        fc.jsonValue().map((v) => enc(v)),
        fc.constant(enc(addRequest(netns, { command: "STATUS" }))),
      ),
      { numRuns: 64, seed: 3 },
    );
    const answers = await Promise.all(lines.map((l) => ask(l)));
    equal(answers.filter((a) => answer(a) !== undefined).length, 64);
    ok(answer(await ask(enc(addRequest(netns, { command: "STATUS" })))).ok);
  });
});
