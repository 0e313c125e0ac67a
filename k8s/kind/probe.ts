/**
 * The kind e2e's node-side half (bundled into the e2e image, run as a privileged hostNetwork pod
 * on every node): what the simulator's topology (sim/topology.ts) builds around a node, built
 * around a kind node, with the same sim modules (netns, observer, receivers).
 *
 *   GET /healthz
 *   GET /setup/SPEC         tsn0 (4 queues) + netns ext (the far end); taprio on tsn0, the
 *                           observer on tsn0 and one receiver per talker in ext when asked
 *   GET /collect/EXPECT     observer counters, receiver counts, tc qdisc/class stats, the agent's
 *                           /metrics (127.0.0.1:9402: the probe shares the node's netns)
 *
 * (SPEC, EXPECT: base64url JSON, ./probe_api.ts)
 *   GET /reset              receivers and observer (tsn0 and ext stay for the next setup)
 *   GET /teardown           receivers, observer, ext (tsn0 goes with its peer)
 *   GET /node-state         CNI conf files, plugin and pins as the host has them
 *
 * `deno run -A probe.js --port 9499`
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  BIN,
  createNetns,
  deleteNetns,
  exists,
  ipBatch,
  type Netns,
  netns,
} from "@tsn-proxy/sim/netns";
import { tcxQuery } from "@tsn-proxy/bpf/libbpf";
import { installObserver, type Observer } from "@tsn-proxy/sim/observer";
import { OBSERVER_COUNTERS } from "@tsn-proxy/sim/observer_codec";
import { exec } from "@tsn-proxy/sim/process";
import { type Receiver, startReceiver } from "@tsn-proxy/sim/talkers/receiver";
import { METRICS } from "../layout.ts";
import {
  checkSetup,
  type CollectResult,
  decodeSegment,
  type NodeState,
  type ObserverCounters,
  type SetupSpec,
} from "./probe_api.ts";
import { KIND } from "./scenario.ts";

/** The node's own netns, named so the sim helpers (`ip -n`, nsenter) can address it. */
const NODE_NS: Netns = netns("tsn-e2e-node");
const EXT: Netns = netns(KIND.extNetns);
const BPFFS = "/run/tsn-e2e-bpf";
const HOST = "/host";

let observer: Observer | null = null;
let receivers: Receiver[] = [];

/** Stops the receivers and the observer; tsn0 and ext stay. */
async function reset(): Promise<void> {
  for (const r of receivers) await r.stop().catch(() => {});
  receivers = [];
  await observer?.destroy().catch(() => {});
  observer = null;
}

async function teardown(): Promise<void> {
  await reset();
  await deleteNetns(EXT).catch(() => {});
  await exec([BIN.ip, "link", "del", KIND.tsnIf], { allowFail: true });
}

/** tsn0 (4 queues) and its peer in ext, the far end. */
async function createTsnIf(): Promise<void> {
  await createNetns(EXT.name);
  const q = "numtxqueues 4 numrxqueues 4";
  await ipBatch(NODE_NS, [
    `link add ${KIND.tsnIf} ${q} type veth peer name ext0 ${q} netns ${EXT.name}`,
    `addr add ${KIND.nodeAddr} dev ${KIND.tsnIf}`,
    `link set ${KIND.tsnIf} up`,
  ]);
  await ipBatch(EXT, [
    `addr add ${KIND.extAddr} dev ext0`,
    "link set ext0 up",
    // Replies (ARP, ICMP) to pod addresses, whether the node masquerades or not.
    "route add 10.0.0.0/8 via 192.0.2.1",
  ]);
}

async function setup(spec: SetupSpec): Promise<void> {
  await reset();
  // tsn0 stays from one run to the next: a new tsn0 would race the agent's restorer check (no
  // restorer on it until the agent looks again, up to a second later).
  if (await exists(EXT.path)) {
    await exec([BIN.tc, "qdisc", "del", "dev", KIND.tsnIf, "root"], { allowFail: true });
  } else await createTsnIf();
  if (spec.taprio) {
    await exec([BIN.tc, "qdisc", "replace", "dev", KIND.tsnIf, ...KIND.taprio.args]);
  }
  if (spec.observer) {
    observer = await installObserver({ ns: NODE_NS, ifname: KIND.tsnIf, bpffsDir: BPFFS });
    for (const t of spec.talkers) {
      await observer.expect(t.port, {
        pod: t.podId,
        priority: t.priority,
        record: t.protocol === "udp",
      });
    }
  }
  for (const t of spec.talkers) receivers.push(await startReceiver(EXT, t.protocol, t.port));
}

