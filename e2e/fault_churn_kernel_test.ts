/**
 * Pod churn through the real chain (Debian's bridge + host-local, then the built tsn-proxy plugin
 * and agent), then uninstall:
 *
 * 1. 50 pods ADDed at once (40 opted in, 10 not): every ADD succeeds.
 * 2. 25 of them DELeted at once (tsn-proxy's DEL twice at the same moment, then the chain's DEL
 *    twice in a row), while 10 new pods are ADDed.
 * 3. GC (CNI 1.1) with a partial valid list: some live attachments, some that never existed.
 *
 * After each step the agent's records (datapath.json, attachments.json), the pin dirs and the
 * kernel (TCX egress hook of every pod's eth0: exactly one tsn_saver for an attached pod, none
 * otherwise; the link's device is the pod's eth0) agree. Then `--uninstall` with pods still
 * attached leaves nothing: no conf entry (the primary list is back to its original content), no
 * plugin files, no pins, no links or programs of ours in the kernel (by id), no tsn-proxy tc
 * filter, no state files, no sockets, no temp files.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadState, PinLayout } from "@tsn-proxy/bpf/datapath";
import { ifindex, withNetns } from "@tsn-proxy/bpf/libbpf";
import { attachmentId } from "@tsn-proxy/agent";
import { uninstallAgent } from "@tsn-proxy/sim/cni_fixture";
import {
  type BenchPod,
  bpfObjectExists,
  CniBench,
  countOnHook,
  pinnedLinkId,
  podPinDirs,
  PRIMARY_FILE,
  progName,
  recorded,
  since,
  tcxEgress,
  tsnClsactFilters,
} from "./fault_fixture.ts";
import { exists } from "@tsn-proxy/sim/netns";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

const PODS = 50;
const OPTED = 40;

/** Checks records, pins and kernel hooks against the set of pods that should have a saver. */
async function agree(bench: CniBench, attached: readonly BenchPod[], label: string) {
  const network = bench.list().name;
  const want = attached.map((p) => attachmentId(network, p.rt.containerId, "eth0")).sort();
  const rec = recorded(bench.node);
  deepEqual(rec.savers, want, `${label}: datapath.json`);
  deepEqual(rec.attachments, want, `${label}: attachments.json`);
  deepEqual(await podPinDirs(bench.node), want, `${label}: pin dirs`);
  const state = loadState(join(bench.node.stateDir, "datapath.json"))!;
  const names = new Set(attached.map((p) => p.name));
  let links = 0;
  for (const p of bench.pods) {
    if (!(await exists(p.ns.path))) continue;
    const n = await countOnHook(p.ns, "eth0", "tsn_saver");
    equal(n, names.has(p.name) ? 1 : 0, `${label}: ${p.name} has ${n} savers on eth0`);
    links += n;
  }
  for (const s of state.pods) {
    const dev = withNetns(s.netns, () => ifindex(s.ifname));
    equal(s.ifindex, dev, `${label}: ${s.id} recorded on ifindex ${s.ifindex}, eth0 is ${dev}`);
  }
  equal(links, want.length);
}

