import { deepEqual, equal, ok } from "node:assert/strict";
import type { AgentRequest, AgentResponse } from "@tsn-proxy/cni/protocol";
import { netnsPathProblem } from "@tsn-proxy/cni";
import { attachmentId, AttachmentIndex } from "./attachments.ts";
import { CniHandler, type DatapathPort } from "./handler.ts";
import type { PodLookup } from "./k8s.ts";
import type { LogFields } from "./log.ts";
import { parsePolicy, type TxtimeRule } from "./policy.ts";

class FakeDatapath implements DatapathPort {
  pods = new Map<string, { netns: string; ifname: string; maxPriority?: number }>();
  notReadyReason: string | null = null;
  failAttach: string | null = null;
  notReady() {
    return this.notReadyReason;
  }
  txtimes = new Map<string, TxtimeRule | undefined>();
  attach(
    o: { id: string; netns: string; ifname: string; maxPriority?: number; txtime?: TxtimeRule },
  ) {
    if (this.failAttach) throw new Error(this.failAttach);
    const { id, txtime, ...rest } = o;
    this.pods.set(id, rest);
    this.txtimes.set(id, txtime);
  }
  detach(id: string) {
    return this.pods.delete(id);
  }
  has(id: string) {
    return this.pods.has(id);
  }
  missingPins(_id: string) {
    return [];
  }
  failClamp = false;
  setClamp(id: string, maxPriority: number | null) {
    const pod = this.pods.get(id);
    if (!pod || this.failClamp) return false;
    this.pods.set(id, { ...pod, ...(maxPriority === null ? {} : { maxPriority }) });
    if (maxPriority === null) delete this.pods.get(id)!.maxPriority;
    return true;
  }
}

