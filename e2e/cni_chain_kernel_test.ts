/**
 * The tsn-proxy plugin as a runtime drives it, chained after Debian's real plugins (ptp +
 * host-local in kindnet's conflist; bridge + host-local in a lone .conf the agent wraps), with the
 * built agent (dist) running in the simulated node. Unmodified socat talkers in the pods, the
 * observer on the node's NIC: opted-in pods get their priority back (clamped by the namespace
 * policy), pods that did not opt in do not. Then the agent's life: down (pinned datapath keeps
 * working; opted-in ADD fails with 11, plain ADD passes), restart (adopts), GC, DEL, STATUS,
 * uninstall. A pod's default class (`tsn-proxy.io/priority`) reaches the NIC on the packets of an
 * app that sets no SO_PRIORITY, clamped by the namespace policy; a socket's own priority wins.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadState } from "@tsn-proxy/bpf/datapath";
import {
  CniCallError,
  CniRuntime,
  type NetworkList,
  type RuntimeConf,
} from "@tsn-proxy/sim/cni_driver";
import {
  type AgentHandle,
  agentHttp,
  type CniNode,
  kindnetConflist,
  prepareNode,
  startAgent,
  uninstallAgent,
} from "@tsn-proxy/sim/cni_fixture";
import { BIN, createNetns, deleteNetns, exists, type Netns } from "@tsn-proxy/sim/netns";
import { exec } from "@tsn-proxy/sim/process";
import { installObserver, type Observer } from "@tsn-proxy/sim/observer";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { startReceiver } from "@tsn-proxy/sim/talkers/receiver";
import { runSocatTalker } from "@tsn-proxy/sim/talkers/socat";
import { createTopology, type Topology, waitLinksReady } from "@tsn-proxy/sim/topology";

const COUNT = 100;
const ANNOTATIONS = "io.kubernetes.cri.pod-annotations";

interface Pod {
  readonly name: string;
  readonly id: number;
  readonly ns: Netns;
  readonly rt: RuntimeConf;
  result?: Record<string, unknown>;
}

/** A node with its agent, pods and observer; torn down in one place. */
class Bench {
  pods: Pod[] = [];
  agent: AgentHandle | undefined;
  observer: Observer | undefined;
  constructor(readonly topo: Topology, readonly node: CniNode, readonly rt: CniRuntime) {}

  static async create(confFiles: Record<string, string>, policy?: Record<string, unknown>) {
    const topo = await createTopology({ kind: "routed-nat", pods: [] });
    try {
      const node = await prepareNode(topo, { confFiles, ...(policy ? { policy } : {}) });
      return new Bench(topo, node, new CniRuntime({ ns: topo.node.ns, binDirs: [node.binDir] }));
    } catch (e) {
      await topo.destroy();
      throw e;
    }
  }

  conflist(name: string): NetworkList {
    return JSON.parse(Deno.readTextFileSync(join(this.node.confDir, name)));
  }

  async pod(
    name: string,
    opts: { args?: Record<string, string>; annotations?: Record<string, string> },
  ) {
    const ns = await createNetns(`${this.topo.prefix}-${name}`, { ipv6: false });
    const pod: Pod = {
      name,
      id: this.pods.length + 1,
      ns,
      rt: {
        containerId: `${this.topo.prefix}${name}${"0".repeat(40)}`,
        netns: ns.path,
        ifname: "eth0",
        // As containerd passes them: IgnoreUnknown first, so plugins accept keys not theirs.
        args: {
          IgnoreUnknown: "1",
          K8S_POD_NAMESPACE: "default",
          K8S_POD_NAME: name,
          ...opts.args,
        },
        ...(opts.annotations ? { capabilityArgs: { [ANNOTATIONS]: opts.annotations } } : {}),
      },
    };
    this.pods.push(pod);
    return pod;
  }

