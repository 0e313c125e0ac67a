/**
 * The container's life on a simulated node: k8s/node/entrypoint.sh runs the built agent (dist)
 * with the manifest's capabilities (`setpriv`), its config assembled from an agent config and a
 * policy file as the ConfigMaps carry them, and a stand-in API answering the uninstall question.
 *
 * 1. start: ready, an opted-in pod gets its saver (clamped by the policy file);
 * 2. SIGTERM while the DaemonSet exists (a restart): datapath, saver, plugin and entry stay;
 * 3. start again: the datapath is adopted;
 * 4. the config's strategy changes: the next start removes the old datapath and loads the new;
 * 5. SIGTERM after the DaemonSet was deleted: everything is removed from the node.
 */
import { equal, match, ok } from "node:assert/strict";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { loadState } from "@tsn-proxy/bpf/datapath";
import { waitAgentReady } from "@tsn-proxy/sim/cni_fixture";
import { exists, nsCommand } from "@tsn-proxy/sim/netns";
import { exec, type Proc, spawn } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { policyConfigText } from "./config.ts";
import { AGENT_CAPABILITIES } from "./manifest.ts";
import { DEFAULT_MANIFEST_OPTIONS } from "./options.ts";
import { startFakeApi, TestNode } from "./_testnode.ts";
import { IMAGE } from "./layout.ts";

const HERE = new URL(".", import.meta.url).pathname;

Deno.test("entrypoint.sh with the real agent: restart keeps, strategy switch reloads, deletion uninstalls", async () => {
  requireKernelTests();
  const t = await TestNode.create();
  const { node } = t;
  const dsStatus = join(node.dir, "ds-status");
  await Deno.writeTextFile(dsStatus, "200");
  const api = await startFakeApi(node.ns, dsStatus);
  const token = join(node.dir, "token");
  await Deno.writeTextFile(token, "fake\n");
  // The fixture's config as the agent ConfigMap carries it (YAML, no policy) + the policy file.
  const { policy: _, ...cfg } = JSON.parse(await Deno.readTextFile(node.configPath));
  const agentYaml = join(node.dir, "agent.yaml");
  const writeAgentYaml = (strategy: string) =>
    Deno.writeTextFile(agentYaml, stringify({ ...cfg, strategy }));
  await writeAgentYaml("skb-addr");
  const policyYaml = join(node.dir, "policy.yaml");
  await Deno.writeTextFile(
    policyYaml,
    policyConfigText({
      ...DEFAULT_MANIFEST_OPTIONS,
      policy: { defaultMaxPriority: 3, namespaces: {} },
    }),
  );
  // The dist tree has the image's layout: IMAGE.deno relative to IMAGE.launcher.
  const deno = join(dirname(node.agentLauncher), IMAGE.deno.slice(IMAGE.root.length + 1));
  const bset = ["-all", ...AGENT_CAPABILITIES.map((c) => `+${c.toLowerCase()}`)].join(",");
  const start = (): Proc =>
    spawn(nsCommand(node.ns, [
      "/usr/bin/setpriv",
      `--bounding-set=${bset}`,
      "--inh-caps=-all",
      "--",
      "/usr/bin/env",
      `TSN_PROXY_LAUNCHER=${node.agentLauncher}`,
      `TSN_PROXY_DENO=${deno}`,
      `TSN_PROXY_HELPER=${join(HERE, "node/node_helper.ts")}`,
      `TSN_PROXY_AGENT_CONFIG=${agentYaml}`,
      `TSN_PROXY_POLICY_CONFIG=${policyYaml}`,
      `TSN_PROXY_WORK=${join(node.dir, "work")}`,
      `TSN_PROXY_API_URL=${api.url}`,
      `TSN_PROXY_TOKEN_FILE=${token}`,
      "TSN_PROXY_NAMESPACE=tsn-system",
      "TSN_PROXY_DAEMONSET=tsn-proxy-agent",
      "NODE_NAME=node1",
      "/bin/sh",
      join(HERE, "node/entrypoint.sh"),
    ]));
  const ready = (p: Proc) => waitAgentReady(node, p, 30_000);
  // As the runtime does: SIGTERM to the container's first process only.
  const term = async (p: Proc) => {
    Deno.kill(p.pid, "SIGTERM");
    return (await p.wait(30_000)).code;
  };
  const state = () => loadState(join(node.stateDir, "datapath.json"));
  const entryInPlace = () => t.list().plugins.at(-1)?.type === "tsn-proxy";
  let p: Proc | undefined;
  try {
    p = start();
    await ready(p);
    const pod = await t.pod("a");
    await t.rt.add(t.list(), pod);
    equal(state()?.pods.length, 1);
    equal(state()?.pods[0]?.maxPriority, 3, "clamp from the policy file");

    equal(await term(p), 0, p.stderr);
    match(p.stderr, /DaemonSet and namespace in place/);
    match(p.stderr, /keeping the datapath/);
    ok(await exists(node.bpffs), "pins kept");
    equal(state()?.pods.length, 1, "saver kept");
    ok(entryInPlace(), "conf entry kept");

    p = start();
    await ready(p);
    match(p.stderr, /datapath adopted/);
    equal(await term(p), 0, p.stderr);

    await writeAgentYaml("skb-data");
    p = start();
    await ready(p);
    match(p.stderr, /runs skb-addr, the config says skb-data: .* 1 running pod/);
    equal(state()?.strategy, "skb-data");
    equal(state()?.pods.length, 0, "the old saver went with the old datapath");
    ok(entryInPlace());

    await Deno.writeTextFile(dsStatus, "404");
    equal(await term(p), 0, p.stderr);
    match(p.stderr, /DaemonSet is gone \(404\)/);
    match(p.stderr, /uninstalling tsn-proxy from node node1/);
    ok(!(await exists(node.bpffs)), "pins removed");
    ok(!entryInPlace(), "conf entry removed");
    ok(!(await exists(join(node.binDir, "tsn-proxy"))), "plugin removed");
    p = undefined;
  } finally {
    if (p && !p.exited) await p.stop(5000);
    await api.proc.stop();
    await exec(
      nsCommand(node.ns, [
        node.agentLauncher,
        "agent",
        "--config",
        join(node.dir, "work/agent.yaml"),
        "--uninstall",
      ]),
      { allowFail: true },
    );
    await t.destroy();
  }
});
