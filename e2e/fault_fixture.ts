/**
 * Shared by the fault and abuse tests (`fault_*_kernel_test.ts`, `abuse_*_kernel_test.ts`): a
 * simulated node (routed-nat topology without pods: nic0, MASQUERADE, the external bridge) whose
 * primary CNI is Debian's bridge + host-local, the built agent and plugin (dist) as the CNI chain
 * runs them, pods as netns the bridge plugin wires, NIC-side measurement with the observer, and
 * what the kernel really has attached (TCX hooks, link pins) to compare with the agent's state.
 *
 * @example
 * ```ts ignore
 * const bench = await CniBench.create({
 *   policy: { defaultMaxPriority: "unlimited", namespaces: { capped: 2 } },
 * });
 * try {
 *   await bench.startAgent();
 *   const a = await bench.pod("a", { optIn: true });
 *   await bench.add(a);
 *   const rows = await bench.traffic([{ pod: a, priority: 5, expect: 5, clock: "tai" }]);
 * } finally {
 *   await bench.destroy();
 * }
 * ```
 */
import { join } from "node:path";
import { loadState, PinLayout } from "@tsn-proxy/bpf/datapath";
import { ifindex, isBpfError, tcxQuery, withNetns } from "@tsn-proxy/bpf/libbpf";
import {
  CniCallError,
  CniRuntime,
  type NetworkList,
  type RuntimeConf,
} from "@tsn-proxy/sim/cni_driver";
import {
  type AgentHandle,
  type CniNode,
  prepareNode,
  startAgent,
  uninstallAgent,
} from "@tsn-proxy/sim/cni_fixture";
import { BIN, createNetns, deleteNetns, exists, ipBatch, type Netns } from "@tsn-proxy/sim/netns";
import { installObserver, type Observer, type ObserverStats } from "@tsn-proxy/sim/observer";
import { exec } from "@tsn-proxy/sim/process";
import { startReceiver } from "@tsn-proxy/sim/talkers/receiver";
import type { TxClock } from "@tsn-proxy/sim/talkers/record";
import { runTxtimeSender } from "@tsn-proxy/sim/talkers/txtime";
import { ADDR, createTopology, type Topology, waitLinksReady } from "@tsn-proxy/sim/topology";

/** The annotation capability key containerd and CRI-O use. */
export const ANNOTATIONS = "io.kubernetes.cri.pod-annotations";

/** The primary conflist the benches use. */
export const PRIMARY_FILE = "10-tsnbr.conflist";

/** The bridge + host-local list (1.0.0: Debian's plugins speak up to 1.0.0). */
function bridgeList(node: CniNode, subnet = "10.244.2.0/24"): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "tsnbr",
      plugins: [{
        type: "bridge",
        bridge: "tsnbr0",
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: "host-local",
          dataDir: node.ipamDir,
          ranges: [[{ subnet }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      }],
    },
    null,
    2,
  );
}

/** A pod of a bench. */
export interface BenchPod {
  readonly name: string;
  /** Record pod id (observer). */
  readonly id: number;
  readonly ns: Netns;
  readonly rt: RuntimeConf;
  /** The chain's ADD result, once added. */
  result?: Record<string, unknown>;
}

/** Options of {@link CniBench.create}. */
export interface BenchOptions {
  /** The agent's `policy` section. */
  readonly policy?: Record<string, unknown>;
  /** Extra agent config keys (merged one level deep into `cni`). */
  readonly agentConfig?: Record<string, unknown>;
}

/** One NIC-side measurement. */
export interface Talk {
  readonly pod: BenchPod;
  /** SO_PRIORITY the talker sets. */
  readonly priority: number;
  /** The priority the observer expects at the NIC. */
  readonly expect: number;
  readonly clock: TxClock;
  /** Datagrams (default 200). */
  readonly count?: number;
  /** µs between datagrams (default 200). */
  readonly intervalUs?: number;
  /** Destination port (default: a fresh one). */
  readonly port?: number;
}

let nextPort = 43000;

/** A node with the agent, the plugin chained after bridge + host-local, pods and an observer. */
export class CniBench {
  readonly pods: BenchPod[] = [];
  agent: AgentHandle | undefined;
  observer: Observer | undefined;
  readonly rt: CniRuntime;

  private constructor(readonly topo: Topology, readonly node: CniNode) {
    this.rt = new CniRuntime({ ns: topo.node.ns, binDirs: [node.binDir] });
  }

