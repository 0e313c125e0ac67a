/**
 * A real container runtime drives the chain: podman 4.3 with `network_backend = "cni"` runs two
 * containers on a bridge + host-local network whose conflist the agent extended with tsn-proxy.
 * Everything podman touches is private (CONTAINERS_CONF, storage, registries, conf and plugin
 * dirs in a temp dir), and podman runs inside the simulated node's netns, so the bridge, veths and
 * routes are made there. Containers run from a tiny root filesystem assembled from the host's
 * socat and sh (with their ldd closure): no registry.
 *
 * Podman passes no pod annotations to CNI plugins (it sets no runtimeConfig capability args), but
 * it forwards its own CNI_ARGS environment variable: the opted-in container is started with
 * `CNI_ARGS=TSN_PROXY_ENABLED=true`.
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { loadState } from "@tsn-proxy/bpf/datapath";
import {
  type AgentHandle,
  agentHttp,
  type CniNode,
  prepareNode,
  startAgent,
  uninstallAgent,
} from "@tsn-proxy/sim/cni_fixture";
import { BIN } from "@tsn-proxy/sim/netns";
import { installObserver, type Observer } from "@tsn-proxy/sim/observer";
import { exec } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { type Receiver, startReceiver } from "@tsn-proxy/sim/talkers/receiver";
import { encodeRecordStream } from "@tsn-proxy/sim/talkers/record";
import { createTopology } from "@tsn-proxy/sim/topology";

const PODMAN = "/usr/bin/podman";
const COUNT = 100;
const NETWORK = "tsnpod";

/** Copies a binary and every library ldd names into root. */
async function copyWithLibs(root: string, bin: string): Promise<void> {
  const ldd = await exec(["/usr/bin/ldd", bin]);
  const paths = [bin, ...[...ldd.stdout.matchAll(/(\/\S+)/g)].map((m) => m[1]!)];
  for (const p of paths) {
    const dst = join(root, p);
    await Deno.mkdir(join(dst, ".."), { recursive: true });
    await Deno.copyFile(await Deno.realPath(p), dst);
    await Deno.chmod(dst, 0o755);
  }
}

