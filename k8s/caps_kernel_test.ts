/**
 * The DaemonSet runs the agent with capabilities instead of `privileged`: here the built agent
 * runs with exactly the manifest's set as its bounding set (`setpriv`, as a container runtime
 * sets it), in a simulated node, and an opted-in pod is added through the real plugin. Then each
 * capability's job is shown by taking it (or its stand-ins) away: the kernel accepts
 * CAP_SYS_ADMIN in place of CAP_BPF, CAP_PERFMON and (for TCX) CAP_NET_ADMIN, so the experiments
 * remove them together.
 */
import { equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadState } from "@tsn-proxy/bpf/datapath";
import { CniCallError } from "@tsn-proxy/sim/cni_driver";
import { agentHttp, uninstallAgent } from "@tsn-proxy/sim/cni_fixture";
import { nsCommand } from "@tsn-proxy/sim/netns";
import { sleep, spawn } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { AGENT_CAPABILITIES } from "./manifest.ts";
import { startAgentWithCaps } from "./measure_agent.ts";
import { TestNode } from "./_testnode.ts";

Deno.test("the manifest's capabilities run the agent: ready, opted-in ADD attaches, DEL detaches", async () => {
  requireKernelTests();
  const t = await TestNode.create();
  const { proc } = await startAgentWithCaps(t.node, AGENT_CAPABILITIES);
  try {
    const status = Deno.readTextFileSync(`/proc/${proc.pid}/status`);
    const bnd = BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)$/m.exec(status)![1]}`);
    // CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39.
    equal(bnd, (1n << 12n) | (1n << 21n) | (1n << 38n) | (1n << 39n), "bounding set");
    const list = t.list();
    equal(list.plugins.at(-1)?.type, "tsn-proxy", "conf entry in place");
    const pod = await t.pod("a");
    const { result } = await t.rt.add(list, pod);
    equal(loadState(join(t.node.stateDir, "datapath.json"))?.pods.length, 1, "saver attached");
    await t.rt.del(list, pod, result);
    equal(loadState(join(t.node.stateDir, "datapath.json"))?.pods.length, 0, "saver detached");
  } finally {
    await proc.stop(5000);
    await uninstallAgent(t.node).catch(() => {});
    await t.destroy();
  }
});

Deno.test("without CAP_SYS_ADMIN the agent loads but cannot enter a pod's netns (setns EPERM)", async () => {
  requireKernelTests();
  const t = await TestNode.create();
  const caps = AGENT_CAPABILITIES.filter((c) => c !== "SYS_ADMIN");
  const { proc } = await startAgentWithCaps(t.node, caps);
  try {
    const pod = await t.pod("a");
    let error: CniCallError | undefined;
    try {
      await t.rt.add(t.list(), pod);
    } catch (e) {
      if (!(e instanceof CniCallError)) throw e;
      error = e;
    }
    ok(error, "ADD must fail");
    equal(error.error.code, 102);
    match(String(error.error.details ?? error.error.msg), /setns: EPERM/);
  } finally {
    await proc.stop(5000);
    await uninstallAgent(t.node).catch(() => {});
    await t.destroy();
  }
});

Deno.test("with CAP_BPF and CAP_NET_ADMIN only the verifier refuses the datapath (needs CAP_PERFMON)", async () => {
  requireKernelTests();
  const t = await TestNode.create();
  const bset = "-all,+bpf,+net_admin";
  const proc = spawn(nsCommand(t.node.ns, [
    "/usr/bin/setpriv",
    `--bounding-set=${bset}`,
    "--inh-caps=-all",
    "--",
    t.node.agentLauncher,
    "agent",
    "--config",
    t.node.configPath,
  ]));
  try {
    let body = "";
    for (let i = 0; i < 200; i++) {
      try {
        const r = await agentHttp(t.node, "/readyz");
        body = r.body;
        if (r.status !== 200 && /datapath up failed/.test(body)) break;
        if (r.status === 200) break;
      } catch { /* not serving yet */ }
      await sleep(50);
    }
    match(body, /datapath up failed: bpf_object__load: EACCES/);
  } finally {
    await proc.stop(5000);
    await uninstallAgent(t.node).catch(() => {});
    await t.destroy();
  }
});
