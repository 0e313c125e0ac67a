/**
 * What tsn-proxy costs the node outside the datapath, and how that grows with the pods on it: CNI
 * ADD latency, the agent's memory and the restorer's per-packet cost, at several pod counts in one
 * run (the pod-count dimension).
 *
 * A simulated node (sim's CNI fixture: the built plugin and agent, Debian's bridge + host-local)
 * runs the agent as the DaemonSet does (k8s/measure_agent.ts: the manifest's capabilities only).
 * The agent appends itself to the bridge conflist. For each pod count P (ascending), opted-in
 * "resident" pods are added through the real chain until P are attached (each its own netns, veth
 * and saver instance), and stay. At P: an idle second of /proc samples (the agent's steady RSS),
 * then sample pods alternate between the chain without tsn-proxy (bridge + host-local) and the chain
 * with it (the pod opted in through the runtime's annotations, so the agent attaches a saver), in
 * alternating order per pair; each ADD is timed as the runtime sees it and followed by its DEL. Then
 * the restorer the agent pinned runs under BPF_PROG_TEST_RUN.
 * Every resident is deleted through the chain at the end (and its netns removed whatever happens).
 *
 * @module
 */
import { join } from "node:path";
import { BpfProgram } from "@tsn-proxy/bpf/libbpf";
import { PinLayout } from "@tsn-proxy/bpf/datapath";
import { CniRuntime, type NetworkList, type RuntimeConf } from "@tsn-proxy/sim/cni_driver";
import { agentHttp, type CniNode, prepareNode, uninstallAgent } from "@tsn-proxy/sim/cni_fixture";
import { createNetns, deleteNetns, type Netns } from "@tsn-proxy/sim/netns";
import { type Proc, sleep } from "@tsn-proxy/sim/process";
import { createTopology } from "@tsn-proxy/sim/topology";
import { parseProcSample, type ProcSample, startAgentWithCaps } from "@tsn-proxy/k8s/measure_agent";
import { skbCtx, udpFrame } from "./frames.ts";
import { type Latency, latency, round, summarize } from "./stats.ts";

/** The agent's memory at one pod count, KiB (from /proc/PID/status). */
export interface AgentMemory {
  /** Median VmRSS / RssAnon over the idle second before the sample ADDs. */
  steadyRssKiB: number;
  steadyAnonKiB: number;
  /** Highest VmRSS / RssAnon sampled during the sample ADDs. */
  peakRssKiB: number;
  peakAnonKiB: number;
  /** VmHWM after the sample ADDs: the peak resident set since the agent started. */
  hwmKiB: number;
  /** /proc samples taken at this point (100 ms apart). */
  samples: number;
  /** Open file descriptors after the sample ADDs (a per-pod fd would show here). */
  fds: number;
  /**
   * The agent's own view after the idle second (`tsnproxy_agent_memory_bytes`): V8's heap used and
   * total and external buffers, KiB; what RSS holds beyond them is native (libbpf, the runtime).
   */
  heapUsedKiB?: number;
  heapTotalKiB?: number;
  externalKiB?: number;
}

/**
 * The restorer the agent pinned, under BPF_PROG_TEST_RUN, at one pod count (64-byte UDP, a packet
 * the store has no record for: what every packet at the NIC pays). A hit cannot be had from the
 * pinned programs: the restorer accepts a record only when the packet carries the saver's tag in
 * `tc_index`, which a test run's sk_buff cannot be given (`convert___skb_to_skb()` requires it zero).
 */
export interface RestorerCost {
  /** Median ns per run over `samples` samples of `repeat` runs. */
  missNs: number;
  samples: number[];
  repeat: number;
}