  /** Sends COUNT records from each pod over UDP and reads the observer's row per port. */
  /** A talker's priority null: its app never sets SO_PRIORITY. */
  async traffic(
    talkers: { pod: Pod; priority: number | null; expect: number; port: number }[],
  ): Promise<Map<number, { packets: number; prioRight: number; prioZero: number }>> {
    await waitLinksReady(this.topo.node.ns);
    this.observer ??= await installObserver({
      ns: this.topo.node.ns,
      ifname: this.topo.node.nic,
      bpffsDir: this.topo.bpffsDir,
    });
    const receivers = [];
    try {
      for (const t of talkers) {
        await this.observer.expect(t.port, { pod: t.pod.id, priority: t.expect, record: true });
        receivers.push(await startReceiver(this.topo.far.ns, "udp", t.port));
      }
      await Promise.all(talkers.map(async (t) => {
        const r = await runSocatTalker({
          ns: t.pod.ns,
          protocol: "udp",
          dst: this.topo.far.ip,
          port: t.port,
          priority: t.priority,
          pod: t.pod.id,
          count: COUNT,
        });
        equal(r.code, 0, r.stderr);
      }));
      for (const rx of receivers) await rx.waitRecords(COUNT, 2000);
      const out = new Map<number, { packets: number; prioRight: number; prioZero: number }>();
      for (const t of talkers) {
        const s = await this.observer.stats(t.port);
        out.set(t.port, { packets: s.records, prioRight: s.prioRight, prioZero: s.prioZero });
      }
      return out;
    } finally {
      for (const rx of receivers) await rx.stop();
    }
  }

  async destroy() {
    await this.agent?.stop().catch(() => {});
    // A failed test may leave the agent's pins and conf entry: uninstall is idempotent.
    await uninstallAgent(this.node).catch(() => {});
    await this.observer?.destroy().catch(() => {});
    for (const p of this.pods) await deleteNetns(p.ns).catch(() => {});
    await this.topo.destroy();
    await this.node.cleanup();
  }
}

function errorCode(e: unknown): number {
  if (e instanceof CniCallError) return e.error.code ?? -1;
  throw e;
}

async function expectCode(p: Promise<unknown>, code: number, what: string) {
  try {
    await p;
  } catch (e) {
    equal(errorCode(e), code, `${what}: ${e}`);
    return;
  }
  throw new Error(`${what}: expected CNI error ${code}, got success`);
}

