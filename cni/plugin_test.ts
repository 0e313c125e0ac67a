import { deepEqual, equal, ok } from "node:assert/strict";
import { runPlugin } from "./plugin.ts";
import { type AgentRequest, type AgentResponse, AgentUnavailableError } from "./protocol.ts";

const prev = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "eth0", sandbox: "/run/netns/p" }],
  ips: [{ interface: 0, address: "10.244.1.5/24" }],
};

function env(command: string, args = "") {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: "c1",
    CNI_NETNS: "/run/netns/p",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: args,
  };
}

function stdin(o: Record<string, unknown> = {}) {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "k8s",
    type: "tsn-proxy",
    prevResult: prev,
    ...o,
  });
}

const annotated = (v: string) => ({
  runtimeConfig: { "io.kubernetes.cri.pod-annotations": { "tsn-proxy.io/enabled": v } },
});

/** A fake agent recording requests; `down` makes it unreachable. */
function agent(answer: Partial<AgentResponse> | "down" = {}) {
  const calls: AgentRequest[] = [];
  return {
    calls,
    call: (_path: string, req: AgentRequest): Promise<AgentResponse> => {
      calls.push(req);
      if (answer === "down") {
        return Promise.reject(new AgentUnavailableError("/s", "connection refused"));
      }
      return Promise.resolve({ v: 1, ok: true, ...answer } as AgentResponse);
    },
  };
}

const quiet = { log: () => {} };

Deno.test("runPlugin() ADD of a pod that did not opt in passes through without the agent", async () => {
  const a = agent("down");
  const out = await runPlugin({
    env: env("ADD"),
    stdin: stdin(annotated("false")),
    ...a,
    ...quiet,
  });
  equal(out.code, 0);
  deepEqual(JSON.parse(out.stdout), prev);
  equal(a.calls.length, 0);
});

Deno.test("runPlugin() ADD of an opted-in pod asks the agent and passes prevResult through", async () => {
  const a = agent({ attached: true });
  const out = await runPlugin({
    env: env("ADD", "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p"),
    stdin: stdin(annotated("true")),
    ...a,
    ...quiet,
  });
  equal(out.code, 0);
  deepEqual(JSON.parse(out.stdout), prev);
  equal(a.calls[0]?.optIn, "yes");
  deepEqual(a.calls[0]?.args, { K8S_POD_NAMESPACE: "ns", K8S_POD_NAME: "p" });
});

Deno.test("runPlugin() ADD hands the agent the pod's default class, or why it ignored it", async () => {
  const a = agent({ attached: true });
  const withPriority = (v: string) => ({
    runtimeConfig: {
      "io.kubernetes.cri.pod-annotations": {
        "tsn-proxy.io/enabled": "true",
        "tsn-proxy.io/priority": v,
      },
    },
  });
  for (const v of ["3", "three"]) {
    const out = await runPlugin({ env: env("ADD"), stdin: stdin(withPriority(v)), ...a, ...quiet });
    equal(out.code, 0);
  }
  equal(a.calls[0]?.defaultPriority, 3);
  equal(a.calls[0]?.defaultPriorityProblem, undefined);
  equal(a.calls[1]?.defaultPriority, undefined);
  ok(a.calls[1]?.defaultPriorityProblem?.includes('"three"'));
  equal(a.calls[1]?.optIn, "yes", "a bad class does not touch the opt-in");
});

Deno.test("runPlugin() ADD of an opted-in pod fails with code 11 while the agent is down", async () => {
  const out = await runPlugin({
    env: env("ADD"),
    stdin: stdin(annotated("true")),
    ...agent("down"),
    ...quiet,
  });
  equal(out.code, 1);
  const err = JSON.parse(out.stdout);
  equal(err.code, 11);
  equal(err.cniVersion, "1.0.0");
  ok(err.details.includes("opted in"));
});

