/**
 * A TSN interface that disappears and comes back (driver reload, VF reset): the kernel drops the
 * restorer's TCX attachment with the device (the pinned link stays, defunct, ifindex 0) and the
 * new device has a new ifindex and no restorer. The agent (built, running in the node netns)
 * notices within its check interval, re-attaches the restorer first on the new device, records the
 * new ifindex in datapath.json and counts it (`tsnproxy_datapath_restorer_reattached_total`).
 * Pods keep their savers throughout, the node stays ready, and the opted-in pods' packets are
 * restored again once the interface is back. Three flaps: slow (the agent sees the interface
 * gone), fast (gone and back within one check interval), and while the agent is stopped (the next
 * agent re-attaches when it adopts the datapath).
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadState } from "@tsn-proxy/bpf/datapath";
import { agentHttp } from "@tsn-proxy/sim/cni_fixture";
import { CniBench, countOnHook, createNic, removeNic, since, tcxEgress } from "./fault_fixture.ts";
import { BIN, run } from "@tsn-proxy/sim/netns";
import { sleep } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const COUNT = 200;
const REATTACH_BOUND_MS = 2500;

async function metric(bench: CniBench, line: RegExp): Promise<string | undefined> {
  const body = (await agentHttp(bench.node, "/metrics")).body;
  return body.split("\n").find((l) => line.test(l));
}

function stateIfindex(bench: CniBench): number | undefined {
  return loadState(join(bench.node.stateDir, "datapath.json"))?.restorers[0]?.ifindex;
}

/** Polls until the restorer is first on nic0 and the state names the device; ms, or -1. */
async function waitReattached(bench: CniBench, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 500 && performance.now() - t0 < timeoutMs; i++) {
    const hook = await tcxEgress(bench.topo.node.ns, "nic0");
    const want = await currentIfindex(bench);
    if (hook[0]?.name === "tsn_restorer" && stateIfindex(bench) === want) return since(t0);
    await sleep(20);
  }
  return -1;
}

async function currentIfindex(bench: CniBench): Promise<number> {
  const out = await run(bench.topo.node.ns, [BIN.ip, "-j", "link", "show", "nic0"], {
    allowFail: true,
  });
  if (!out.success) return -1;
  return Number(JSON.parse(out.stdout)[0]?.ifindex ?? -1);
}

Deno.test("a TSN interface that disappears and comes back gets its restorer back (counted)", async () => {
  requireKernelTests();
  const t0 = performance.now();
  const bench = await CniBench.create();
  try {
    await bench.startAgent();
    const a = await bench.pod("a", { optIn: true });
    await bench.add(a);
    const before = await bench.traffic([{ pod: a, priority: 5, expect: 5, clock: "tai" }]);
    equal(before[0]!.prioRight, COUNT, "restored before the flap");
    const firstIndex = await currentIfindex(bench);
    equal(stateIfindex(bench), firstIndex);

    // 1. Slow flap: the agent sees the interface gone, then back.
    await removeNic(bench);
    await sleep(1300); // more than one check interval (1 s)
    ok(
      /tsnproxy_datapath_restorer_attached\{ifname="nic0",mode="tcx"\} 0/.test(
        (await agentHttp(bench.node, "/metrics")).body,
      ),
      "the metric shows the restorer detached while the interface is gone",
    );
    equal((await agentHttp(bench.node, "/readyz")).status, 200, "still ready: savers work");
    const b = await bench.pod("b", { optIn: true });
    await bench.add(b); // pods can start while the TSN interface is away
    const tBack = performance.now();
    await createNic(bench);
    // The agent checks every second (restorerCheckIntervalMs): back within that plus slack.
    const slowMs = await waitReattached(bench, REATTACH_BOUND_MS);
    ok(slowMs >= 0, `restorer not re-attached within ${REATTACH_BOUND_MS} ms`);
    const secondIndex = await currentIfindex(bench);
    ok(secondIndex !== firstIndex, "the re-created interface has a new ifindex");
    equal(stateIfindex(bench), secondIndex, "datapath.json has the new ifindex");
    equal(await countOnHook(bench.topo.node.ns, "nic0", "tsn_restorer"), 1);
    const after = await bench.traffic([
      { pod: a, priority: 5, expect: 5, clock: "tai" },
      { pod: b, priority: 3, expect: 3, clock: "mono" },
    ]);
    deepEqual(after.map((s) => s.prioRight), [COUNT, COUNT], "restored after the flap");
    deepEqual(after.map((s) => s.txtimeWrong + s.typeWrong + s.tstampInvented), [0, 0]);
    const slowTotal = since(tBack);

    // 2. Fast flap: gone and back within one check interval.
    await removeNic(bench);
    await createNic(bench);
    const fastMs = await waitReattached(bench, REATTACH_BOUND_MS);
    ok(fastMs >= 0, `restorer not re-attached within ${REATTACH_BOUND_MS} ms of a fast flap`);
    const thirdIndex = await currentIfindex(bench);
    equal(stateIfindex(bench), thirdIndex);
    ok(
      (await metric(bench, /^tsnproxy_datapath_restorer_reattached_total\{ifname="nic0"\} 2$/)) !==
        undefined,
      "two re-attachments counted",
    );
    const afterFast = await bench.traffic([{ pod: a, priority: 5, expect: 5, clock: "tai" }]);
    equal(afterFast[0]!.prioRight, COUNT, "restored after the fast flap");

    // 3. Flap while no agent runs: the next agent adopts the datapath and re-attaches at start.
    equal(await bench.stopAgent(), 0);
    await removeNic(bench);
    await createNic(bench);
    equal(await countOnHook(bench.topo.node.ns, "nic0", "tsn_restorer"), 0, "nothing re-attaches");
    const tStart = performance.now();
    const agent = await bench.startAgent();
    const restartMs = since(tStart);
    ok(agent.proc.stderr.includes("datapath adopted"), agent.proc.stderr);
    ok(agent.proc.stderr.includes("restorer re-attached to nic0"), agent.proc.stderr);
    equal(stateIfindex(bench), await currentIfindex(bench));
    equal(await countOnHook(bench.topo.node.ns, "nic0", "tsn_restorer"), 1);
    const afterRestart = await bench.traffic([{ pod: b, priority: 3, expect: 3, clock: "tai" }]);
    equal(afterRestart[0]!.prioRight, COUNT, "restored after the flap without an agent");
    console.log(
      `nic flap: slow flap re-attached ${slowMs} ms after nic0 came back (restored traffic again ` +
        `${slowTotal} ms later), fast flap ${fastMs} ms, flap without agent: re-attached by the next ` +
        `agent at start (ready in ${restartMs} ms); ifindex ${firstIndex} -> ${secondIndex} -> ` +
        `${thirdIndex} -> ${await currentIfindex(bench)}; total ${since(t0)} ms`,
    );
  } finally {
    await bench.destroy();
  }
});