Deno.test("tsn-proxy after ptp+host-local (kindnet): opt-in, clamp, agent down/restart, GC, DEL, uninstall", async () => {
  requireKernelTests();
  const t0 = performance.now();
  // The node's files are written once prepareNode has made the dir: write the real list after.
  const bench = await Bench.create({}, {
    defaultMaxPriority: "unlimited",
    namespaces: { capped: 2 },
  });
  try {
    const { node, rt } = bench;
    await Deno.writeTextFile(join(node.confDir, "10-kindnet.conflist"), kindnetConflist(node));
    bench.agent = await startAgent(node);
    const list = bench.conflist("10-kindnet.conflist");
    deepEqual(list.plugins.map((p) => p.type), ["ptp", "portmap", "tsn-proxy"]);
    equal(list.plugins[2]?.socketPath, node.socket);

    const a = await bench.pod("a", { annotations: { "tsn-proxy.io/enabled": "true" } });
    const b = await bench.pod("b", { annotations: { "other": "x" } });
    const c = await bench.pod("c", {
      args: { K8S_POD_NAMESPACE: "capped" },
      annotations: { "tsn-proxy.io/enabled": "true" },
    });
    const latency: Record<string, string> = {};
    for (const p of [a, b, c]) {
      const { result, runs } = await rt.add(list, p.rt);
      p.result = result;
      // Passed through unchanged: our output is portmap's output, byte for byte as JSON.
      deepEqual(
        JSON.parse(runs[2]!.stdout),
        JSON.parse(runs[1]!.stdout),
        `${p.name}: pass-through`,
      );
      latency[p.name] = `ptp+host-local ${runs[0]!.ms.toFixed(0)} ms, portmap ${
        runs[1]!.ms.toFixed(0)
      } ms, tsn-proxy ${runs[2]!.ms.toFixed(0)} ms`;
    }
    console.log(`ADD latency: ${JSON.stringify(latency, null, 1)}`);
    const state = loadState(join(node.stateDir, "datapath.json"));
    equal(state?.pods.length, 2, "savers for a and c only");
    deepEqual(state?.pods.map((p) => p.maxPriority).sort(), [2, 0xffffffff]);

    const rows = await bench.traffic([
      { pod: a, priority: 5, expect: 5, port: 42001 },
      { pod: b, priority: 3, expect: 3, port: 42002 },
      { pod: c, priority: 6, expect: 2, port: 42003 },
    ]);
    const ra = rows.get(42001)!, rb = rows.get(42002)!, rc = rows.get(42003)!;
    equal(ra.packets, COUNT, "a: all seen");
    equal(ra.prioRight, COUNT, "a: priority restored");
    equal(rb.prioRight, 0, "b did not opt in: nothing restored");
    equal(rb.prioZero, COUNT);
    equal(rc.prioRight, COUNT, "c: priority 6 clamped to its namespace's 2");
    // CHECK needs 0.4.0: libcni refuses it for this 0.3.1 list, and so does the plugin (code 1).
    const ours = list.plugins[2]!;
    await expectCode(
      rt.exec("tsn-proxy", "CHECK", rt.pluginConf(list, ours, a.result, a.rt), a.rt),
      1,
      "CHECK of a 0.3.1 config",
    );
    const v04: NetworkList = { ...list, cniVersion: "0.4.0" };
    await rt.exec("tsn-proxy", "CHECK", rt.pluginConf(v04, ours, a.result, a.rt), a.rt);
    const metrics = (await agentHttp(node, "/metrics")).body;
    ok(/tsnproxy_priority_clamped_packets_total \d+/.test(metrics));
    ok(Number(/tsnproxy_priority_clamped_packets_total (\d+)/.exec(metrics)?.[1]) >= COUNT);
    ok(metrics.includes('tsnproxy_cni_requests_total{command="ADD",result="ok"} 2'), metrics);
    ok(metrics.includes("tsnproxy_attachments 2"));

    // The agent goes away: pinned savers and restorer keep working.
    equal(await bench.agent.stop(), 0);
    bench.agent = undefined;
    const down = await bench.traffic([{ pod: a, priority: 4, expect: 4, port: 42004 }]);
    equal(down.get(42004)!.prioRight, COUNT, "restored while the agent is down");
    const d = await bench.pod("d", { annotations: { "tsn-proxy.io/enabled": "true" } });
    await expectCode(rt.add(list, d.rt), 11, "opted-in ADD with the agent down");
    await rt.del(list, d.rt); // as the runtime does after a failed ADD
    const e = await bench.pod("e", { annotations: {} });
    const plainDown = await rt.add(list, e.rt);
    e.result = plainDown.result;

    // A restarted agent adopts the pinned datapath and its savers.
    bench.agent = await startAgent(node);
    ok(bench.agent.proc.stderr.includes("datapath adopted"), bench.agent.proc.stderr);
    await rt.exec("tsn-proxy", "CHECK", rt.pluginConf(v04, ours, c.result, c.rt), c.rt);
    equal(loadState(join(node.stateDir, "datapath.json"))?.pods.length, 2);

    // GC and STATUS (1.1.0 operations): only plugins that speak 1.1.0 get them (tsn-proxy).
    const v11: NetworkList = { ...list, cniVersion: "1.1.0" };
    const gc = await rt.gc(v11, [
      { containerID: c.rt.containerId, ifname: "eth0" },
      { containerID: e.rt.containerId, ifname: "eth0" },
    ]);
    deepEqual(gc.map((r) => r.type), ["tsn-proxy"]);
    const afterGc = loadState(join(node.stateDir, "datapath.json"))?.pods ?? [];
    equal(afterGc.length, 1, "GC removed a's saver, kept c's");
    ok(afterGc[0]?.netns === c.ns.path);
    await rt.status(v11);

    for (const p of [a, a, b, c, e]) await rt.del(list, p.rt, p.result);
    equal(loadState(join(node.stateDir, "datapath.json"))?.pods.length, 0);

    equal(await bench.agent.stop(), 0);
    bench.agent = undefined;
    await expectCode(rt.status(v11), 50, "STATUS with the agent down");

    const log = await uninstallAgent(node);
    ok(log.includes("uninstalled"), log);
    deepEqual(bench.conflist("10-kindnet.conflist").plugins.map((p) => p.type), ["ptp", "portmap"]);
    ok(!(await exists(node.bpffs)), "pins removed");
    ok(!(await exists(join(node.binDir, "tsn-proxy"))), "plugin removed");
    ok(!(await exists(node.stateDir)), "state removed");
    console.log(`kindnet chain test: ${Math.round(performance.now() - t0)} ms`);
  } finally {
    await bench.destroy();
  }
});

