/**
 * What tsn-proxy costs the node outside the datapath: CNI ADD latency and the agent's memory.
 *
 * A simulated node (e2e's CNI fixture: the built plugin and agent, Debian's bridge + host-local)
 * runs the agent as the DaemonSet does (k8s/measure_agent.ts: the manifest's capabilities only).
 * The agent appends itself to the bridge conflist; pods then alternate between the chain without
 * it (bridge + host-local) and the chain with it (bridge + host-local + tsn-proxy, the pod opted in
 * through the runtime's annotations, so the agent attaches a saver), in alternating order per
 * pair; each ADD is timed as the runtime sees it and followed by its DEL. The agent's VmRSS and
 * RssAnon are sampled from /proc every 100 ms: steady = median over an idle second before the
 * ADDs, peak = highest sample during them (and VmHWM, the kernel's own peak).
 *
 * @module
 */
import { join } from "node:path";
import { CniRuntime, type NetworkList } from "@tsn-proxy/sim/cni_driver";
import { agentHttp, type CniNode, prepareNode, uninstallAgent } from "@tsn-proxy/sim/cni_fixture";
import { createNetns, deleteNetns, type Netns } from "@tsn-proxy/sim/netns";
import { type Proc, sleep } from "@tsn-proxy/sim/process";
import { createTopology } from "@tsn-proxy/sim/topology";
import { parseProcSample, type ProcSample, startAgentWithCaps } from "@tsn-proxy/k8s/measure_agent";
import { round, summarize, type Summary } from "./stats.ts";

/** The agent's memory, KiB (from /proc/PID/status). */
export interface AgentMemory {
  /** Median VmRSS / RssAnon over the idle second before the ADDs. */
  steadyRssKiB: number;
  steadyAnonKiB: number;
  /** Highest VmRSS / RssAnon sampled during the ADDs. */
  peakRssKiB: number;
  peakAnonKiB: number;
  /** VmHWM after the ADDs: the peak resident set since the agent started. */
  hwmKiB: number;
  /** VmRSS / RssAnon right after the last DEL. */
  afterRssKiB: number;
  afterAnonKiB: number;
  /** /proc samples taken (100 ms apart). */
  samples: number;
  /** Start to ready, ms. */
  readyMs: number;
}

/** CNI ADD latency and agent memory of one run. */
export interface NodeCost {
  /** `uname -r`. */
  kernel: string;
  /** Plugin types of the chain with tsn-proxy. */
  chain: string[];
  /** Pods per chain. */
  pods: number;
  /** ADD wall time of bridge + host-local, ms (runtime's view). */
  baseAddMs: Summary;
  /** ADD wall time of bridge + host-local + tsn-proxy for an opted-in pod, ms. */
  proxyAddMs: Summary;
  /** Per pair: with tsn-proxy − without, ms. */
  extraMs: Summary;
  /** The tsn-proxy plugin's own exec, ms. */
  pluginMs: Summary;
  /** The raw pairs, ms: [without, with]. */
  pairs: Array<[number, number]>;
  agent: AgentMemory;
}

/** Options of {@link measureNodeCost}. */
export interface NodeCostOptions {
  /** Pods per chain (the same number with and without tsn-proxy). */
  readonly pods: number;
  /** Idle time before the ADDs for the steady memory, ms. */
  readonly idleMs?: number;
  readonly log?: (line: string) => void;
}

const ANNOTATIONS = "io.kubernetes.cri.pod-annotations";

function bridgeConf(node: CniNode): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "bench-bridge",
    plugins: [{
      type: "bridge",
      bridge: "tsnbench0",
      isGateway: true,
      ipMasq: false,
      ipam: {
        type: "host-local",
        dataDir: node.ipamDir,
        ranges: [[{ subnet: "10.244.3.0/24" }]],
        routes: [{ dst: "0.0.0.0/0" }],
      },
    }],
  });
}

function sampleOf(pid: number): ProcSample {
  return parseProcSample(
    Deno.readTextFileSync(`/proc/${pid}/status`),
    Deno.readTextFileSync(`/proc/${pid}/stat`),
  );
}

const rounded = (s: Summary): Summary => ({
  n: s.n,
  median: round(s.median),
  min: round(s.min),
  max: round(s.max),
  p25: round(s.p25),
  p75: round(s.p75),
});

const median = (v: number[]) => summarize(v).median;