Deno.test("50 pods added and deleted concurrently, DEL twice, GC with a partial list; uninstall leaves nothing", async () => {
  requireKernelTests();
  const t0 = performance.now();
  const bench = await CniBench.create();
  try {
    const original = JSON.parse(Deno.readTextFileSync(join(bench.node.confDir, PRIMARY_FILE)));
    await bench.startAgent();
    const pods: BenchPod[] = [];
    for (let i = 0; i < PODS; i++) pods.push(await bench.pod(`p${i}`, { optIn: i < OPTED }));

    // 1. 50 ADDs at once.
    const tAdd = performance.now();
    const adds = await Promise.allSettled(pods.map((p) => bench.add(p)));
    const addMs = since(tAdd);
    const addFailures = adds.flatMap((r, i) =>
      r.status === "rejected" ? [`${i}: ${r.reason}`] : []
    );
    deepEqual(addFailures, [], "concurrent ADDs failed");
    const opted = pods.slice(0, OPTED);
    await agree(bench, opted, "after 50 ADDs");

    // 2. 25 DELs, each twice and at once, while 10 more pods are added.
    const gone = pods.filter((_, i) => i % 2 === 0); // 20 opted-in, 5 not
    const fresh: BenchPod[] = [];
    for (let i = 0; i < 10; i++) fresh.push(await bench.pod(`q${i}`, { optIn: i < 8 }));
    const tChurn = performance.now();
    // Per pod: tsn-proxy's DEL twice at the same moment, then the chain's DEL, twice in a row
    // (Debian's bridge plugin is not safe against concurrent DELs of one container itself).
    const list = bench.list();
    const ours = list.plugins.find((p) => p.type === "tsn-proxy")!;
    const delTwice = async (p: BenchPod) => {
      const conf = bench.rt.pluginConf(list, ours, p.result, p.rt);
      await Promise.all([
        bench.rt.exec("tsn-proxy", "DEL", conf, p.rt),
        bench.rt.exec("tsn-proxy", "DEL", conf, p.rt),
      ]);
      await bench.del(p);
      await bench.del(p);
    };
    const churn = await Promise.allSettled([
      ...gone.map(delTwice),
      ...fresh.map((p) => bench.add(p)),
    ]);
    const churnMs = since(tChurn);
    const churnFailures = churn.flatMap((r) => r.status === "rejected" ? [String(r.reason)] : []);
    deepEqual(churnFailures, [], `DEL/ADD churn failed:\n${churnFailures.join("\n")}`);
    const live = [...opted.filter((p) => !gone.includes(p)), ...fresh.slice(0, 8)];
    await agree(bench, live, "after DEL x2 + ADD churn");

    // 3. GC with a partial valid list: 10 live ones and 3 the agent never saw.
    const valid = live.slice(0, 10);
    const tGc = performance.now();
    const runs = await bench.rt.gc(bench.list110(), [
      ...valid.map((p) => ({ containerID: p.rt.containerId, ifname: "eth0" })),
      { containerID: "never-seen-1", ifname: "eth0" },
      { containerID: "never-seen-2", ifname: "net1" },
      { containerID: gone[1]!.rt.containerId, ifname: "eth0" },
    ]);
    const gcMs = since(tGc);
    deepEqual(runs.map((r) => r.type), ["tsn-proxy"]);
    await agree(bench, valid, "after GC");
    const dropped = live.find((p) => !valid.includes(p))!;
    const [kept, gcd] = await bench.traffic([
      { pod: valid[0]!, priority: 5, expect: 5, clock: "tai" },
      { pod: dropped, priority: 5, expect: 5, clock: "tai" },
    ]);
    equal(kept!.prioRight, 200, "an attachment GC kept still restores");
    equal(gcd!.prioRight, 0, "an attachment GC removed still restores");

    // 4. Uninstall with pods attached: remember every kernel object of ours first.
    const pins = new PinLayout(bench.node.bpffs);
    const state = loadState(join(bench.node.stateDir, "datapath.json"))!;
    const linkIds = [
      await pinnedLinkId(pins.restorerLink("nic0")),
      ...await Promise.all(state.pods.map((p) => pinnedLinkId(pins.podLink(p.id)))),
    ];
    ok(linkIds.every((id) => typeof id === "number"), `link ids: ${linkIds}`);
    const progIds = [
      ...(await tcxEgress(bench.topo.node.ns, "nic0")),
      ...(await Promise.all(valid.map((p) => tcxEgress(p.ns, "eth0")))).flat(),
    ].filter((p) => p.name.startsWith("tsn_")).map((p) => p.id);
    equal(progIds.length, 1 + valid.length);
    equal(await bench.stopAgent(), 0);
    const tUn = performance.now();
    const log = await uninstallAgent(bench.node);
    const uninstallMs = since(tUn);
    ok(log.includes("uninstalled"), log);
    const left: string[] = [];
    const { confDir, binDir, bpffs, stateDir, socket, metricsSocket } = bench.node;
    for (const f of Deno.readDirSync(confDir)) {
      const text = Deno.readTextFileSync(join(confDir, f.name));
      if (text.includes("tsn-proxy")) left.push(`conf ${f.name}`);
    }
    deepEqual(
      JSON.parse(Deno.readTextFileSync(join(confDir, PRIMARY_FILE))),
      original,
      "primary list",
    );
    for (const f of ["tsn-proxy", "tsn-proxy.d"]) {
      if (await exists(join(binDir, f))) left.push(`bin ${f}`);
    }
    for (const f of Deno.readDirSync(binDir)) if (f.name.includes("tsn-proxy")) left.push(f.name);
    for (const p of [bpffs, stateDir, socket, metricsSocket]) {
      if (await exists(p)) left.push(p);
    }
    for (const id of linkIds) if (await bpfObjectExists("link", id!)) left.push(`link ${id}`);
    for (const id of progIds) {
      if (await bpfObjectExists("prog", id)) left.push(`prog ${id} ${await progName(id)}`);
    }
    for (const p of [...valid, ...live]) {
      if ((await countOnHook(p.ns, "eth0", "tsn_saver")) > 0) left.push(`saver on ${p.name}`);
      left.push(...(await tsnClsactFilters(p.ns, "eth0")).map((l) => `${p.name}: ${l}`));
    }
    if ((await countOnHook(bench.topo.node.ns, "nic0", "tsn_restorer")) > 0) left.push("restorer");
    left.push(...(await tsnClsactFilters(bench.topo.node.ns, "nic0")));
    deepEqual(left, [], "uninstall left these behind");
    console.log(
      `churn: ${PODS} concurrent ADDs (${OPTED} opted in) ${addMs} ms; 25 DELs x2 + 10 ADDs at ` +
        `once ${churnMs} ms; GC (13 valid, ${live.length - valid.length} removed) ${gcMs} ms; ` +
        `records, pins and kernel agreed after each step; uninstall with ${valid.length} pods ` +
        `attached ${uninstallMs} ms: ${linkIds.length} links, ${progIds.length} programs, entry, ` +
        `plugin, pins, state all gone; ${since(t0)} ms`,
    );
  } finally {
    await bench.destroy();
  }
});
