/**
 * The kind e2e's node half on a real kernel, without kind: the staged probe and talker bundles
 * (as the e2e image carries them) run in a simulated node (a netns, in a private mount namespace
 * as a container has) with a routed pod. The probe builds tsn0 + ext, the observer and a receiver;
 * the bundled talker sends from the pod; /collect must see every record at tsn0 and at the far
 * end; /teardown must leave nothing. (taprio is not on this host's kernel: the VM suite covers
 * the schedule; here it is off.)
 */
import { equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { SELF_CONTAINED_RUN } from "@tsn-proxy/release";
import { createNetns, deleteNetns, exists, ipBatch, nsCommand, sysctl } from "@tsn-proxy/sim/netns";
import { exec, type Proc, sleep, spawn } from "@tsn-proxy/sim/process";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { collectPath, type CollectResult, setupPath } from "./probe_api.ts";
import { KIND, kindTalkers, talkerArgv } from "./scenario.ts";
import { stageE2eContext } from "./stage.ts";

Deno.test("the bundled probe and talker: setup, a pod's records at tsn0 and the far end, teardown", async () => {
  requireKernelTests();
  const dir = await Deno.makeTempDir({ prefix: "tsn-probe-" });
  const prefix = `tsnp${Deno.pid.toString(16).slice(-4)}`;
  const node = await createNetns(`${prefix}-node`);
  const pod = await createNetns(`${prefix}-pod`);
  let probe: Proc | undefined;
  try {
    await stageE2eContext(dir);
    await ipBatch(node, [
      `link add vpod type veth peer name eth0 netns ${pod.name}`,
      "addr add 10.244.1.1/32 dev vpod",
      "link set vpod up",
      "route add 10.244.1.10/32 dev vpod",
    ]);
    await ipBatch(pod, [
      "addr add 10.244.1.10/32 dev eth0",
      "link set eth0 up",
      "route add 10.244.1.1 dev eth0",
      "route add default via 10.244.1.1",
    ]);
    await sysctl(node, { "net.ipv4.ip_forward": 1 });
    const port = 19499;
    probe = spawn([
      "/usr/bin/unshare",
      "-m",
      "--propagation",
      "private",
      ...nsCommand(node, [
        Deno.execPath(),
        "run",
        "-A",
        ...SELF_CONTAINED_RUN,
        join(dir, KIND.probeJs),
        "--port",
        String(port),
      ]),
    ]);
    const get = async <T>(path: string): Promise<T> => {
      const r = await exec(
        nsCommand(node, [
          Deno.execPath(),
          "eval",
          `const r = await fetch("http://127.0.0.1:${port}/${path}");` +
          `if (!r.ok) { console.error(await r.text()); Deno.exit(1); } console.log(await r.text());`,
        ]),
        { timeoutMs: 30_000 },
      );
      return JSON.parse(r.stdout) as T;
    };
    for (let i = 0; i < 200 && !probe.exited; i++) {
      const r = await exec(nsCommand(node, ["/usr/bin/ss", "-Hltn", `sport = :${port}`]), {
        allowFail: true,
      });
      if (r.stdout.trim()) break;
      await sleep(50);
    }
    const t = { ...kindTalkers()[0]!, count: 50, intervalUs: 100 };
    await get(setupPath({
      taprio: false,
      observer: true,
      talkers: [{
        name: t.name,
        port: t.port,
        podId: t.podId,
        priority: t.priority,
        protocol: "udp",
      }],
    }));
    const argv = talkerArgv(t).slice(1);
    argv[argv.indexOf(KIND.talkerJs)] = join(dir, KIND.talkerJs);
    const sent = await exec(nsCommand(pod, [Deno.execPath(), ...argv]), { timeoutMs: 30_000 });
    ok(sent.stdout.includes('"sent":50'), sent.stdout + sent.stderr);
    const c = await get<CollectResult>(collectPath({ [String(t.port)]: 50 }));
    const s = c.observer[String(t.port)]!;
    equal(s.records, 50, JSON.stringify(c));
    equal(s.prioZero, 50, "no proxy: the priority is lost at the crossing");
    equal(c.received[String(t.port)], 50);
    ok(c.tcQdisc.includes("qdisc"), c.tcQdisc);
    equal(c.metrics, null, "no agent on this node");
    await get("teardown");
    ok(!(await exists(`/run/netns/${KIND.extNetns}`)), "ext removed");
  } finally {
    if (probe && !probe.exited) await probe.stop(5000);
    await deleteNetns(pod).catch(() => {});
    await deleteNetns(node).catch(() => {});
    // The probe's names and dirs, made in its private mount namespace on the host's /run tmpfs.
    for (
      const p of ["/run/netns/tsn-e2e-node", `/run/netns/${KIND.extNetns}`, "/run/tsn-e2e-bpf"]
    ) {
      await Deno.remove(p, { recursive: true }).catch(() => {});
    }
    await Deno.remove(dir, { recursive: true });
  }
});