/** Everything measured with `pods` opted-in pods attached. */
export interface PodPoint {
  /** Opted-in pods attached (each with a saver instance) while measuring. */
  pods: number;
  /** ADDs of the resident pods that brought the node from the previous point to this one, ms. */
  residentAddMs: Latency;
  /** Sample ADD wall time of bridge + host-local, ms (runtime's view). */
  baseAddMs: Latency;
  /** Sample ADD wall time of bridge + host-local + tsn-proxy for an opted-in pod, ms. */
  proxyAddMs: Latency;
  /** Per pair: with tsn-proxy − without, ms. */
  extraMs: Latency;
  /** The tsn-proxy plugin's own exec, ms. */
  pluginMs: Latency;
  /** The agent's handling of the sample ADDs (its request-duration histogram: sum / count), ms. */
  agentAddMs: number;
  /** The raw pairs, ms: [without, with]. */
  pairs: Array<[number, number]>;
  agent: AgentMemory;
  restorer: RestorerCost;
}

/** CNI ADD latency, agent memory and restorer cost at each pod count of one run. */
export interface NodeCost {
  /** `uname -r`. */
  kernel: string;
  /** Plugin types of the chain with tsn-proxy. */
  chain: string[];
  /** Sample pairs per pod count. */
  samplesPerPoint: number;
  /** Ascending pod counts. */
  points: PodPoint[];
  /** The agent's start to ready, ms. */
  agentReadyMs: number;
  /** Deleting every resident pod (DEL through the chain, netns removed) at the end, ms. */
  teardownMs: number;
}

/** Options of {@link measureNodeCost}. */
export interface NodeCostOptions {
  /** Opted-in pods attached at each point, ascending (e.g. [10, 250]). */
  readonly podCounts: readonly number[];
  /** Sample pairs (one ADD+DEL per chain) per point. */
  readonly samples: number;
  /** Idle time before each point's sample ADDs for the steady memory, ms. */
  readonly idleMs?: number;
  /** BPF_PROG_TEST_RUN repeat of the restorer's miss samples. */
  readonly repeat?: number;
  readonly log?: (line: string) => void;
}

/** The largest pod count: the bridge's /22 holds 1022 addresses, the runtime's ids 4 digits. */
export const MAX_PODS = 1000;

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
        ranges: [[{ subnet: "10.244.4.0/22" }]],
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

const median = (v: number[]) => summarize(v).median;

/** The agent's ADD request-duration histogram: [sum seconds, count]. */
function addHistogram(metrics: string): [number, number] {
  const get = (what: string) =>
    Number(
      new RegExp(`tsnproxy_cni_request_duration_seconds_${what}\\{command="ADD"\\} ([0-9.e+-]+)`)
        .exec(metrics)?.[1] ?? NaN,
    );
  return [get("sum"), get("count")];
}

/** `tsnproxy_agent_memory_bytes{kind}` of a scrape, KiB (NaN when absent). */
export function agentMemoryKiB(metrics: string, kind: string): number {
  const m = new RegExp(`^tsnproxy_agent_memory_bytes\\{kind="${kind}"\\} (\\d+)$`, "m").exec(
    metrics,
  );
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** Test-runs the restorer pinned under bpffs on a packet without a record. */
function restorerCost(bpffs: string, repeat: number): RestorerCost {
  using restorer = BpfProgram.fromPinned(new PinLayout(bpffs).restorer);
  const frame = udpFrame(64, 0x7e57, 1), ctx = skbCtx(5);
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    samples.push(restorer.testRun({ data: frame, ctx, repeat }).durationNs);
  }
  return { missNs: round(median(samples)), samples, repeat };
}

/**
 * Measures CNI ADD latency with and without tsn-proxy, the agent's RSS and the restorer's cost at
 * each pod count; deletes every pod it added and cleans up, also on failure.
 */
