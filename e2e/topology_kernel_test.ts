/**
 * Each topology comes up dual-stack, carries a UDP datagram from every pod to the far end over
 * IPv4 and over IPv6, and leaves nothing behind. Needs root.
 */
import { BIN, createNetns, deleteNetns, exists, run, uniquePrefix } from "@tsn-proxy/sim/netns";
import { descendants } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { assertEquals, assertTrue } from "@tsn-proxy/sim/testing";
import { startReceiver } from "@tsn-proxy/sim/talkers/receiver";
import { runSocatTalker } from "@tsn-proxy/sim/talkers/socat";
import {
  createTopology,
  leftovers,
  type Topology,
  TOPOLOGY_KINDS,
  VXLAN,
} from "@tsn-proxy/sim/topology";

for (const kind of TOPOLOGY_KINDS) {
  Deno.test({
    name: `topology ${kind}: pods reach the far end through nic0; destroy leaves nothing`,
    fn: async () => {
      requireKernelTests();
      const topo = await createTopology({ kind, pods: [{ name: "a" }, { name: "b" }], taps: true });
      let tapPids: number[] = [];
      try {
        assertEquals(topo.pods.map((p) => [p.name, p.id, p.ns.path]), [
          ["a", 1, `/run/netns/${topo.prefix}-a`],
          ["b", 2, `/run/netns/${topo.prefix}-b`],
        ]);
        for (const ns of topo.namespaces) assertTrue(await exists(ns.path), ns.path);
        assertTrue(await exists(topo.bpffsDir), topo.bpffsDir);
        // Taps: one per pod veth, plus the bridge when there is one.
        assertEquals(
          topo.taps.map((t) => t.ifname),
          kind === "routed-nat" ? ["veth0", "veth1"] : ["veth0", "veth1", "cni0"],
        );
        tapPids = topo.taps.map((t) => t.proc.pid);
        assertTrue(topo.taps.every((t) => !t.proc.exited), "taps running");
        if (kind === "vxlan") {
          const link = await run(topo.node.ns, [BIN.ip, "-d", "link", "show", VXLAN.device]);
          assertTrue(link.stdout.includes(`vxlan id ${VXLAN.vni}`), link.stdout);
          assertTrue(link.stdout.includes(`dstport ${VXLAN.port}`), link.stdout);
        }

        assertEquals(
          topo.pods.map((p) => p.ip6),
          ["fd00:10:244:1::10", "fd00:10:244:1::11"],
        );
        for (const family of [4, 6] as const) await viaNic(topo, family);
      } finally {
        await topo.destroy();
      }
      assertEquals(await leftovers(topo.prefix), []);
      for (const pid of tapPids) assertTrue(!(await exists(`/proc/${pid}`)), `tap ${pid} gone`);
      assertEquals(
        await descendants(Deno.pid).then((d) => d.filter((p) => tapPids.includes(p))),
        [],
      );
      await topo.destroy(); // idempotent
    },
  });
}

/**
 * A UDP datagram and a TCP connection from every pod reach the far end over family, through node1's
 * nic0. TCP needs the far end's answers to come back: ext has no route to the pod subnets, so on
 * the NAT kinds that proves MASQUERADE of that family.
 */
async function viaNic(topo: Topology, family: 4 | 6): Promise<void> {
  const before = await nicTxPackets(topo.node.ns.name);
  for (const protocol of ["udp", "tcp"] as const) {
    const rx = await startReceiver(topo.far.ns, protocol, 40100, undefined, { family });
    try {
      for (const p of topo.pods) {
        const r = await runSocatTalker({
          ns: p.ns,
          protocol,
          dst: family === 6 ? topo.far.ip6 : topo.far.ip,
          port: 40100,
          priority: 1,
          pod: p.id,
          count: 1,
        });
        assertEquals(r.sent, 1, `${protocol}/IPv${family} from ${p.name}: ${r.stderr}`);
      }
      assertEquals(await rx.waitRecords(2, 3000), 2, `${protocol}/IPv${family}`);
    } finally {
      await rx.stop();
    }
  }
  const after = await nicTxPackets(topo.node.ns.name);
  assertTrue(after - before >= 4, `IPv${family}: nic0 tx packets ${before} -> ${after}`);
}

async function nicTxPackets(nsName: string): Promise<number> {
  const out = await run({ name: nsName, path: `/run/netns/${nsName}` }, [
    BIN.ip,
    "-j",
    "-s",
    "link",
    "show",
    "nic0",
  ]);
  const [link] = JSON.parse(out.stdout) as Array<{ stats64?: { tx?: { packets?: number } } }>;
  return link?.stats64?.tx?.packets ?? 0;
}

Deno.test({
  name: "topology: a failed build removes what it made and only that",
  fn: async () => {
    requireKernelTests();
    const prefix = uniquePrefix();
    // Someone else's netns under the name the pod would get: creation must fail on it.
    const squatter = await createNetns(`${prefix}-a`);
    try {
      let failed = false;
      try {
        await createTopology({ kind: "bridge-nat", pods: [{ name: "a" }], prefix });
      } catch {
        failed = true;
      }
      assertTrue(failed, "createTopology should fail");
      assertEquals(await leftovers(prefix), [squatter.path]);
    } finally {
      await deleteNetns(squatter);
    }
    assertEquals(await leftovers(prefix), []);
  },
});

Deno.test("topology: pod names are checked before anything is made", async () => {
  const prefix = uniquePrefix();
  for (
    const pods of [[{ name: "A" }], [{ name: "" }], [{ name: "-a" }], [{ name: "a" }, {
      name: "a",
    }]]
  ) {
    let failed = false;
    try {
      await createTopology({ kind: "bridge-nat", pods, prefix });
    } catch (e) {
      failed = e instanceof Error && e.message.includes("pod name");
    }
    assertTrue(failed, JSON.stringify(pods));
  }
  assertEquals(await leftovers(prefix), []);
});
