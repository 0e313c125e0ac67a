/**
 * A policy edit reaches running pods: the real agent with `policyFile` (as the DaemonSet reads its
 * policy ConfigMap), an opted-in pod of namespace `cell` with a default class of 4 attached with
 * max 2; the file is rewritten to 6, then denies `cell` txtimes, then is emptied (a ConfigMap
 * emptied by mistake). Real priority-6 datagrams and datagrams without a priority (the default
 * class) through the chain show the clamp and the txtime rule at the NIC each time, and that the
 * pod keeps its default class across the changes; the time from the write to the re-clamp is
 * printed.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadState } from "@tsn-proxy/bpf/datapath";
import { agentHttp } from "@tsn-proxy/sim/cni_fixture";
import { CniBench, since } from "./fault_fixture.ts";
import { sleep } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const COUNT = 100;

Deno.test("a policy file edit re-clamps a running pod's saver within seconds", async () => {
  requireKernelTests();
  const t0 = performance.now();
  const bench = await CniBench.create({});
  const policyFile = join(bench.node.dir, "policy.yaml");
  const write = (text: string) => Deno.writeTextFileSync(policyFile, text);
  try {
    write("policy:\n  defaultMaxPriority: 0\n  namespaces:\n    cell: 2\n");
    const cfg = JSON.parse(Deno.readTextFileSync(bench.node.configPath));
    cfg.policyFile = policyFile;
    cfg.policy = { defaultMaxPriority: 0, namespaces: { cell: 2 } };
    Deno.writeTextFileSync(bench.node.configPath, JSON.stringify(cfg));
    await bench.startAgent();
    const pod = await bench.pod("a", {
      namespace: "cell",
      annotations: { "tsn-proxy.io/enabled": "true", "tsn-proxy.io/priority": "4" },
    });
    await bench.add(pod);
    const stateFile = join(bench.node.stateDir, "datapath.json");
    const saver = () => loadState(stateFile)?.pods[0];
    const clamp = () => saver()?.maxPriority;
    equal(clamp(), 2);
    const send = async (expect: number) => {
      const [s] = await bench.traffic([{ pod, priority: 6, expect, clock: "tai", count: COUNT }]);
      return s!;
    };
    /** Datagrams whose socket sets priority 0: they carry the pod's default class. */
    const sendPlain = async (expect: number) => {
      const [s] = await bench.traffic([{ pod, priority: 0, expect, clock: "tai", count: COUNT }]);
      return s!;
    };
    equal((await send(2)).prioRight, COUNT, "6 clamped to 2");
    equal((await sendPlain(2)).prioRight, COUNT, "the default class 4 clamped to 2");

    const reclamped = async (want: number) => {
      const t = performance.now();
      while (clamp() !== want && performance.now() - t < 15_000) await sleep(100);
      equal(clamp(), want, `clamp ${want} not applied within 15 s`);
      return Math.round(performance.now() - t);
    };
    write("policy:\n  defaultMaxPriority: 0\n  namespaces:\n    cell: 6\n");
    const up = await reclamped(6);
    equal((await send(6)).prioRight, COUNT, "6 passes after the edit");
    equal((await sendPlain(4)).prioRight, COUNT, "the default class 4 kept across the re-clamp");

    // The namespace is denied txtimes: the running saver takes the rule, keeping clamp and class.
    write("policy:\n  defaultMaxPriority: 0\n  namespaces:\n    cell: 6\n  denyTxtime: [cell]\n");
    const t = performance.now();
    while (saver()?.txtime?.allowed !== false && performance.now() - t < 15_000) await sleep(100);
    equal(saver()?.txtime?.allowed, false, "txtime rule not applied within 15 s");
    const denied = Math.round(performance.now() - t);
    const d = await send(6);
    equal(d.prioRight, COUNT, "priority 6 still restored");
    equal(d.txtimeRight + d.txtimeWrong + d.typeWrong, 0, "no txtime leaves a denied namespace");
    equal(d.txtimeMissing, COUNT);
    equal((await sendPlain(4)).prioRight, COUNT, "the default class kept across the txtime rule");

    write(""); // emptied by mistake: fail closed, priority 0
    const emptied = await reclamped(0);
    equal((await send(0)).prioRight, COUNT, "6 clamped to 0 once the file is empty");
    ok(bench.agent!.proc.stderr.includes("re-clamped"), "the reload is logged");
    const metrics = (await agentHttp(bench.node, "/metrics")).body;
    ok(metrics.includes('tsnproxy_policy_reclamps_total{result="ok"} 3'), metrics);
    console.log(
      `policy reload: cell 2 -> 6 applied ${up} ms after the write, txtimes denied after ` +
        `${denied} ms, emptied -> 0 after ${emptied} ms; ${COUNT}/${COUNT} right each time; ` +
        `${since(t0)} ms`,
    );
  } finally {
    await bench.destroy();
  }
});
