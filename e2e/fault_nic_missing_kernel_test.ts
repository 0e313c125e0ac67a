/**
 * A TSN interface that does not exist when the agent starts (not renamed yet, hot-plugged later,
 * a VF not created yet) must not take the node's pod networking hostage. The agent (built, in the
 * node netns) loads the core without a restorer on it and is ready: /readyz 200, CNI STATUS ok,
 * opted-in pods get their savers. It reports the interface missing (log, metrics,
 * `tsnproxy status`), and attaches the restorer, first on the hook, within its check interval
 * once the interface appears; the pods' packets are restored from then on.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadState } from "@tsn-proxy/bpf/datapath";
import { agentHttp } from "@tsn-proxy/sim/cni_fixture";
import { CniBench, countOnHook, createNic, removeNic, since, tcxEgress } from "./fault_fixture.ts";
import { run } from "@tsn-proxy/sim/netns";
import { sleep } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const COUNT = 200;
const ATTACH_BOUND_MS = 2500;

async function metrics(bench: CniBench): Promise<string> {
  return (await agentHttp(bench.node, "/metrics")).body;
}

/** `tsnproxy status --json` of the built CLI on the node: its exit code and report. */
async function status(bench: CniBench) {
  const r = await run(
    bench.topo.node.ns,
    [bench.node.agentLauncher, "status", "--state-dir", bench.node.stateDir, "--json"],
    { allowFail: true, timeoutMs: 30_000 },
  );
  return { code: r.code, s: JSON.parse(r.stdout), text: r.stdout + r.stderr };
}

Deno.test("an agent started without its TSN interface is ready, reports it, and attaches when it appears", async () => {
  requireKernelTests();
  const bench = await CniBench.create();
  const nic = bench.topo.node.nic;
  const stateFile = join(bench.node.stateDir, "datapath.json");
  try {
    await removeNic(bench); // the configured TSN interface is not there when the agent starts
    const agent = await bench.startAgent(); // waits for /readyz 200
    equal((await agentHttp(bench.node, "/readyz")).status, 200);
    ok(
      agent.proc.stderr.includes(`TSN interface ${nic} (restoreOn) does not exist`),
      agent.proc.stderr,
    );
    deepEqual(loadState(stateFile)?.pendingRestorers, [nic], "datapath.json names it pending");
    deepEqual(loadState(stateFile)?.restorers, []);
    const before = await metrics(bench);
    ok(before.includes(`tsnproxy_datapath_interface_missing{ifname="${nic}"} 1`), before);
    ok(before.includes(`tsnproxy_datapath_restorer_attached{ifname="${nic}",mode="none"} 0`));
    ok(before.includes("tsnproxy_ready 1"), before);

    // tsnproxy status: the agent answers ready, the interface is a problem, not a failure.
    const st = await status(bench);
    equal(st.s.agent?.state, "ready", st.text);
    deepEqual(st.s.restorers, [
      { ifname: nic, mode: "none", attached: false, missing: true, pending: true },
    ]);
    ok(
      st.s.problems.some((p: string) => p.startsWith(`TSN interface ${nic} does not exist`)),
      st.text,
    );
    equal(st.code, 0, st.text);

    // The runtime sees a ready network, and opted-in pods start with their savers.
    await bench.rt.status(bench.list110());
    const a = await bench.pod("a", { optIn: true });
    await bench.add(a);
    equal(loadState(stateFile)?.pods.length, 1, "the pod has its saver");

    // A while later, still nothing to attach, nothing logged twice.
    await sleep(1200); // more than one check interval (1 s)
    equal(agent.proc.stderr.split("(restoreOn) does not exist").length - 1, 1, "warned once");

    // The interface appears: the restorer is attached, first on the hook, within the interval.
    const tUp = performance.now();
    await createNic(bench);
    let attachedMs = -1;
    for (let i = 0; i < 500 && since(tUp) < ATTACH_BOUND_MS; i++) {
      const hook = await tcxEgress(bench.topo.node.ns, nic);
      if (hook[0]?.name === "tsn_restorer" && loadState(stateFile)?.restorers.length === 1) {
        attachedMs = since(tUp);
        break;
      }
      await sleep(20);
    }
    ok(attachedMs >= 0, `restorer not attached within ${ATTACH_BOUND_MS} ms\n${agent.proc.stderr}`);
    equal(await countOnHook(bench.topo.node.ns, nic, "tsn_restorer"), 1);
    const state = loadState(stateFile)!;
    equal(state.restorers[0]?.ifname, nic);
    equal(state.pendingRestorers, undefined, "no longer pending");
    ok(agent.proc.stderr.includes(`TSN interface ${nic} appeared: restorer attached`));
    const after = await metrics(bench);
    ok(after.includes(`tsnproxy_datapath_interface_missing{ifname="${nic}"} 0`), after);
    ok(/tsnproxy_datapath_restorer_attached\{ifname="nic0",mode="(tcx|clsact)"\} 1/.test(after));
    ok(
      !after.split("\n").some((l) => l.startsWith("tsnproxy_") && l.includes('mode="none"')),
      "no pending series left",
    );
    ok(!after.includes("tsnproxy_datapath_restorer_reattached_total{"), "not a re-attach");
    const stAfter = await status(bench);
    equal(stAfter.code, 0, stAfter.text);
    equal(stAfter.s.restorers[0]?.attached, true, stAfter.text);
    ok(!stAfter.s.problems.some((p: string) => p.includes(nic)), stAfter.text);

    // A real packet: the pod that started while the interface was missing is restored now.
    const rows = await bench.traffic([{ pod: a, priority: 5, expect: 5, clock: "tai" }]);
    equal(rows[0]!.prioRight, COUNT, "priority restored on the interface that appeared");
    equal(rows[0]!.txtimeWrong + rows[0]!.typeWrong + rows[0]!.tstampInvented, 0);
    console.log(
      `missing nic: agent ready in ${Math.round(agent.startMs)} ms without ${nic}; ` +
        `restorer attached ${attachedMs} ms after it appeared`,
    );
  } finally {
    await bench.destroy();
  }
});
