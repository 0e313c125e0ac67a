/**
 * A policy change reaches a running pod's saver: `setPodClamp` swaps the saver instance in place
 * (TCX `bpf_link_update`, or a clsact filter replaced at its handle and priority) and real
 * priority-5 datagrams from the pod (socat `so-priority`) are clamped, or not, by the new value at
 * once, with no packet leaving unsaved in between. The saver's `saveClamped` counter tells.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import {
  attachPod,
  down,
  readStats,
  removePodAttachment,
  setPodClamp,
  up,
} from "@tsn-proxy/bpf/datapath";
import { withNetns } from "@tsn-proxy/bpf/libbpf";
import { getStrategy } from "@tsn-proxy/strategies";
import { run } from "@tsn-proxy/sim/netns";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { ADDR, createTopology } from "@tsn-proxy/sim/topology";

const COUNT = 50;

Deno.test("setPodClamp(): a running saver takes a new clamp at once, every packet saved", async () => {
  requireKernelTests();
  const topo = await createTopology({ kind: "routed-nat", pods: [{ name: "a" }] });
  const stateFile = join(await Deno.makeTempDir({ prefix: `${topo.prefix}-state-` }), "dp.json");
  const bpffs = join(topo.bpffsDir, "reclamp");
  try {
    const pod = topo.pods[0]!;
    withNetns(
      topo.node.ns.path,
      () => up({ strategy: getStrategy("skb-addr"), bpffs, restoreOn: [topo.node.nic], stateFile }),
    );
    attachPod({ stateFile, id: "a", netns: pod.ns.path, ifname: pod.ifname, maxPriority: 2 });
    // Priority-5 datagrams to the pod's gateway: each crosses the pod's eth0, where the saver runs.
    const send = async () => {
      const before = readStats(stateFile).counters;
      await run(pod.ns, [
        "sh",
        "-c",
        `for i in $(seq ${COUNT}); do echo x; done | ` +
        `socat -b 2 -u - UDP-SENDTO:${ADDR.gateway1}:9,so-priority=5`,
      ]);
      const after = readStats(stateFile).counters;
      return {
        clamped: Number(after.saveClamped - before.saveClamped),
        saved: Number(after.saved - before.saved),
      };
    };
    let d = await send();
    ok(d.saved >= COUNT, `saved ${d.saved}`);
    equal(d.clamped, d.saved, "clamp 2: every priority-5 packet clamped");

    ok(setPodClamp(stateFile, "a", undefined), "unlimited");
    equal(readStats(stateFile).state.pods[0]?.maxPriority, 0xffffffff);
    d = await send();
    ok(d.saved >= COUNT, `saved ${d.saved} after the swap`);
    equal(d.clamped, 0, "no clamp: none clamped");

    ok(setPodClamp(stateFile, "a", 4));
    d = await send();
    equal(d.clamped, d.saved, "clamp 4: every priority-5 packet clamped again");
    ok(d.saved >= COUNT);

    equal(setPodClamp(stateFile, "nobody", 1), false, "an unknown id");
  } finally {
    try {
      withNetns(
        topo.node.ns.path,
        () => down(bpffs, stateFile, (p) => removePodAttachment(bpffs, p)),
      );
    } catch { /* destroy removes the bpffs dir too */ }
    await topo.destroy();
  }
});