export async function measureNodeCost(o: NodeCostOptions): Promise<NodeCost> {
  const counts = [...o.podCounts];
  if (
    !counts.length || counts.some((c, i) =>
      !Number.isInteger(c) || c < 1 || c > MAX_PODS ||
      (i > 0 && c <= counts[i - 1]!)
    )
  ) {
    throw new RangeError(`measureNodeCost: pod counts ${counts} (ascending, 1..${MAX_PODS})`);
  }
  if (!Number.isInteger(o.samples) || o.samples < 1 || o.samples > 500) {
    throw new RangeError(`measureNodeCost: samples ${o.samples}`);
  }
  const log = o.log ?? (() => {});
  const topo = await createTopology({ kind: "bridge-nat", pods: [] });
  let node: CniNode | undefined;
  let agent: Proc | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const live = new Set<Netns>();
  const residents: Array<
    { ns: Netns; list: NetworkList; conf: RuntimeConf; result: Record<string, unknown> }
  > = [];
  let rt: CniRuntime | undefined;
  try {
    node = await prepareNode(topo, { confFiles: {}, policy: { defaultMaxPriority: 7 } });
    await Deno.writeTextFile(join(node.confDir, "10-bridge.conflist"), bridgeConf(node));
    const started = await startAgentWithCaps(node);
    agent = started.proc;
    const pid = agent.pid;
    const comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
    if (comm !== "deno") throw new Error(`pid ${pid} is ${comm}, not the agent's deno`);
    let samples: Array<ProcSample & { phase: "idle" | "adds" }> = [];
    let phase: "idle" | "adds" = "idle";
    const take = () => {
      try {
        samples.push({ ...sampleOf(pid), phase });
      } catch { /* exiting */ }
    };
    timer = setInterval(take, 100);

    const proxyList = JSON.parse(
      await Deno.readTextFile(join(node.confDir, "10-bridge.conflist")),
    ) as NetworkList;
    const chain = proxyList.plugins.map((p) => String(p.type));
    if (chain.at(-1) !== "tsn-proxy") throw new Error(`agent did not chain itself: ${chain}`);
    const baseList: NetworkList = { ...proxyList, plugins: proxyList.plugins.slice(0, -1) };
    const runtime = rt = new CniRuntime({ ns: topo.node.ns, binDirs: [node.binDir] });
    const cniNode = node;
    log(
      `node cost: ${counts.join(", ")} opted-in pods, ${o.samples} sample pairs each ` +
        `(${chain.join(" + ")} vs without tsn-proxy)`,
    );

    let serial = 0;
    /** One pod through a chain: ADD timed; kept (resident) or deleted with its netns. */
    const addPod = async (withProxy: boolean, keep: boolean) => {
      const i = serial++;
      const tag = `${keep ? "r" : "s"}${i}${withProxy ? "p" : "b"}`;
      const ns = await createNetns(`${topo.prefix}-${tag}`, { ipv6: false });
      live.add(ns);
      const conf: RuntimeConf = {
        containerId: `${topo.prefix}${tag}`.padEnd(64, "0"),
        netns: ns.path,
        ifname: "eth0",
        args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "bench", K8S_POD_NAME: tag },
        capabilityArgs: { [ANNOTATIONS]: { "tsn-proxy.io/enabled": "true" } },
      };
      const list = withProxy ? proxyList : baseList;
      const t0 = performance.now();
      const { result, runs } = await runtime.add(list, conf);
      const ms = performance.now() - t0;
      if (keep) {
        residents.push({ ns, list, conf, result });
      } else {
        await runtime.del(list, conf, result);
        await deleteNetns(ns);
        live.delete(ns);
      }
      return { ms, pluginMs: withProxy ? runs.at(-1)!.ms : NaN };
    };
    const scrape = async () => (await agentHttp(cniNode, "/metrics")).body;

    const points: PodPoint[] = [];
    for (const target of counts) {
      const grow: number[] = [];
      while (residents.length < target) grow.push((await addPod(true, true)).ms);
      samples = [];
      phase = "idle";
      take();
      await sleep(o.idleMs ?? 1000);
      phase = "adds";
      const steady = await scrape();
      const [sum0, count0] = addHistogram(steady);
      const pairs: Array<[number, number]> = [];
      const pluginMs: number[] = [];
      for (let i = 0; i < o.samples; i++) {
        // Alternate which chain goes first, so drift favours neither.
        let base: number, proxy: { ms: number; pluginMs: number };
        if (i % 2 === 0) {
          base = (await addPod(false, false)).ms;
          proxy = await addPod(true, false);
        } else {
          proxy = await addPod(true, false);
          base = (await addPod(false, false)).ms;
        }
        pluginMs.push(proxy.pluginMs);
        pairs.push([round(base), round(proxy.ms)]);
      }
      take();
      const [sum1, count1] = addHistogram(await scrape());
      if (count1 - count0 !== o.samples) {
        throw new Error(`agent counted ${count1 - count0} ADDs, expected ${o.samples}`);
      }
      const after = sampleOf(pid);
      const idle = samples.filter((s) => s.phase === "idle");
      const adds = samples.filter((s) => s.phase === "adds");
      const point: PodPoint = {
        pods: target,
        residentAddMs: latency(grow),
        baseAddMs: latency(pairs.map((p) => p[0])),
        proxyAddMs: latency(pairs.map((p) => p[1])),
        extraMs: latency(pairs.map((p) => p[1] - p[0])),
        pluginMs: latency(pluginMs),
        agentAddMs: round(((sum1 - sum0) / (count1 - count0)) * 1000),
        pairs,
        agent: {
          steadyRssKiB: median(idle.map((s) => s.rssKiB)),
          steadyAnonKiB: median(idle.map((s) => s.anonKiB)),
          peakRssKiB: Math.max(...adds.map((s) => s.rssKiB)),
          peakAnonKiB: Math.max(...adds.map((s) => s.anonKiB)),
          hwmKiB: after.hwmKiB,
          samples: samples.length,
          fds: [...Deno.readDirSync(`/proc/${pid}/fd`)].length,
          heapUsedKiB: agentMemoryKiB(steady, "heap_used"),
          heapTotalKiB: agentMemoryKiB(steady, "heap_total"),
          externalKiB: agentMemoryKiB(steady, "external"),
        },
        restorer: restorerCost(cniNode.bpffs, o.repeat ?? 100_000),
      };
      points.push(point);
      log(
        `node cost at ${target} pods: ADD ${point.proxyAddMs.median} ms median ` +
          `(p99 ${point.proxyAddMs.p99}), +${point.extraMs.median} over the plain chain ` +
          `(plugin ${point.pluginMs.median}, agent ${point.agentAddMs}); agent RSS ` +
          `${point.agent.steadyRssKiB} KiB; restorer miss ${point.restorer.missNs} ns`,
      );
    }
    clearInterval(timer);
    timer = undefined;
    const t0 = performance.now();
    await deleteResidents(runtime, residents, live);
    return {
      kernel: Deno.osRelease(),
      chain,
      samplesPerPoint: o.samples,
      points,
      agentReadyMs: Math.round(started.readyMs),
      teardownMs: Math.round(performance.now() - t0),
    };
  } finally {
    if (timer !== undefined) clearInterval(timer);
    // On failure: DEL what is still attached while the agent runs, bounded by the pods added.
    if (rt) await deleteResidents(rt, residents, live).catch(() => {});
    await agent?.stop(5000).catch(() => {});
    if (node) await uninstallAgent(node).catch(() => {});
    for (const ns of live) await deleteNetns(ns).catch(() => {});
    await topo.destroy();
    await node?.cleanup();
  }
}

/** DELs every resident pod through its chain and removes its netns (each at most once). */
async function deleteResidents(
  rt: CniRuntime,
  residents: Array<
    { ns: Netns; list: NetworkList; conf: RuntimeConf; result: Record<string, unknown> }
  >,
  live: Set<Netns>,
): Promise<void> {
  while (residents.length) {
    const r = residents.pop()!;
    try {
      await rt.del(r.list, r.conf, r.result);
    } finally {
      await deleteNetns(r.ns);
      live.delete(r.ns);
    }
  }
}

if (import.meta.main) {
  const counts = (Deno.args[0] ?? "10,30").split(",").map(Number);
  const samples = Number(Deno.args[1] ?? "8");
  const cost = await measureNodeCost({
    podCounts: counts,
    samples,
    log: (l) => console.error(`  ▸ ${l}`),
  });
  console.log(
    JSON.stringify({ ...cost, points: cost.points.map(({ pairs: _, ...p }) => p) }, null, 2),
  );
}
