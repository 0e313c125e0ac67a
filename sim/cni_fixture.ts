/**
 * A simulated node for the CNI tests: the built plugin and agent (dist, as shipped), a private
 * CNI conf dir and bin dir (Debian's plugins linked in), the agent's config with pins under the
 * topology's bpffs dir, and the agent process running in the node's netns.
 *
 * @example
 * ```ts ignore
 * const node = await prepareNode(topo, { confFiles: { "10-kindnet.conflist": text } });
 * const agent = await startAgent(node);
 * await agent.stop();
 * await node.cleanup();
 * ```
 */
import { join } from "node:path";
import { buildAll } from "@tsn-proxy/release";
import { httpGetUnix } from "@tsn-proxy/agent/testing";
import { type Netns, nsCommand } from "./netns.ts";
import { exec, type Proc, sleep, spawn } from "./process.ts";
import type { Topology } from "./topology.ts";

/** Debian's CNI plugins. */
const SYSTEM_CNI_DIR = "/usr/lib/cni";

let dist: Promise<{ plugin: string; agent: string; dir: string }> | undefined;

/** Builds dist once per test process (into a temp dir, not the repository's dist/). */
export function buildDist(): Promise<{ plugin: string; agent: string; dir: string }> {
  dist ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "tsn-dist-" });
    const built = await buildAll(dir);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* gone */ }
    });
    return { ...built, dir };
  })();
  return dist;
}

/** A prepared node. */
export interface CniNode {
  readonly topo: Topology;
  readonly ns: Netns;
  readonly dir: string;
  readonly confDir: string;
  readonly binDir: string;
  readonly stateDir: string;
  readonly socket: string;
  readonly metricsSocket: string;
  readonly bpffs: string;
  readonly configPath: string;
  readonly agentLauncher: string;
  /** host-local's data dir. */
  readonly ipamDir: string;
  /** Removes the temp dir (after uninstall). */
  cleanup(): Promise<void>;
}

/** Options of {@link prepareNode}. */
export interface NodeOptions {
  /** Files of the conf dir (the primary CNI's config). */
  readonly confFiles: Record<string, string>;
  /**
   * The `policy` section; default: `defaultMaxPriority: unlimited` (the tests send the priorities
   * they check; without a section the agent would clamp every pod to 0).
   */
  readonly policy?: Record<string, unknown>;
  /** `cni.optIn`. */
  readonly optIn?: "annotation" | "all";
}

/** Lays out the node's dirs and the agent config. */
export async function prepareNode(topo: Topology, o: NodeOptions): Promise<CniNode> {
  const built = await buildDist();
  const dir = await Deno.makeTempDir({ prefix: `${topo.prefix}-cni-` });
  const confDir = join(dir, "net.d"), binDir = join(dir, "bin"), stateDir = join(dir, "run");
  await Deno.mkdir(confDir);
  await Deno.mkdir(binDir);
  for await (const e of Deno.readDir(SYSTEM_CNI_DIR)) {
    await Deno.symlink(join(SYSTEM_CNI_DIR, e.name), join(binDir, e.name));
  }
  for (const [name, text] of Object.entries(o.confFiles)) {
    await Deno.writeTextFile(join(confDir, name), text);
  }
  const node: CniNode = {
    topo,
    ns: topo.node.ns,
    dir,
    confDir,
    binDir,
    stateDir,
    socket: join(stateDir, "cni.sock"),
    metricsSocket: join(dir, "metrics.sock"),
    bpffs: join(topo.bpffsDir, "agent"),
    configPath: join(dir, "agent.json"),
    agentLauncher: built.agent,
    ipamDir: join(dir, "ipam"),
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
  const config = {
    strategy: "skb-addr",
    restoreOn: [topo.node.nic],
    cni: { confDir, binDir, optIn: o.optIn ?? "annotation", minRewriteIntervalMs: 50 },
    bpffs: node.bpffs,
    stateDir,
    metricsAddress: `unix:${node.metricsSocket}`,
    kubernetes: { enabled: false },
    policy: o.policy ?? { defaultMaxPriority: "unlimited" },
  };
  await Deno.writeTextFile(node.configPath, JSON.stringify(config, null, 2));
  return node;
}

/** A running agent. */
export interface AgentHandle {
  readonly proc: Proc;
  /** Wall time from spawn to ready, ms. */
  readonly startMs: number;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number>;
}

/** GETs from the agent's metrics server (a Unix socket). */
export function agentHttp(node: CniNode, path: string): Promise<{ status: number; body: string }> {
  return httpGetUnix(node.metricsSocket, path);
}

/**
 * Polls the agent's /readyz every 50 ms until it answers 200, for at most `timeoutMs` and while
 * `proc` runs. If it does not get ready, stops `proc` and throws with the last answer and stderr.
 *
 * @example
 * ```ts ignore
 * const proc = spawn(nsCommand(node.ns, [node.agentLauncher, "agent", "--config", node.configPath]));
 * await waitAgentReady(node, proc, 20_000);
 * ```
 */
export async function waitAgentReady(node: CniNode, proc: Proc, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (let i = 0; i < 2000 && Date.now() < deadline && !proc.exited; i++) {
    try {
      const r = await agentHttp(node, "/readyz");
      if (r.status === 200) return;
      last = r.body;
    } catch (e) {
      last = String(e);
    }
    await sleep(50);
  }
  await proc.stop();
  throw new Error(`agent not ready within ${timeoutMs} ms (${last.trim()})\n${proc.stderr}`);
}

/** Starts the built agent in the node's netns and waits until /readyz says ready. */
export async function startAgent(node: CniNode, timeoutMs = 20_000): Promise<AgentHandle> {
  const t0 = performance.now();
  const proc = spawn(
    nsCommand(node.ns, [node.agentLauncher, "agent", "--config", node.configPath]),
  );
  await waitAgentReady(node, proc, timeoutMs);
  return {
    proc,
    startMs: performance.now() - t0,
    async stop() {
      const status = await proc.stop(5000);
      return status.code;
    },
  };
}

/**
 * The primary network kind (kindnet) writes: ptp + host-local, with portmap unless `portmap` is
 * false. tsn-proxy chains onto it.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile(join(node.confDir, "10-kindnet.conflist"), kindnetConflist(node));
 * ```
 */
export function kindnetConflist(node: CniNode, { portmap = true } = {}): string {
  return JSON.stringify(
    {
      cniVersion: "0.3.1",
      name: "kindnet",
      plugins: [
        {
          type: "ptp",
          ipMasq: false,
          ipam: {
            type: "host-local",
            dataDir: node.ipamDir,
            routes: [{ dst: "0.0.0.0/0" }],
            ranges: [[{ subnet: "10.244.1.0/24" }]],
          },
          mtu: 1500,
        },
        ...(portmap ? [{ type: "portmap", capabilities: { portMappings: true } }] : []),
      ],
    },
    null,
    "\t",
  );
}

/** Runs `tsnproxy agent --uninstall` in the node's netns. */
export async function uninstallAgent(node: CniNode): Promise<string> {
  const r = await exec(
    nsCommand(node.ns, [node.agentLauncher, "agent", "--config", node.configPath, "--uninstall"]),
    { timeoutMs: 30_000 },
  );
  return r.stderr;
}