Deno.test("runPlugin() ADD with unknown opt-in passes through (with a warning) when the agent is down", async () => {
  const lines: string[] = [];
  const out = await runPlugin({
    env: env("ADD"),
    stdin: stdin(),
    ...agent("down"),
    log: (l) => lines.push(l),
  });
  equal(out.code, 0);
  deepEqual(JSON.parse(out.stdout), prev);
  ok(lines.some((l) => l.includes("passing through")));
});

Deno.test("runPlugin() relays the agent's error code and message", async () => {
  const a = agent({ ok: false, code: 102, msg: "cannot attach", details: "ENODEV" } as never);
  const out = await runPlugin({
    env: env("ADD", "TSN_PROXY_ENABLED=true"),
    stdin: stdin(),
    ...a,
    ...quiet,
  });
  equal(out.code, 1);
  deepEqual(JSON.parse(out.stdout), {
    cniVersion: "1.0.0",
    code: 102,
    msg: "cannot attach",
    details: "ENODEV",
  });
});

Deno.test("runPlugin() DEL is best effort and skips pods that did not opt in", async () => {
  const down = await runPlugin({
    env: env("DEL"),
    stdin: stdin({ prevResult: undefined }),
    ...agent("down"),
    ...quiet,
  });
  equal(down.code, 0);
  equal(down.stdout, "");
  const a = agent();
  await runPlugin({ env: env("DEL"), stdin: stdin(annotated("false")), ...a, ...quiet });
  equal(a.calls.length, 0);
});

Deno.test("runPlugin() STATUS fails with code 50 while the agent is down or not ready", async () => {
  const s = stdin({ cniVersion: "1.1.0", prevResult: undefined });
  const down = await runPlugin({
    env: { CNI_COMMAND: "STATUS" },
    stdin: s,
    ...agent("down"),
    ...quiet,
  });
  equal(JSON.parse(down.stdout).code, 50);
  const notReady = agent({ ok: false, code: 50, msg: "not ready", details: "conf" } as never);
  equal(
    JSON.parse(
      (await runPlugin({ env: { CNI_COMMAND: "STATUS" }, stdin: s, ...notReady, ...quiet })).stdout,
    ).code,
    50,
  );
  const up = await runPlugin({ env: { CNI_COMMAND: "STATUS" }, stdin: s, ...agent(), ...quiet });
  equal(up.code, 0);
  equal(up.stdout, "");
});

Deno.test("runPlugin() GC forwards the valid attachments", async () => {
  const a = agent();
  const valid = [{ containerID: "c1", ifname: "eth0" }];
  const out = await runPlugin({
    env: { CNI_COMMAND: "GC" },
    stdin: stdin({
      cniVersion: "1.1.0",
      prevResult: undefined,
      "cni.dev/valid-attachments": valid,
    }),
    ...a,
    ...quiet,
  });
  equal(out.code, 0);
  deepEqual(a.calls[0]?.validAttachments, valid);
  equal(a.calls[0]?.command, "GC");
});

Deno.test("runPlugin() answers VERSION and reports bad input as spec errors", async () => {
  const v = await runPlugin({ env: { CNI_COMMAND: "VERSION" }, stdin: '{"cniVersion":"0.3.1"}' });
  equal(JSON.parse(v.stdout).cniVersion, "0.3.1");
  const bad = await runPlugin({ env: env("ADD"), stdin: "{", ...agent(), ...quiet });
  equal(bad.code, 1);
  equal(JSON.parse(bad.stdout).code, 6);
  const noEnv = await runPlugin({ env: {}, stdin: stdin(), ...agent(), ...quiet });
  equal(JSON.parse(noEnv.stdout).code, 4);
  const check = await runPlugin({
    env: env("CHECK", "TSN_PROXY_ENABLED=true"),
    stdin: stdin(),
    ...agent({ attached: true }),
    ...quiet,
  });
  equal(check.code, 0);
  equal(check.stdout, "");
});
