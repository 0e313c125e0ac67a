/**
 * Test-only helpers of the k8s kernel tests: a simulated node (sim fixtures) with a kindnet-style
 * conflist, and pods as a runtime creates them.
 *
 * @module
 */
import { join } from "node:path";
import { SELF_CONTAINED_RUN } from "@tsn-proxy/release";
import { CniRuntime, type NetworkList, type RuntimeConf } from "@tsn-proxy/sim/cni_driver";
import { type CniNode, kindnetConflist, prepareNode } from "@tsn-proxy/sim/cni_fixture";
import { createNetns, deleteNetns, type Netns, nsCommand } from "@tsn-proxy/sim/netns";
import { type Proc, sleep, spawn } from "@tsn-proxy/sim/process";
import { createTopology, type Topology } from "@tsn-proxy/sim/topology";

/** A node, its runtime and the pods created on it. */
export class TestNode {
  readonly pods: Netns[] = [];
  constructor(readonly topo: Topology, readonly node: CniNode, readonly rt: CniRuntime) {}

  /** Topology + node dirs + agent config + a ptp/host-local conflist. */
  static async create(policy?: Record<string, unknown>): Promise<TestNode> {
    const topo = await createTopology({ kind: "routed-nat", pods: [] });
    try {
      const node = await prepareNode(topo, { confFiles: {}, ...(policy ? { policy } : {}) });
      await Deno.writeTextFile(
        join(node.confDir, "10-kindnet.conflist"),
        kindnetConflist(node, { portmap: false }),
      );
      return new TestNode(topo, node, new CniRuntime({ ns: topo.node.ns, binDirs: [node.binDir] }));
    } catch (e) {
      await topo.destroy();
      throw e;
    }
  }

  /** The conflist as the agent left it. */
  list(): NetworkList {
    return JSON.parse(Deno.readTextFileSync(join(this.node.confDir, "10-kindnet.conflist")));
  }

  /** A pod netns and its runtime config (opted in through the annotation, as containerd does). */
  async pod(name: string, optIn = true): Promise<RuntimeConf> {
    const ns = await createNetns(`${this.topo.prefix}-${name}`, { ipv6: false });
    this.pods.push(ns);
    return {
      containerId: `${this.topo.prefix}${name}`.padEnd(64, "0"),
      netns: ns.path,
      ifname: "eth0",
      args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "default", K8S_POD_NAME: name },
      capabilityArgs: {
        "io.kubernetes.cri.pod-annotations": optIn ? { "tsn-proxy.io/enabled": "true" } : {},
      },
    };
  }

  async destroy(): Promise<void> {
    for (const p of this.pods) await deleteNetns(p).catch(() => {});
    await this.topo.destroy();
    await this.node.cleanup();
  }
}

/** The stand-in API server (testdata/fake_apiserver.ts) inside ns; resolves once it listens. */
export async function startFakeApi(
  ns: Netns,
  dsStatusFile?: string,
): Promise<{ proc: Proc; url: string }> {
  let port = 0;
  const proc = spawn(
    nsCommand(ns, [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-read",
      ...SELF_CONTAINED_RUN,
      new URL("./testdata/fake_apiserver.ts", import.meta.url).pathname,
      "0",
      ...(dsStatusFile ? [dsStatusFile] : []),
    ]),
    {
      onStdout: (c) => {
        const m = /listening (\d+)/.exec(new TextDecoder().decode(c));
        if (m) port = Number(m[1]);
      },
    },
  );
  for (let i = 0; i < 400 && port === 0 && !proc.exited; i++) await sleep(25);
  if (port === 0) {
    await proc.stop();
    throw new Error(`fake API did not start\n${proc.stderr}`);
  }
  return { proc, url: `http://127.0.0.1:${port}` };
}