  /** Builds the node and writes the primary conflist and the agent config. */
  static async create(o: BenchOptions = {}): Promise<CniBench> {
    const topo = await createTopology({ kind: "routed-nat", pods: [] });
    try {
      const node = await prepareNode(topo, {
        confFiles: {},
        ...(o.policy ? { policy: o.policy } : {}),
      });
      await Deno.writeTextFile(join(node.confDir, PRIMARY_FILE), bridgeList(node));
      if (o.agentConfig) {
        const cfg = JSON.parse(await Deno.readTextFile(node.configPath));
        for (const [k, v] of Object.entries(o.agentConfig)) {
          cfg[k] = k === "cni" ? { ...cfg.cni, ...(v as object) } : v;
        }
        await Deno.writeTextFile(node.configPath, JSON.stringify(cfg, null, 2));
      }
      return new CniBench(topo, node);
    } catch (e) {
      await topo.destroy();
      throw e;
    }
  }

  /** The primary conflist as it is now. */
  list(): NetworkList {
    return JSON.parse(Deno.readTextFileSync(join(this.node.confDir, PRIMARY_FILE)));
  }

  /** The list with the version GC and STATUS need (only tsn-proxy speaks 1.1.0 here). */
  list110(): NetworkList {
    return { ...this.list(), cniVersion: "1.1.0" };
  }

  /** Starts the built agent in the node's netns; waits until it is ready. */
  async startAgent(): Promise<AgentHandle> {
    this.agent = await startAgent(this.node);
    return this.agent;
  }

  /** Stops the agent (SIGTERM); returns its exit code. */
  async stopAgent(): Promise<number> {
    const a = this.agent;
    this.agent = undefined;
    return a ? await a.stop() : 0;
  }

  /** A pod netns with the runtime's view of it (not added yet). */
  async pod(
    name: string,
    o: { optIn?: boolean; namespace?: string; annotations?: Record<string, string> } = {},
  ): Promise<BenchPod> {
    const ns = await createNetns(`${this.topo.prefix}-${name}`, { ipv6: false });
    const annotations = o.annotations ??
      (o.optIn === undefined ? undefined : { "tsn-proxy.io/enabled": String(o.optIn) });
    const pod: BenchPod = {
      name,
      id: this.pods.length + 1,
      ns,
      rt: {
        containerId: `${this.topo.prefix}${name.replace(/[^a-z0-9]/g, "")}${"0".repeat(40)}`,
        netns: ns.path,
        ifname: "eth0",
        args: {
          IgnoreUnknown: "1",
          K8S_POD_NAMESPACE: o.namespace ?? "default",
          K8S_POD_NAME: name,
        },
        ...(annotations ? { capabilityArgs: { [ANNOTATIONS]: annotations } } : {}),
      },
    };
    this.pods.push(pod);
    return pod;
  }

  /** ADD through the chain (bridge + host-local, then tsn-proxy). */
  async add(pod: BenchPod): Promise<void> {
    pod.result = (await this.rt.add(this.list(), pod.rt)).result;
  }

  /** DEL through the chain (reverse order, cached result). */
  async del(pod: BenchPod): Promise<void> {
    await this.rt.del(this.list(), pod.rt, pod.result);
  }

  /** Sends records from each talker to the far end; the observer's counters per talker. */
  async traffic(talks: readonly Talk[]): Promise<ObserverStats[]> {
    await waitLinksReady(this.topo.node.ns);
    this.observer ??= await installObserver({
      ns: this.topo.node.ns,
      ifname: this.topo.node.nic,
      bpffsDir: this.topo.bpffsDir,
    });
    const observer = this.observer;
    const ports = talks.map((t) => t.port ?? nextPort++);
    const receivers = [];
    try {
      for (const [i, t] of talks.entries()) {
        await observer.expect(ports[i]!, { pod: t.pod.id, priority: t.expect, record: true });
        receivers.push(await startReceiver(this.topo.far.ns, "udp", ports[i]!));
      }
      const sent = await Promise.all(talks.map(async (t, i) => {
        const r = await runTxtimeSender(t.pod.ns, {
          dst: this.topo.far.ip,
          port: ports[i]!,
          count: t.count ?? 200,
          priority: t.priority,
          clock: t.clock,
          pod: t.pod.id,
          intervalUs: t.intervalUs ?? 200,
        });
        if (r.errors) throw new Error(`talker ${t.pod.name}: ${r.errors} errors (${r.lastErrno})`);
        return r.sent;
      }));
      for (const [i, rx] of receivers.entries()) await rx.waitRecords(sent[i]!, 2000);
      return await Promise.all(ports.map((p) => observer.stats(p)));
    } finally {
      for (const rx of receivers) await rx.stop();
    }
  }

  /** Removes everything: agent, tsn-proxy (uninstall), observer, pods, topology, temp dirs. */
  async destroy(): Promise<void> {
    await this.stopAgent().catch(() => {});
    await uninstallAgent(this.node).catch(() => {});
    await this.observer?.destroy().catch(() => {});
    for (const p of this.pods) await deleteNetns(p.ns).catch(() => {});
    await this.topo.destroy();
    await this.node.cleanup();
  }
}