Deno.test("tsn-proxy wraps a lone bridge .conf; opt-in through CNI_ARGS, unknown pods pass", async () => {
  requireKernelTests();
  const bench = await Bench.create({});
  try {
    const { node, rt } = bench;
    await Deno.writeTextFile(
      join(node.confDir, "10-bridge.conf"),
      JSON.stringify({
        cniVersion: "0.4.0",
        name: "bridge",
        type: "bridge",
        bridge: "tsnbr0",
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: "host-local",
          dataDir: node.ipamDir,
          ranges: [[{ subnet: "10.244.2.0/24" }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      }),
    );
    await Deno.chmod(join(node.confDir, "10-bridge.conf"), 0o640);
    bench.agent = await startAgent(node);
    deepEqual([...Deno.readDirSync(node.confDir)].map((e) => e.name), ["10-bridge.conflist"]);
    equal((await Deno.stat(join(node.confDir, "10-bridge.conflist"))).mode! & 0o777, 0o640);
    const list = bench.conflist("10-bridge.conflist");
    deepEqual(list.plugins.map((p) => p.type), ["bridge", "tsn-proxy"]);

    // No annotations at all (a runtime without the capability): CNI_ARGS opts in; without it the
    // agent cannot tell (API lookup disabled here) and leaves the pod alone.
    const a = await bench.pod("a", { args: { TSN_PROXY_ENABLED: "true" } });
    const u = await bench.pod("u", {});
    for (const p of [a, u]) p.result = (await rt.add(list, p.rt)).result;
    equal(loadState(join(node.stateDir, "datapath.json"))?.pods.length, 1);
    const rows = await bench.traffic([
      { pod: a, priority: 5, expect: 5, port: 42101 },
      { pod: u, priority: 3, expect: 3, port: 42102 },
    ]);
    equal(rows.get(42101)!.prioRight, COUNT);
    equal(rows.get(42102)!.prioRight, 0);
    await rt.check(list, a.rt, a.result!);
    await rt.del(list, u.rt, u.result);

    // Uninstall with a pod still attached: its saver's TCX link goes too (Debian's bpftool does
    // not list TCX in `net show`: follow the link by id from its pin).
    const pod = loadState(join(node.stateDir, "datapath.json"))?.pods[0];
    ok(pod?.mode.kind === "tcx", "the kernel has TCX");
    const linkPin = join(node.bpffs, "pods", pod.id, "link");
    const link = JSON.parse(
      (await exec([BIN.bpftool, "-j", "link", "show", "pinned", linkPin])).stdout,
    );
    ok(typeof link.id === "number");
    equal(await bench.agent.stop(), 0);
    bench.agent = undefined;
    await uninstallAgent(node);
    const gone = await exec([BIN.bpftool, "link", "show", "id", String(link.id)], {
      allowFail: true,
    });
    ok(!gone.success, `a's saver link ${link.id} still exists after uninstall`);
    ok(!(await exists(node.bpffs)));
    deepEqual(bench.conflist("10-bridge.conflist").plugins.map((p) => p.type), ["bridge"]);
  } finally {
    await bench.destroy();
  }
});

Deno.test("a pod's default class (tsn-proxy.io/priority) reaches the NIC, clamped; a socket's own priority wins", async () => {
  requireKernelTests();
  const bench = await Bench.create({}, {
    defaultMaxPriority: "unlimited",
    namespaces: { capped: 2 },
  });
  try {
    const { node, rt } = bench;
    await Deno.writeTextFile(join(node.confDir, "10-kindnet.conflist"), kindnetConflist(node));
    bench.agent = await startAgent(node);
    const list = bench.conflist("10-kindnet.conflist");
    const on = { "tsn-proxy.io/enabled": "true" };
    // a, b: class 5; c: class 6 in a namespace clamped to 2; d: a class that is not a number;
    // e: class 5 but not opted in.
    const a = await bench.pod("a", { annotations: { ...on, "tsn-proxy.io/priority": "5" } });
    const b = await bench.pod("b", { annotations: { ...on, "tsn-proxy.io/priority": "5" } });
    const c = await bench.pod("c", {
      args: { K8S_POD_NAMESPACE: "capped" },
      annotations: { ...on, "tsn-proxy.io/priority": "6" },
    });
    const d = await bench.pod("d", { annotations: { ...on, "tsn-proxy.io/priority": "high" } });
    const e = await bench.pod("e", { annotations: { "tsn-proxy.io/priority": "5" } });
    for (const p of [a, b, c, d, e]) p.result = (await rt.add(list, p.rt)).result;
    const pods = loadState(join(node.stateDir, "datapath.json"))?.pods ?? [];
    deepEqual(
      pods.map((p) => p.defaultPriority ?? 0).sort(),
      [0, 5, 5, 6],
      "savers for a-d; d without a class; e none",
    );

    const rows = await bench.traffic([
      { pod: a, priority: null, expect: 5, port: 42201 },
      { pod: b, priority: 3, expect: 3, port: 42202 },
      { pod: c, priority: null, expect: 2, port: 42203 },
      { pod: d, priority: null, expect: 0, port: 42204 },
      { pod: e, priority: null, expect: 0, port: 42205 },
    ]);
    const row = (port: number) => rows.get(port)!;
    equal(row(42201).packets, COUNT, "a: all seen");
    equal(row(42201).prioRight, COUNT, "a: no SO_PRIORITY, its class 5");
    equal(row(42202).prioRight, COUNT, "b: its socket's own 3 wins over the class");
    equal(row(42203).prioRight, COUNT, "c: class 6 clamped to its namespace's 2");
    // Expected 0: the observer counts a priority equal to the expected one as right.
    equal(row(42204).prioRight, COUNT, "d: an invalid class is ignored (priority 0)");
    equal(row(42205).prioRight, COUNT, "e: a class alone opts nothing in (priority 0)");

    const metrics = (await agentHttp(node, "/metrics")).body;
    const value = (re: RegExp) => Number(re.exec(metrics)?.[1]);
    ok(
      value(/tsnproxy_datapath_packets_total\{counter="save_defaulted",[^}]*\} (\d+)/) >= 2 * COUNT,
      metrics,
    );
    ok(metrics.includes("tsnproxy_datapath_savers_default_class 3"), metrics);
    ok(metrics.includes('tsnproxy_policy_default_classes_total{namespace="default"} 2'), metrics);
    ok(metrics.includes('tsnproxy_policy_default_classes_total{namespace="capped"} 1'), metrics);
    ok(
      /gets no default class: annotation tsn-proxy\.io\/priority has an invalid value "high"/
        .test(bench.agent.proc.stderr),
      bench.agent.proc.stderr,
    );
    for (const p of [a, b, c, d, e]) await rt.del(list, p.rt, p.result);
    equal(loadState(join(node.stateDir, "datapath.json"))?.pods.length, 0);
  } finally {
    await bench.destroy();
  }
});