async function setup(lookup?: PodLookup) {
  const dir = await Deno.makeTempDir({ prefix: "tsn-handler-" });
  const netns = `${dir}/netns-a`;
  await Deno.writeTextFile(netns, ""); // stands for a live netns path
  const dp = new FakeDatapath();
  const index = new AttachmentIndex(`${dir}/attachments.json`);
  const logs: string[] = [];
  const events: LogFields[] = [];
  const decisions: string[] = [];
  const clamps: string[] = [];
  const handler = new CniHandler({
    datapath: dp,
    index,
    policy: parsePolicy({
      defaultMaxPriority: 0,
      namespaces: { cell: 5, free: "unlimited" },
      denyTxtime: ["free"],
      txtimeHorizonMs: 500,
    }),
    ...(lookup ? { lookup } : {}),
    ready: () => dp.notReadyReason,
    // The temp file stands in for a runtime's netns; every other path meets the real check.
    netnsProblem: (p) => p === netns ? null : netnsPathProblem(p),
    log: (m, f) => {
      logs.push(m);
      if (f) events.push(f);
    },
    metrics: {
      optInLookup: () => {},
      attachments: () => {},
      decision: (d) => decisions.push(d),
      clamp: (ns) => clamps.push(ns),
    },
  });
  const req = (o: Partial<AgentRequest>): AgentRequest => ({
    v: 1,
    command: "ADD",
    network: "k8s",
    cniVersion: "1.0.0",
    containerId: "c1",
    netns,
    ifname: "eth0",
    args: { K8S_POD_NAMESPACE: "cell", K8S_POD_NAME: "talker" },
    optIn: "yes",
    optInSource: "annotation",
    ...o,
  });
  return {
    dp,
    index,
    handler,
    req,
    netns,
    logs,
    events,
    decisions,
    clamps,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function code(r: AgentResponse): number {
  return r.ok ? 0 : r.code;
}

Deno.test("CniHandler ADD attaches an opted-in pod with its namespace's clamp", async () => {
  await using t = await setup();
  const res = await t.handler.handle(t.req({}));
  ok(res.ok && res.attached);
  const id = attachmentId("k8s", "c1", "eth0");
  deepEqual(t.dp.pods.get(id), { netns: t.netns, ifname: "eth0", maxPriority: 5 });
  equal(t.index.get(id)?.status, "attached");
  await t.handler.handle(t.req({ containerId: "c2", args: { K8S_POD_NAMESPACE: "free" } }));
  equal(t.dp.pods.get(attachmentId("k8s", "c2", "eth0"))?.maxPriority, undefined, "unlimited");
  deepEqual(t.dp.txtimes.get(id), { allowed: true, horizonNs: 500_000_000n }, "cell: txtimes");
  deepEqual(
    t.dp.txtimes.get(attachmentId("k8s", "c2", "eth0")),
    { allowed: false, horizonNs: 500_000_000n },
    "free is denied txtimes",
  );
  await t.handler.handle(t.req({ containerId: "c3", args: {} }));
  equal(t.dp.pods.get(attachmentId("k8s", "c3", "eth0"))?.maxPriority, 0, "default");
  const again = await t.handler.handle(t.req({}));
  ok(again.ok && again.attached, "ADD is idempotent");
  equal(t.dp.pods.size, 3);
});

Deno.test("CniHandler ADD refuses a netns outside the runtimes' directories (4), attaches nothing", async () => {
  await using t = await setup();
  Deno.writeTextFileSync(`${t.netns}-elsewhere`, "");
  for (
    const netns of [
      `${t.netns}-elsewhere`, // an existing file the runtimes never create
      "/proc/1/ns/net", // pid 1's netns: the node's, or another container's in a pod pid ns
      "/proc/self/ns/net",
      "/run/netns/../../proc/1/ns/net",
      "/var/run/netns/sub/dir",
      "/run/netns//x",
      "/run/netns/",
      "/etc/passwd",
    ]
  ) {
    const res = await t.handler.handle(t.req({ netns }));
    equal(code(res), 4, `${netns}: ${JSON.stringify(res)}`);
  }
  equal(t.dp.pods.size, 0);
  deepEqual(t.index.list(), []);
  ok(t.logs.some((l) => l.includes("not a network namespace a supported runtime creates")));
});

Deno.test("CniHandler ADD leaves a pod that did not opt in alone", async () => {
  await using t = await setup();
  const res = await t.handler.handle(t.req({ optIn: "no" }));
  ok(res.ok && res.attached === false);
  equal(t.dp.pods.size, 0);
  deepEqual(t.index.list(), []);
});

Deno.test("CniHandler ADD with unknown opt-in asks the API, and fails open when it cannot", async () => {
  const pods: Record<string, Record<string, string> | null> = {
    "cell/talker": { "tsn-proxy.io/enabled": "true" },
    "cell/plain": {},
    "cell/yes": { "tsn-proxy.io/enabled": "yes" },
  };
  let broken = false;
  const lookup: PodLookup = {
    annotations: (ns, name) =>
      broken
        ? Promise.reject(new Error("API down"))
        : Promise.resolve(pods[`${ns}/${name}`] ?? null),
  };
  await using t = await setup(lookup);
  ok((await t.handler.handle(t.req({ optIn: "unknown" }))).ok);
  equal(t.dp.pods.size, 1);
  const plain = await t.handler.handle(
    t.req({
      optIn: "unknown",
      containerId: "c2",
      args: { K8S_POD_NAMESPACE: "cell", K8S_POD_NAME: "plain" },
    }),
  );
  ok(plain.ok && plain.attached === false);
  // The API path reads the annotation as the plugin does ("yes" opts in there too).
  const yes = await t.handler.handle(
    t.req({
      optIn: "unknown",
      containerId: "c4",
      args: { K8S_POD_NAMESPACE: "cell", K8S_POD_NAME: "yes" },
    }),
  );
  ok(yes.ok && yes.attached === true, JSON.stringify(yes));
  equal(t.dp.pods.size, 2);
  broken = true;
  const down = await t.handler.handle(t.req({ optIn: "unknown", containerId: "c3" }));
  ok(down.ok && down.attached === false, "an API outage must not block pods");
  ok(t.logs.some((l) => l.includes("API down")));
  equal(t.dp.pods.size, 2);
});

Deno.test("CniHandler ADD fails with 11 while the datapath is not ready, 102 when attach fails", async () => {
  await using t = await setup();
  t.dp.notReadyReason = "datapath up failed: no nic0";
  equal(code(await t.handler.handle(t.req({}))), 11);
  t.dp.notReadyReason = null;
  t.dp.failAttach = "ENODEV";
  const res = await t.handler.handle(t.req({}));
  equal(code(res), 102);
  ok(!res.ok && res.details?.includes("ENODEV"));
  deepEqual(t.index.list(), [], "no record left after a failed ADD");
});

Deno.test("CniHandler DEL detaches and is idempotent; CHECK reports a missing saver", async () => {
  await using t = await setup();
  await t.handler.handle(t.req({}));
  equal(code(await t.handler.handle(t.req({ command: "CHECK", optIn: "unknown" }))), 0);
  t.dp.pods.clear(); // something removed the saver behind the agent's back
  equal(code(await t.handler.handle(t.req({ command: "CHECK", optIn: "unknown" }))), 101);
  equal(code(await t.handler.handle(t.req({ command: "CHECK", optIn: "no" }))), 0);
  await t.handler.handle(t.req({}));
  equal(code(await t.handler.handle(t.req({ command: "DEL" }))), 0);
  equal(t.dp.pods.size, 0);
  deepEqual(t.index.list(), []);
  equal(code(await t.handler.handle(t.req({ command: "DEL", netns: "" }))), 0);
});

Deno.test("CniHandler GC removes only this network's attachments that are not valid", async () => {
  await using t = await setup();
  for (const c of ["c1", "c2"]) await t.handler.handle(t.req({ containerId: c }));
  await t.handler.handle(t.req({ containerId: "c3", network: "tsn-net" }));
  const res = await t.handler.handle(
    t.req({ command: "GC", validAttachments: [{ containerID: "c2", ifname: "eth0" }] }),
  );
  ok(res.ok);
  deepEqual(
    [...t.dp.pods.keys()].sort(),
    [attachmentId("k8s", "c2", "eth0"), attachmentId("tsn-net", "c3", "eth0")].sort(),
  );
});

Deno.test("CniHandler sweep removes attachments whose netns is gone; STATUS follows readiness", async () => {
  await using t = await setup();
  await t.handler.handle(t.req({}));
  await t.handler.handle(t.req({ containerId: "c2", netns: "/run/netns/tsn-gone-for-sure" }));
  equal(t.handler.sweep(), 1);
  deepEqual([...t.dp.pods.keys()], [attachmentId("k8s", "c1", "eth0")]);
  equal(code(await t.handler.handle(t.req({ command: "STATUS" }))), 0);
  t.dp.notReadyReason = "conf entry missing";
  equal(code(await t.handler.handle(t.req({ command: "STATUS" }))), 50);
});

Deno.test("CniHandler logs one structured event per decision and counts it", async () => {
  await using t = await setup();
  await t.handler.handle(t.req({})); // cell: clamped to 5
  await t.handler.handle(t.req({ containerId: "c2", args: { K8S_POD_NAMESPACE: "free" } }));
  await t.handler.handle(t.req({ containerId: "c3", optIn: "unknown" })); // no API: skipped
  t.dp.notReadyReason = "datapath pins missing";
  await t.handler.handle(t.req({ containerId: "c4" }));
  t.dp.notReadyReason = null;
  t.dp.failAttach = "ENODEV";
  await t.handler.handle(t.req({ containerId: "c5" }));
  t.dp.failAttach = null;
  await t.handler.handle(t.req({ command: "DEL" }));
  deepEqual(t.events.map((e) => e.event), [
    "policy.clamp",
    "pod.attached",
    "pod.attached",
    "pod.skipped",
    "pod.refused",
    "policy.clamp",
    "pod.attach_failed",
    "pod.detached",
  ]);
  const attached = t.events[1]!;
  equal(attached.namespace, "cell");
  equal(attached.pod, "talker");
  equal(attached.maxPriority, 5);
  equal(attached.id, attachmentId("k8s", "c1", "eth0"));
  equal(t.events[0]!.rule, "namespaces.cell");
  equal(t.events[2]!.maxPriority, null, "namespace free is unlimited: no clamp event");
  ok(String(t.events[3]!.reason).includes("API lookup is disabled"));
  equal(t.events[4]!.level, "warn");
  equal(t.events[4]!.code, 11);
  equal(t.events[6]!.error, "ENODEV");
  equal(t.events[7]!.reason, "DEL");
  deepEqual(t.decisions, ["attached", "attached", "skipped", "refused", "failed", "detached"]);
  deepEqual(t.clamps, ["cell", "cell"]);
});

Deno.test("CniHandler.applyPolicy() re-clamps running savers whose maximum changed, and new pods", async () => {
  await using t = await setup();
  await t.handler.handle(t.req({})); // cell: 5
  await t.handler.handle(t.req({ containerId: "c2", args: { K8S_POD_NAMESPACE: "free" } }));
  await t.handler.handle(t.req({ containerId: "c3", args: { K8S_POD_NAMESPACE: "other" } }));
  const id = (c: string) => attachmentId("k8s", c, "eth0");
  // cell drops to 1, free loses its "unlimited" (emptied: 0), other stays at the default 0.
  const r = t.handler.applyPolicy(parsePolicy({ namespaces: { cell: 1, free: null } }));
  deepEqual(r, { changed: 2, failed: 0 });
  equal(t.dp.pods.get(id("c1"))?.maxPriority, 1);
  equal(t.dp.pods.get(id("c2"))?.maxPriority, 0);
  equal(t.dp.pods.get(id("c3"))?.maxPriority, 0);
  equal(t.index.get(id("c1"))?.maxPriority, 1, "the index follows");
  ok(t.events.some((e) => e.event === "policy.reclamped" && e.id === id("c1") && e.was === 5));
  await t.handler.handle(t.req({ containerId: "c4" }));
  equal(t.dp.pods.get(id("c4"))?.maxPriority, 1, "a new pod gets the new policy");

  t.dp.failClamp = true;
  const f = t.handler.applyPolicy(parsePolicy({ namespaces: { cell: "unlimited" } }));
  deepEqual(f, { changed: 0, failed: 2 });
  equal(t.index.get(id("c1"))?.maxPriority, 1, "a failed re-clamp keeps the recorded clamp");
  ok(t.events.some((e) => e.event === "policy.reclamp_failed" && e.level === "error"));
});
