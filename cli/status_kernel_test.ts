/**
 * `tsnproxy status` against a real datapath with the agent down: from the agent's state dir
 * (kernel side + CNI side), from the pins alone (`--bpffs`, no state file), after a pod's netns
 * went away, and once the datapath is down.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { attachPod, down, removePodAttachment, up } from "@tsn-proxy/bpf/datapath";
import { probeFexit, withNetns } from "@tsn-proxy/bpf/libbpf";
import { getStrategy } from "@tsn-proxy/strategies";
import { AttachmentIndex } from "@tsn-proxy/agent";
import {
  createNetns,
  deleteNetns,
  exec,
  ipBatch,
  requireKernelTests,
  uniquePrefix,
} from "@tsn-proxy/sim";
import type { NodeStatus } from "./status.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

async function status(...args: string[]): Promise<{ code: number; s: NodeStatus; text: string }> {
  const json = await exec([Deno.execPath(), "run", "-A", MAIN, "status", "--json", ...args], {
    allowFail: true,
  });
  const text = await exec([Deno.execPath(), "run", "-A", MAIN, "status", ...args], {
    allowFail: true,
  });
  equal(json.code, text.code, "the same verdict with and without --json");
  return { code: json.code, s: JSON.parse(json.stdout) as NodeStatus, text: text.stdout };
}

Deno.test("tsnproxy status reads state and pins with the agent down, and from the pins alone", async () => {
  requireKernelTests();
  const prefix = uniquePrefix();
  const node = await createNetns(`${prefix}-node`);
  const pod = await createNetns(`${prefix}-pod`, { ipv6: false });
  const stateDir = await Deno.makeTempDir({ prefix: `${prefix}-state-` });
  const bpffs = `/sys/fs/bpf/${prefix}`;
  const stateFile = join(stateDir, "datapath.json");
  try {
    await ipBatch(node, [
      "link add nic0 type veth peer name nic0p",
      "link set nic0 up",
      `link add vethpod type veth peer name eth0 netns ${pod.name}`,
      "link set vethpod up",
    ]);
    await ipBatch(pod, ["link set eth0 up"]);
    withNetns(
      node.path,
      () => up({ strategy: getStrategy("skb-addr"), bpffs, restoreOn: ["nic0"], stateFile }),
    );
    const id = "c0ffee000001-eth0-12345678";
    attachPod({
      stateFile,
      id,
      netns: pod.path,
      ifname: "eth0",
      maxPriority: 3,
      defaultPriority: 2,
      txtime: { allowed: false, horizonNs: 0n },
    });
    new AttachmentIndex(join(stateDir, "attachments.json")).put({
      id,
      network: "k8s-pod-network",
      containerId: "c0ffee0000011111",
      ifname: "eth0",
      netns: pod.path,
      podNamespace: "cell",
      podName: "talker",
      maxPriority: 3,
      optInSource: "annotation tsn-proxy.io/enabled",
      status: "attached",
      since: new Date().toISOString(),
    });

    const full = await status("--state-dir", stateDir);
    equal(full.code, 0, full.text);
    const s = full.s;
    ok(s.up && !s.source.pinsOnly);
    equal(s.strategy, "skb-addr");
    // What fexit does here comes from a probe of this kernel (docs/kernel-facts.md).
    const fexit = probeFexit();
    deepEqual(s.trackers.map((t) => [t.program, t.state]), [[
      "tsn_track_clone",
      fexit.loads ? "attached" : "unavailable",
    ]]);
    if (!fexit.loads) match(s.trackers[0]!.reason ?? "", new RegExp(`^${fexit.code}`));
    deepEqual(s.restorers, [{ ifname: "nic0", mode: "tcx", attached: true }]);
    equal(s.pods.length, 1);
    equal(s.pods[0]!.maxPriority, 3);
    equal(s.pods[0]!.netnsExists, true);
    equal(s.pods[0]!.cni?.podName, "talker");
    equal(s.agent?.state, "down", "no agent runs: status still works");
    ok(s.records && s.records.capacity > 0);
    equal(s.counters.saved, "0");
    match(full.text, /cell\/talker {2}eth0 tcx, max priority 3, default class 2, txtimes denied/);
    match(full.text, /agent +down/);
    // The clock is read in the netns status runs in (the agent's: the host's); nic0 lives in the
    // test's node netns, so from here its PHC is unknown, and says why.
    deepEqual(s.clock?.phcs.map((p) => [p.ifname, p.phcIndex]), [["nic0", null]]);
    match(full.text, /^clock +(synchronised|UNSYNCHRONISED) \(adjtimex TIME_/m);
    console.log(`tsnproxy status --state-dir ${stateDir}:\n${full.text}`);

    const pinned = await status("--bpffs", bpffs);
    equal(pinned.code, 0, pinned.text);
    ok(pinned.s.source.pinsOnly, "no state file names this bpffs dir: pins only");
    equal(pinned.s.strategy, "skb-addr", "from the pinned .rodata");
    deepEqual(pinned.s.pods.map((p) => [p.id, p.maxPriority, p.mode]), [[id, 3, "tcx"]]);
    deepEqual(
      [pinned.s.pods[0]?.defaultPriority, pinned.s.pods[0]?.txtime],
      [2, { allowed: false, horizonNs: "0" }],
      "default class and txtime rule from the pinned .rodata",
    );
    deepEqual(pinned.s.restorers.map((r) => r.ifname), ["nic0"]);
    deepEqual(pinned.s.missingPins, []);
    match(pinned.text, /pins only/);

    await deleteNetns(pod);
    const gone = await status("--state-dir", stateDir);
    equal(gone.code, 1, "a saver whose pod is gone");
    ok(gone.s.problems.some((p) => p.includes("is gone")), gone.text);

    withNetns(node.path, () => down(bpffs, stateFile, (p) => removePodAttachment(bpffs, p)));
    const off = await status("--state-dir", stateDir);
    equal(off.code, 1);
    equal(off.s.up, false);
    equal((await status("--bpffs", bpffs)).code, 1);
    const usage = await exec(
      [Deno.execPath(), "run", "-A", MAIN, "status", "--bpffs", "x", "--state-dir", "/y"],
      { allowFail: true },
    );
    equal(usage.code, 2);
  } finally {
    await deleteNetns(pod);
    await deleteNetns(node);
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(bpffs, { recursive: true }).catch(() => {});
  }
});