/** Measures CNI ADD latency with and without tsn-proxy and the agent's RSS; cleans up. */
export async function measureNodeCost(o: NodeCostOptions): Promise<NodeCost> {
  if (!Number.isInteger(o.pods) || o.pods < 1 || o.pods > 200) {
    throw new RangeError(`measureNodeCost: pods ${o.pods}`);
  }
  const log = o.log ?? (() => {});
  const topo = await createTopology({ kind: "bridge-nat", pods: [] });
  let node: CniNode | undefined;
  let agent: Proc | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const live = new Set<Netns>();
  try {
    node = await prepareNode(topo, { confFiles: {}, policy: { defaultMaxPriority: 7 } });
    await Deno.writeTextFile(join(node.confDir, "10-bridge.conflist"), bridgeConf(node));
    const started = await startAgentWithCaps(node);
    agent = started.proc;
    const pid = agent.pid;
    const comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
    if (comm !== "deno") throw new Error(`pid ${pid} is ${comm}, not the agent's deno`);
    const samples: Array<ProcSample & { phase: "idle" | "adds" }> = [];
    let phase: "idle" | "adds" = "idle";
    const take = () => {
      try {
        samples.push({ ...sampleOf(pid), phase });
      } catch { /* exiting */ }
    };
    take();
    timer = setInterval(take, 100);
    await sleep(o.idleMs ?? 1000);

    const proxyList = JSON.parse(
      await Deno.readTextFile(join(node.confDir, "10-bridge.conflist")),
    ) as NetworkList;
    const chain = proxyList.plugins.map((p) => String(p.type));
    if (chain.at(-1) !== "tsn-proxy") throw new Error(`agent did not chain itself: ${chain}`);
    const baseList: NetworkList = { ...proxyList, plugins: proxyList.plugins.slice(0, -1) };
    const rt = new CniRuntime({ ns: topo.node.ns, binDirs: [node.binDir] });
    log(`node cost: ${o.pods} pods per chain (${chain.join(" + ")} vs without tsn-proxy)`);

    phase = "adds";
    take();
    const one = async (i: number, withProxy: boolean) => {
      const ns = await createNetns(`${topo.prefix}-c${i}${withProxy ? "p" : "b"}`, { ipv6: false });
      live.add(ns);
      const rtConf = {
        containerId: `${topo.prefix}c${i}${withProxy ? "p" : "b"}`.padEnd(64, "0"),
        netns: ns.path,
        ifname: "eth0",
        args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "bench", K8S_POD_NAME: `c${i}` },
        capabilityArgs: { [ANNOTATIONS]: { "tsn-proxy.io/enabled": "true" } },
      };
      const list = withProxy ? proxyList : baseList;
      const t0 = performance.now();
      const { result, runs } = await rt.add(list, rtConf);
      const ms = performance.now() - t0;
      await rt.del(list, rtConf, result);
      await deleteNetns(ns);
      live.delete(ns);
      return { ms, pluginMs: withProxy ? runs.at(-1)!.ms : null };
    };
    const pairs: Array<[number, number]> = [];
    const pluginMs: number[] = [];
    for (let i = 0; i < o.pods; i++) {
      // Alternate which chain goes first, so drift favours neither.
      let base: number, proxy: number;
      if (i % 2 === 0) {
        base = (await one(i, false)).ms;
        const p = await one(i, true);
        proxy = p.ms;
        pluginMs.push(p.pluginMs!);
      } else {
        const p = await one(i, true);
        proxy = p.ms;
        pluginMs.push(p.pluginMs!);
        base = (await one(i, false)).ms;
      }
      pairs.push([round(base), round(proxy)]);
    }
    take();
    clearInterval(timer);
    timer = undefined;
    const metrics = (await agentHttp(node, "/metrics")).body;
    const okAdds = Number(
      /tsnproxy_cni_requests_total\{command="ADD",result="ok"\} (\d+)/.exec(metrics)?.[1],
    );
    if (okAdds !== o.pods) throw new Error(`agent counted ${okAdds} ADDs, expected ${o.pods}`);
    const after = sampleOf(pid);
    const idle = samples.filter((s) => s.phase === "idle");
    const adds = samples.filter((s) => s.phase === "adds");
    const cost: NodeCost = {
      kernel: Deno.osRelease(),
      chain,
      pods: o.pods,
      baseAddMs: rounded(summarize(pairs.map((p) => p[0]))),
      proxyAddMs: rounded(summarize(pairs.map((p) => p[1]))),
      extraMs: rounded(summarize(pairs.map((p) => p[1] - p[0]))),
      pluginMs: rounded(summarize(pluginMs)),
      pairs,
      agent: {
        steadyRssKiB: median(idle.map((s) => s.rssKiB)),
        steadyAnonKiB: median(idle.map((s) => s.anonKiB)),
        peakRssKiB: Math.max(...adds.map((s) => s.rssKiB)),
        peakAnonKiB: Math.max(...adds.map((s) => s.anonKiB)),
        hwmKiB: after.hwmKiB,
        afterRssKiB: after.rssKiB,
        afterAnonKiB: after.anonKiB,
        samples: samples.length,
        readyMs: Math.round(started.readyMs),
      },
    };
    log(
      `node cost: ADD +${cost.extraMs.median} ms median [${cost.extraMs.min}–${cost.extraMs.max}]` +
        `, agent RSS ${cost.agent.steadyRssKiB} KiB steady, ${cost.agent.peakRssKiB} KiB peak`,
    );
    return cost;
  } finally {
    if (timer !== undefined) clearInterval(timer);
    await agent?.stop(5000).catch(() => {});
    if (node) await uninstallAgent(node).catch(() => {});
    for (const ns of live) await deleteNetns(ns).catch(() => {});
    await topo.destroy();
    await node?.cleanup();
  }
}

if (import.meta.main) {
  const pods = Number(Deno.args[0] ?? "15");
  const cost = await measureNodeCost({ pods, log: (l) => console.error(`  ▸ ${l}`) });
  console.log(JSON.stringify(cost, null, 2));
}