/** A private podman setup: config, storage and rootfs under dir. */
async function podmanEnv(dir: string, node: CniNode) {
  const rootfs = join(dir, "rootfs");
  await copyWithLibs(rootfs, BIN.socat);
  await copyWithLibs(rootfs, "/bin/sh");
  for (const d of ["proc", "sys", "dev", "etc", "tmp", "run"]) {
    await Deno.mkdir(join(rootfs, d), { recursive: true });
  }
  await Deno.writeFile(join(rootfs, "rec-udp"), encodeRecordStream(1, 5, COUNT));
  await Deno.writeFile(join(rootfs, "rec-tcp"), encodeRecordStream(1, 2, COUNT));
  await Deno.writeFile(join(rootfs, "rec-plain"), encodeRecordStream(2, 3, COUNT));
  await Deno.writeTextFile(
    join(dir, "containers.conf"),
    `[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "none"
[network]
network_backend = "cni"
cni_plugin_dirs = ["${node.binDir}"]
network_config_dir = "${node.confDir}"
`,
  );
  await Deno.writeTextFile(
    join(dir, "storage.conf"),
    `[storage]
driver = "vfs"
graphroot = "${join(dir, "storage")}"
runroot = "${join(dir, "runroot")}"
`,
  );
  await Deno.writeTextFile(join(dir, "registries.conf"), "unqualified-search-registries = []\n");
  const env = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: dir,
    CONTAINERS_CONF: join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: join(dir, "registries.conf"),
  };
  /** Runs `podman run --rm` in the node's netns; extraEnv reaches the CNI plugins as CNI_ARGS. */
  const run = async (script: string, extraEnv: Record<string, string> = {}) => {
    const t0 = performance.now();
    const out = await new Deno.Command(BIN.nsenter, {
      args: [
        `--net=${node.ns.path}`,
        "--",
        PODMAN,
        "--tmpdir",
        join(dir, "tmp"),
        "run",
        "--rm",
        "--network",
        NETWORK,
        "--rootfs",
        rootfs,
        "/bin/sh",
        "-c",
        script,
      ],
      clearEnv: true,
      env: { ...env, ...extraEnv },
      signal: AbortSignal.timeout(60_000), // a hung container must not hang the suite
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return {
      code: out.code,
      stderr: d.decode(out.stderr),
      stdout: d.decode(out.stdout),
      ms: performance.now() - t0,
    };
  };
  return { run };
}

Deno.test("podman (CNI backend) runs an opted-in and a plain container through bridge+host-local+tsn-proxy", async () => {
  requireKernelTests();
  await Deno.stat(PODMAN); // a missing podman fails the test, it does not skip it
  const t0 = performance.now();
  const topo = await createTopology({ kind: "routed-nat", pods: [] });
  let node: CniNode | undefined;
  let agent: AgentHandle | undefined;
  let observer: Observer | undefined;
  const receivers: Receiver[] = [];
  try {
    node = await prepareNode(topo, { confFiles: {} });
    await Deno.writeTextFile(
      join(node.confDir, `10-${NETWORK}.conflist`),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: NETWORK,
        plugins: [{
          type: "bridge",
          bridge: "tsnpbr0",
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: node.ipamDir,
            ranges: [[{ subnet: "10.244.3.0/24", gateway: "10.244.3.1" }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        }],
      }),
    );
    agent = await startAgent(node);
    const pod = await podmanEnv(node.dir, node);

    observer = await installObserver({
      ns: topo.node.ns,
      ifname: topo.node.nic,
      bpffsDir: topo.bpffsDir,
    });
    const ports = { udp: 42201, tcp: 42202, plain: 42203 };
    await observer.expect(ports.udp, { pod: 1, priority: 5, record: true });
    await observer.expect(ports.tcp, { pod: 1, priority: 2, record: false });
    await observer.expect(ports.plain, { pod: 2, priority: 3, record: true });
    receivers.push(await startReceiver(topo.far.ns, "udp", ports.udp));
    receivers.push(await startReceiver(topo.far.ns, "tcp", ports.tcp));
    receivers.push(await startReceiver(topo.far.ns, "udp", ports.plain));

    const far = topo.far.ip;
    const opted = await pod.run(
      `socat -u -b 32 OPEN:/rec-udp UDP4-SENDTO:${far}:${ports.udp},so-priority=5 && ` +
        `socat -u OPEN:/rec-tcp TCP4:${far}:${ports.tcp},so-priority=2,connect-timeout=5`,
      { CNI_ARGS: "TSN_PROXY_ENABLED=true" },
    );
    equal(opted.code, 0, opted.stderr);
    const plain = await pod.run(
      `socat -u -b 32 OPEN:/rec-plain UDP4-SENDTO:${far}:${ports.plain},so-priority=3`,
    );
    equal(plain.code, 0, plain.stderr);
    for (const rx of receivers) await rx.waitRecords(COUNT, 3000);

    const udp = await observer.stats(ports.udp);
    const tcp = await observer.stats(ports.tcp);
    const pl = await observer.stats(ports.plain);
    equal(udp.records, COUNT, "opted-in UDP: every datagram seen at the NIC");
    equal(udp.prioRight, COUNT, "opted-in UDP: priority 5 restored");
    ok(tcp.packets > 0 && Math.floor(tcp.payloadBytes / 32) === COUNT, "opted-in TCP: all bytes");
    equal(tcp.prioRight, tcp.packets, `opted-in TCP: ${tcp.prioRight}/${tcp.packets} segments`);
    equal(pl.records, COUNT);
    equal(pl.prioRight, 0, "the plain container's priority is not restored");

    // podman ran ADD and DEL (on --rm) for both: the plain container's opt-in was unknown to the
    // plugin (no annotations, no CNI_ARGS), so the agent decided (no API here: not opted in).
    const metrics = (await agentHttp(node, "/metrics")).body;
    ok(metrics.includes('tsnproxy_cni_requests_total{command="ADD",result="ok"} 2'), metrics);
    ok(metrics.includes('tsnproxy_cni_requests_total{command="DEL",result="ok"} 2'), metrics);
    ok(metrics.includes("tsnproxy_attachments 0"), metrics);
    ok(agent.proc.stderr.split("\n").filter((l) => l.includes("attached ")).length === 1);
    equal(loadState(join(node.stateDir, "datapath.json"))?.pods.length, 0);
    console.log(
      `podman run --rm: opted-in ${opted.ms.toFixed(0)} ms (2 talkers), plain ${
        plain.ms.toFixed(0)
      } ms; whole test ${Math.round(performance.now() - t0)} ms`,
    );
  } finally {
    for (const rx of receivers) await rx.stop();
    await observer?.destroy().catch(() => {});
    await agent?.stop().catch(() => {});
    if (node) {
      await uninstallAgent(node).catch(() => {});
      // podman's vfs storage may hold read-only dirs; the node dir goes as a whole.
      await exec(["/bin/rm", "-rf", node.dir], { allowFail: true });
    }
    await topo.destroy();
  }
});
