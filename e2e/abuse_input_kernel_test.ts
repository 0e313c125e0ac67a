/**
 * Bad input through the real processes (the built plugin as the runtime runs it, the built agent
 * serving its socket, the kernel): every bad invocation gets a spec error or a clear message, the
 * agent never crashes, and nothing is half-done: the agent's records, the pins, the kernel's hooks
 * and the conf dir are exactly as before. (The breadth of bad input is in the property tests,
 * cni/plugin_fuzz_test.ts and agent/*_fuzz_test.ts; here, what only the real system can show.)
 *
 * - ADDs of opted-in "pods" whose target is no pod interface: the node's own netns (with its TSN
 *   interface as CNI_IFNAME), a regular file, a directory, a mount-namespace file, a pod netns
 *   without that interface, an interface name the spec forbids, a relative path.
 * - Malformed environment and stdin, oversized CNI_ARGS and stdin, odd pod names.
 * - DEL, CHECK and GC naming attachments that do not exist.
 * - Garbage straight onto the agent's socket.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import type { RuntimeConf } from "@tsn-proxy/sim/cni_driver";
import { agentHttp } from "@tsn-proxy/sim/cni_fixture";
import {
  CniBench,
  cniCode,
  countOnHook,
  podPinDirs,
  PRIMARY_FILE,
  recorded,
  since,
  tcxEgress,
} from "./fault_fixture.ts";
import { BIN } from "@tsn-proxy/sim/netns";
import { exec } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";

function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) out[e.name] = Deno.readTextFileSync(join(dir, e.name));
  }
  return out;
}

Deno.test("bad input through the real plugin and agent: spec errors, no crash, nothing half-done", async () => {
  requireKernelTests();
  const t0 = performance.now();
  const bench = await CniBench.create();
  const scratch = await Deno.makeTempDir({ prefix: `${bench.topo.prefix}-scratch-` });
  try {
    await bench.startAgent();
    const pod = await bench.pod("p", { optIn: true });
    await bench.add(pod);
    const list = bench.list();
    const ours = list.plugins.find((p) => p.type === "tsn-proxy")!;
    const { node } = bench;
    const before = {
      rec: recorded(node),
      pins: await podPinDirs(node),
      conf: snapshotDir(node.confDir),
      nic: await tcxEgress(bench.topo.node.ns, "nic0"),
      pod: await tcxEgress(pod.ns, "eth0"),
    };
    Deno.writeTextFileSync(join(scratch, "file"), "not a netns");
    Deno.mkdirSync(join(scratch, "dir"));
    const emptyNs = await bench.pod("empty", { optIn: true }); // a netns with no eth0

    const opted = { "io.kubernetes.cri.pod-annotations": { "tsn-proxy.io/enabled": "true" } };
    const target = (o: Partial<RuntimeConf>): RuntimeConf => ({
      ...pod.rt,
      containerId: `bad${Math.random().toString(16).slice(2, 10)}`,
      capabilityArgs: opted,
      ...o,
    });
    // ADDs through tsn-proxy alone (its prevResult from the real pod), each with the code it
    // must get.
    const cases: { what: string; rt: RuntimeConf; code: number; conf?: Record<string, unknown> }[] =
      [
        {
          what: "node's own netns + TSN NIC",
          rt: target({ netns: node.ns.path, ifname: "nic0" }),
          code: 4,
        },
        // Paths outside the runtimes' netns directories are refused before anything is read.
        { what: "a regular file", rt: target({ netns: join(scratch, "file") }), code: 4 },
        { what: "a directory", rt: target({ netns: join(scratch, "dir") }), code: 4 },
        { what: "a mount ns file", rt: target({ netns: "/proc/self/ns/mnt" }), code: 4 },
        { what: "a missing path", rt: target({ netns: join(scratch, "gone") }), code: 4 },
        { what: "missing in /run/netns", rt: target({ netns: "/run/netns/tsn-gone" }), code: 102 },
        { what: "no such interface", rt: target({ netns: emptyNs.ns.path }), code: 102 },
        { what: "relative netns", rt: target({ netns: "run/netns/x" }), code: 4 },
        { what: "ifname with '/'", rt: target({ ifname: "eth0/1" }), code: 4 },
        { what: "16-char ifname", rt: target({ ifname: "a".repeat(16) }), code: 4 },
        { what: "container id '../x'", rt: target({ containerId: "../x" }), code: 4 },
        {
          what: "CNI_ARGS without '='",
          rt: target({ args: { "K8S_POD_NAME;X": "" } as Record<string, string> }),
          code: 4,
        },
        { what: "no prevResult", rt: target({}), code: 7, conf: { prevResult: undefined } },
        { what: "cniVersion 0.2.0", rt: target({}), code: 1, conf: { cniVersion: "0.2.0" } },
        { what: "socketPath relative", rt: target({}), code: 2, conf: { socketPath: "x.sock" } },
        { what: "optIn maybe", rt: target({}), code: 2, conf: { optIn: "maybe" } },
        {
          what: "annotations not an object",
          rt: target({}),
          code: 7,
          conf: { runtimeConfig: { "io.kubernetes.cri.pod-annotations": "yes" } },
        },
      ];
    const outcomes: string[] = [];
    const run = async (c: typeof cases[number]) => {
      const conf = { ...bench.rt.pluginConf(list, ours, pod.result, c.rt), ...c.conf };
      if (c.conf && "prevResult" in c.conf && c.conf.prevResult === undefined) {
        delete conf.prevResult;
      }
      try {
        await bench.rt.exec("tsn-proxy", "ADD", conf, c.rt);
        return `${c.what}: success`;
      } catch (e) {
        const code = cniCode(e);
        const msg = (e as Error).message;
        ok(!/Uncaught|panicked/.test(msg), `${c.what}: crashed\n${msg}`);
        return code === c.code ? "" : `${c.what}: got ${code}, want ${c.code}: ${msg}`;
      }
    };
    for (let i = 0; i < cases.length; i += 8) {
      outcomes.push(...await Promise.all(cases.slice(i, i + 8).map(run)));
    }
    deepEqual(outcomes.filter((o) => o !== ""), [], "wrong outcomes");

    // Oversized and odd input: a 100 KiB CNI_ARGS value (Linux caps one environment string at
    // 128 KiB), a 1.5 MiB stdin, odd pod names; all aimed at a netns without eth0.
    const big = target({
      netns: emptyNs.ns.path,
      args: { K8S_POD_NAMESPACE: "ns", K8S_POD_NAME: "x".repeat(100 << 10) },
    });
    // Longer than any field of the agent's protocol: the plugin refuses it as the runtime's error.
    equal(await run({ what: "100 KiB pod name", rt: big, code: 4 }), "");
    const odd = target({
      netns: emptyNs.ns.path,
      args: { K8S_POD_NAMESPACE: "név\ntér", K8S_POD_NAME: '"$(rm -rf /)\\' },
    });
    equal(await run({ what: "odd names", rt: odd, code: 102 }), "");
    const hugeStdin = { ...bench.rt.pluginConf(list, ours, pod.result, target({})) };
    hugeStdin.padding = "y".repeat(3 << 19);
    await bench.rt.exec("tsn-proxy", "ADD", hugeStdin, target({ netns: emptyNs.ns.path })).then(
      () => outcomes.push("1.5 MiB stdin: success"),
      (e) => ok([102, 100].includes(cniCode(e)), `1.5 MiB stdin: ${e}`),
    );

    // DEL, CHECK, GC of attachments that never existed.
    const ghost = target({ containerId: "ghost0001" });
    await bench.rt.exec(
      "tsn-proxy",
      "DEL",
      bench.rt.pluginConf(list, ours, undefined, ghost),
      ghost,
    );
    const v04 = { ...list, cniVersion: "1.0.0" };
    try {
      await bench.rt.exec(
        "tsn-proxy",
        "CHECK",
        bench.rt.pluginConf(v04, ours, pod.result, ghost),
        ghost,
      );
      outcomes.push("CHECK of a ghost: success");
    } catch (e) {
      equal(cniCode(e), 101, `CHECK of a ghost: ${e}`);
    }
    await bench.rt.gc(bench.list110(), [
      { containerID: pod.rt.containerId, ifname: "eth0" },
      { containerID: "../../etc", ifname: "a/b" },
      { containerID: "", ifname: "" },
    ]);

    // Garbage onto the agent's socket.
    const garbage = [
      "not json\n",
      "{}\n",
      '{"v":1,"command":"ADD"}\n',
      `{"v":1,"command":"ADD","network":"x","cniVersion":"1.0.0","containerId":"c","netns":"${node.ns.path}","ifname":"nic0","args":{},"optIn":"yes","optInSource":"s"}\n`,
      "\n",
      "",
    ];
    for (const g of garbage) {
      const out = await exec([BIN.socat, "-t", "2", "-", `UNIX-CONNECT:${node.socket}`], {
        stdin: g,
        allowFail: true,
      });
      const line = out.stdout.trim();
      if (line) {
        const r = JSON.parse(line);
        ok(r.v === 1 && (r.ok === true || Number.isInteger(r.code)), line);
        ok(r.ok === false, `garbage ${JSON.stringify(g)} succeeded: ${line}`);
      }
    }

    // Nothing half-done.
    deepEqual(recorded(node), before.rec, "records changed");
    deepEqual(await podPinDirs(node), before.pins, "pin dirs changed");
    deepEqual(snapshotDir(node.confDir), before.conf, "conf dir changed");
    deepEqual(await tcxEgress(bench.topo.node.ns, "nic0"), before.nic, "nic0 hook changed");
    deepEqual(await tcxEgress(pod.ns, "eth0"), before.pod, "the pod's hook changed");
    equal(await countOnHook(emptyNs.ns, "eth0", "tsn_saver"), 0);
    ok(!bench.agent!.proc.exited, "the agent died");
    equal((await agentHttp(node, "/readyz")).status, 200);
    ok(!/Uncaught|panicked/.test(bench.agent!.proc.stderr), bench.agent!.proc.stderr);
    deepEqual(outcomes.filter((o) => o !== ""), [], "unexpected successes");
    const [s] = await bench.traffic([{ pod, priority: 5, expect: 5, clock: "tai" }]);
    equal(s!.prioRight, 200, "the real pod still restored");
    console.log(
      `bad input through plugin + agent: ${cases.length + 3} bad ADDs (codes 1, 2, 4, 7, 102 as ` +
        `specified), ghost DEL/CHECK/GC, ${garbage.length} garbage lines on the socket; records, ` +
        `pins, hooks and conf dir unchanged, agent alive and ready; ${since(t0)} ms` +
        ` (conf file ${PRIMARY_FILE})`,
    );
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
    await bench.destroy();
  }
});