/**
 * Deletes the bench's TSN interface nic0 (its veth peer in ext goes with it), as a driver unload
 * or a NIC not there yet. The observer on it goes first.
 */
export async function removeNic(bench: CniBench): Promise<void> {
  await bench.observer?.destroy().catch(() => {});
  bench.observer = undefined;
  await ipBatch(bench.topo.node.ns, [`link del ${bench.topo.node.nic}`]);
}

/** Creates nic0 again, as the topology did: address, up, peer on ext's bridge. */
export async function createNic(bench: CniBench): Promise<void> {
  const { node, ext } = bench.topo;
  await ipBatch(node.ns, [
    `link add ${node.nic} type veth peer name ext0 netns ${ext.ns.name}`,
    `addr add ${ADDR.node1}/${ADDR.underlayPrefix} dev ${node.nic}`,
    `link set ${node.nic} up`,
  ]);
  await ipBatch(ext.ns, ["link set ext0 master br0", "link set ext0 up"]);
  await waitLinksReady(node.ns);
  await waitLinksReady(ext.ns);
}

/** The CNI error code of a failed chain call (rethrows anything else). */
export function cniCode(e: unknown): number {
  if (e instanceof CniCallError) return e.error.code ?? -1;
  throw e;
}

/** A program on a TCX hook. */
export interface HookProg {
  readonly id: number;
  readonly name: string;
}

const names = new Map<number, string>();

/** The name of a loaded program (bpftool); cached per id. */
export async function progName(id: number): Promise<string> {
  const known = names.get(id);
  if (known !== undefined) return known;
  const out = await exec([BIN.bpftool, "-j", "prog", "show", "id", String(id)], {
    allowFail: true,
  });
  const name = out.success ? String(JSON.parse(out.stdout).name ?? "") : "";
  if (name) names.set(id, name);
  return name;
}

/**
 * The programs on the TCX egress hook of `ifname` in `ns`, in run order (empty when the interface
 * does not exist). Debian's bpftool does not list TCX links, so this asks the kernel directly.
 */
export async function tcxEgress(ns: Netns, ifname: string): Promise<HookProg[]> {
  let ids: number[];
  try {
    ids = withNetns(ns.path, () => tcxQuery(ifindex(ifname), "egress"));
  } catch (e) {
    if (isBpfError(e, "ENODEV", "ENOENT")) return [];
    throw e;
  }
  return await Promise.all(ids.map(async (id) => ({ id, name: await progName(id) })));
}

/** How many programs named `name` sit on the TCX egress hook of `ifname` in `ns`. */
export async function countOnHook(ns: Netns, ifname: string, name: string): Promise<number> {
  return (await tcxEgress(ns, ifname)).filter((p) => p.name === name).length;
}

/** The legacy clsact egress filters of an interface that carry tsn-proxy's handle (0x75e). */
export async function tsnClsactFilters(ns: Netns, ifname: string): Promise<string[]> {
  const out = await exec(
    [BIN.nsenter, `--net=${ns.path}`, "--", BIN.tc, "filter", "show", "dev", ifname, "egress"],
    { allowFail: true },
  );
  return out.stdout.split("\n").filter((l) => /handle 0x75e\b/.test(l));
}

/** What the agent recorded: datapath state pods and attachment index ids. */
export function recorded(node: CniNode): { savers: string[]; attachments: string[] } {
  const state = loadState(join(node.stateDir, "datapath.json"));
  let attachments: string[] = [];
  try {
    const idx = JSON.parse(Deno.readTextFileSync(join(node.stateDir, "attachments.json")));
    attachments = (idx.attachments as { id: string }[]).map((a) => a.id).sort();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return { savers: (state?.pods ?? []).map((p) => p.id).sort(), attachments };
}

/** The pod attachment directories under the agent's bpffs dir. */
export async function podPinDirs(node: CniNode): Promise<string[]> {
  const dir = new PinLayout(node.bpffs).podDir("x").replace(/\/x$/, "");
  if (!(await exists(dir))) return [];
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** The kernel link id of a pinned link (bpftool), or undefined when the pin is gone. */
export async function pinnedLinkId(pin: string): Promise<number | undefined> {
  const out = await exec([BIN.bpftool, "-j", "link", "show", "pinned", pin], { allowFail: true });
  if (!out.success) return undefined;
  return Number(JSON.parse(out.stdout).id);
}

/** True while the kernel still has a link or program with this id. */
export async function bpfObjectExists(kind: "link" | "prog", id: number): Promise<boolean> {
  return (await exec([BIN.bpftool, kind, "show", "id", String(id)], { allowFail: true })).success;
}

/** Milliseconds since t0, rounded. */
export function since(t0: number): number {
  return Math.round(performance.now() - t0);
}