async function agentMetrics(): Promise<string | null> {
  try {
    const res = await fetch(`http://${METRICS.host}:${METRICS.port}/metrics`, {
      signal: AbortSignal.timeout(3000),
    });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

async function collect(expect: Record<string, number>): Promise<CollectResult> {
  for (const r of receivers) await r.waitRecords(expect[String(r.port)] ?? 0, 3000);
  const out: Record<string, ObserverCounters> = {};
  for (const [port, s] of (await observer?.allStats()) ?? new Map()) {
    const c: Record<string, number> = {};
    for (const k of OBSERVER_COUNTERS) c[k] = s[k];
    c.lastPriority = s.lastPriority;
    c.lastTstampType = s.lastTstampType;
    out[String(port)] = c;
  }
  const tc = async (what: "qdisc" | "class") =>
    (await exec([BIN.tc, "-s", what, "show", "dev", KIND.tsnIf])).stdout;
  return {
    observer: out,
    received: Object.fromEntries(receivers.map((r) => [String(r.port), r.records()])),
    tcQdisc: await tc("qdisc"),
    tcClass: await tc("class"),
    metrics: await agentMetrics(),
    kernel: Deno.osRelease(),
  };
}

/** Names of the programs on tsn0: TCX (bpf_prog_query; Debian's bpftool predates TCX) and tc. */
async function tsnIfPrograms(): Promise<string[]> {
  const link = await exec([BIN.ip, "-j", "link", "show", "dev", KIND.tsnIf]);
  const ifindex = (JSON.parse(link.stdout) as Array<{ ifindex: number }>)[0]!.ifindex;
  const names: string[] = [];
  for (const direction of ["ingress", "egress"] as const) {
    for (const id of tcxQuery(ifindex, direction)) {
      const p = await exec([BIN.bpftool, "-j", "prog", "show", "id", String(id)]);
      names.push((JSON.parse(p.stdout) as { name: string }).name);
    }
    const tc = await exec([BIN.tc, "filter", "show", "dev", KIND.tsnIf, direction]);
    // "... bpf chain 0 handle 0x1 obj:[tc] direct-action not_in_hw id 42 name tsn_restorer tag ..."
    for (const m of tc.stdout.matchAll(/ name (\S+)/g)) names.push(m[1]!);
  }
  return names;
}

async function hasEntries(dir: string): Promise<boolean> {
  if (!(await exists(dir))) return false;
  for await (const _ of Deno.readDir(dir)) return true;
  return false;
}

async function nodeState(): Promise<NodeState> {
  const confFiles: Record<string, string> = {};
  for await (const e of Deno.readDir(`${HOST}/etc/cni/net.d`)) {
    if (e.isFile) confFiles[e.name] = await Deno.readTextFile(`${HOST}/etc/cni/net.d/${e.name}`);
  }
  return {
    confFiles,
    plugin: await exists(`${HOST}/opt/cni/bin/tsn-proxy`),
    // kubelet creates the directory for the DaemonSet's hostPath volume, and the agent's container
    // cannot remove its own mount point: an empty directory may stay; nothing may be left in it.
    pins: await hasEntries(`${HOST}/sys/fs/bpf/tsn-proxy`),
    tcPrograms: await tsnIfPrograms(),
  };
}

async function prepare(): Promise<void> {
  await exec([BIN.ip, "netns", "attach", NODE_NS.name, String(Deno.pid)], { allowFail: true });
  await Deno.mkdir(BPFFS, { recursive: true });
  const mounted = await exec(["/usr/bin/mountpoint", "-q", BPFFS], { allowFail: true });
  if (!mounted.success) await exec(["/usr/bin/mount", "-t", "bpf", "bpf", BPFFS]);
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  await prepare();
  let queue: Promise<unknown> = Promise.resolve();
  // One request at a time: setup, collect and teardown must not interleave.
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f, f);
    queue = p.catch(() => {});
    return p;
  };
  const server = Deno.serve({ port: Number(values.port ?? KIND.probePort) }, (req) => {
    const url = new URL(req.url);
    const reply = async (f: () => Promise<unknown>) => {
      try {
        return Response.json(await serial(f));
      } catch (e) {
        return new Response(`${e instanceof Error ? e.stack : e}\n`, { status: 500 });
      }
    };
    const [, verb = "", arg = ""] = url.pathname.split("/");
    switch (verb) {
      case "healthz":
        return new Response("ok\n");
      case "setup":
        return reply(async () => {
          await setup(checkSetup(decodeSegment(arg)));
          return { ok: true };
        });
      case "collect":
        return reply(() => collect(arg ? decodeSegment(arg) as Record<string, number> : {}));
      case "reset":
        return reply(async () => {
          await reset();
          return { ok: true };
        });
      case "teardown":
        return reply(async () => {
          await teardown();
          return { ok: true };
        });
      case "node-state":
        return reply(nodeState);
    }
    return new Response("not found\n", { status: 404 });
  });
  const stop = async () => {
    await serial(teardown).catch(() => {});
    await server.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
