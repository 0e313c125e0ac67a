/**
 * The kind e2e without a cluster: its scenario against the VM suite's definitions, its pods
 * against the API schemas, result parsing, the waits (fake clock), the whole run against a fake
 * cluster (passing, failing, leaving things behind) and the preflight that refuses to start
 * without Docker and kind.
 */
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import dgram from "node:dgram";
import { join } from "node:path";
import { TAPRIO, TAPRIO_COUNT } from "@tsn-proxy/lab/scenarios";
import { resolveTalkers } from "@tsn-proxy/sim/scenario";
import { parseSenderArgs } from "@tsn-proxy/sim/talkers/txtime_sender";
import { validateObject } from "../validate.ts";
import { agentConfigOf } from "../semantics.ts";
import { manifestObjects } from "../manifest.ts";
import { preflight, type Runner } from "./cluster.ts";
import { kindE2e } from "./main.ts";
import { checkSetup, collectPath, decodeSegment, setupPath } from "./probe_api.ts";
import {
  checkAgentMetrics,
  judgeTaprio,
  parseMetrics,
  parseTalkerLog,
  proxyOutFromMetrics,
  taprioRun,
} from "./results.ts";
import { checkNodeClean, e2eManifestOptions, runOnCluster } from "./run.ts";
import {
  KIND,
  KIND_TALKERS,
  kindTalkers,
  OPTED_IN,
  probePod,
  talkerArgv,
  talkerPod,
} from "./scenario.ts";
import { observerObjectFor, stageE2eContext } from "./stage.ts";
import { agentMetricsText, fakeClock, FakeKube, taprioQdiscText } from "./testing.ts";
import { waitDaemonSetReady, waitFor, waitPodsDone, WaitTimeout } from "./wait.ts";

Deno.test("the kind talkers are the VM suite's taprio talkers: names, classes, counts", () => {
  const talkers = kindTalkers();
  deepEqual(talkers.map((t) => t.name), Object.keys(TAPRIO.classOf));
  const map = TAPRIO.args.slice(TAPRIO.args.indexOf("map") + 1, TAPRIO.args.indexOf("map") + 17)
    .map(Number);
  for (const t of talkers) {
    equal(t.count, TAPRIO_COUNT);
    const cls = `${TAPRIO.handle}:${map[t.priority]! + 1}`;
    equal(cls, TAPRIO.classOf[t.name as keyof typeof TAPRIO.classOf], t.name);
  }
  // Resolved as the netns e2e resolves them (ports from 41000, pod ids in order of first use).
  deepEqual(talkers, resolveTalkers(KIND_TALKERS, new Map([["a", 1], ["b", 2], ["c", 3]])));
  deepEqual(OPTED_IN.map((p) => talkers.find((t) => t.pod === p)?.priority), [1, 2]);
});

Deno.test("talkerArgv() gives the FFI sender exactly the netns e2e's arguments", () => {
  const a = kindTalkers()[0]!;
  const argv = talkerArgv(a);
  const at = argv.indexOf("txtime");
  ok(at > 0 && argv[at - 1]?.endsWith("talker.js"), argv.join(" "));
  ok(argv.includes("--no-npm") && argv.includes("--no-remote"), "the bundle cannot fetch anything");
  deepEqual(parseSenderArgs(argv.slice(at + 1)), {
    dst: KIND.farEnd,
    port: a.port,
    count: a.count,
    priority: a.priority,
    clock: a.clock,
    pod: a.podId,
    intervalUs: a.intervalUs,
  });
  const b = kindTalkers()[1]!;
  match(talkerArgv(b).join(" "), /talker\.js socat --protocol udp --dst 192\.0\.2\.2 --port 41001/);
});

Deno.test("the e2e's pods and manifest are valid API objects", async () => {
  for (const t of kindTalkers()) {
    const pod = talkerPod(t, "base", "node-1");
    deepEqual(await validateObject(pod), [], t.name);
    equal(
      pod.metadata?.annotations?.["tsn-proxy.io/enabled"],
      OPTED_IN.includes(t.pod) ? "true" : undefined,
    );
  }
  deepEqual(await validateObject(probePod("kind-worker")), []);
  const cfg = agentConfigOf(manifestObjects(e2eManifestOptions("skb-data")));
  deepEqual(cfg.restoreOn, [KIND.tsnIf]);
  equal(cfg.strategy, "skb-data");
  equal(cfg.policy.namespaces[KIND.namespace], KIND.maxPriority);
});

Deno.test("probe arguments survive the pod proxy path as one segment", () => {
  const spec = {
    taprio: true,
    observer: true,
    talkers: kindTalkers().map((t) => ({
      name: t.name,
      port: t.port,
      podId: t.podId,
      priority: t.priority,
      protocol: t.protocol,
    })),
  };
  const [verb, seg, ...rest] = setupPath(spec).split("/");
  equal(verb, "setup");
  deepEqual(rest, []);
  ok(/^[A-Za-z0-9_-]+$/.test(seg!), "base64url only");
  deepEqual(checkSetup(decodeSegment(seg!)), spec);
  deepEqual(decodeSegment(collectPath({ "41000": 100 }).split("/")[1]!), { "41000": 100 });
  let threw = false;
  try {
    checkSetup({ taprio: true, observer: true, talkers: [{ port: 70000 }] });
  } catch {
    threw = true;
  }
  ok(threw);
});

Deno.test("parseMetrics() reads samples by name and label subset", () => {
  const m = parseMetrics(agentMetricsText({ adds: 2, restored: 200, tracker: true }));
  equal(m.value("tsnproxy_ready"), 1);
  equal(m.value("tsnproxy_cni_requests_total", { command: "ADD", result: "ok" }), 2);
  equal(m.value("tsnproxy_datapath_packets_total", { counter: "restored" }), 200);
  equal(m.value("tsnproxy_nothing"), undefined);
  const p = proxyOutFromMetrics(
    agentMetricsText({ adds: 2, restored: 7, tracker: true }),
    "skb-addr",
  );
  deepEqual(p.trackers, [{ program: "tsn_track_clone", state: "attached" }]);
  equal(p.counters.restored, 7);
});

Deno.test("parseTalkerLog() takes the last result line and refuses a log without one", () => {
  deepEqual(parseTalkerLog('warn: x\n{"tool":"socat","sent":100,"errors":0}\n'), {
    tool: "socat",
    sent: 100,
    errors: 0,
  });
  let threw = false;
  try {
    parseTalkerLog("error: something\n");
  } catch {
    threw = true;
  }
  ok(threw);
});

Deno.test("judgeTaprio(): the VM suite's checks pass a good kind run and fail a bad one", () => {
  const talkers = kindTalkers();
  const sent = Object.fromEntries(talkers.map((t) => [t.name, t.count]));
  const collected = (perClass: [number, number, number, number], restored: boolean) => ({
    observer: Object.fromEntries(talkers.map((t) => {
      const right = t.priority === 0 || (restored && OPTED_IN.includes(t.pod));
      return [String(t.port), {
        packets: t.count,
        records: t.count,
        prioRight: right ? t.count : 0,
        prioZero: right && t.priority !== 0 ? 0 : t.count,
      }];
    })),
    received: Object.fromEntries(talkers.map((t) => [String(t.port), t.count])),
    tcQdisc: taprioQdiscText(perClass),
    tcClass: "",
    metrics: agentMetricsText({ adds: 2, restored: 200, tracker: true }),
    kernel: "6.12.0",
  });
  const base = taprioRun({
    label: "base",
    ms: 1,
    strategy: null,
    talkers,
    sent,
    collected: collected([0, 0, 0, 302], false),
  });
  deepEqual(base.classes, { "100:1": 0, "100:2": 0, "100:3": 0, "100:4": 302 });
  const good = taprioRun({
    label: "proxy",
    ms: 1,
    strategy: "skb-addr",
    talkers,
    sent,
    collected: collected([0, 100, 100, 102], true),
  });
  deepEqual(judgeTaprio([base, good], 100, "6.12.0"), []);
  const bad = taprioRun({
    label: "proxy",
    ms: 1,
    strategy: "skb-addr",
    talkers,
    sent,
    collected: collected([0, 0, 0, 302], false),
  });
  const failures = judgeTaprio([base, bad], 100, "6.12.0");
  // The wording is lab/vm/checks.ts's; what matters is that both opted-in talkers fail.
  ok(failures.some((f) => /proxy a-prio1/.test(f)), failures.join("\n"));
  ok(failures.some((f) => /proxy b-prio2/.test(f)), failures.join("\n"));
  // A good proxied run whose classes disagree with the observer fails too (the class counters).
  const miscounted = taprioRun({
    label: "proxy",
    ms: 1,
    strategy: "skb-addr",
    talkers,
    sent,
    collected: collected([0, 0, 100, 202], true),
  });
  ok(judgeTaprio([base, miscounted], 100, "6.12.0").some((f) => /100:2/.test(f)));
});

Deno.test("checkAgentMetrics() wants the agent ready, two opted-in ADDs and restored packets", () => {
  deepEqual(
    checkAgentMetrics(agentMetricsText({ adds: 2, restored: 200, tracker: true }), {
      optedIn: 2,
      count: 100,
      strategy: "skb-addr",
    }),
    [],
  );
  const f = checkAgentMetrics(agentMetricsText({ adds: 3, restored: 10, tracker: true }), {
    optedIn: 2,
    count: 100,
    strategy: "skb-addr",
  });
  equal(f.length, 2, f.join("\n"));
  match(checkAgentMetrics(null, { optedIn: 2, count: 100, strategy: "x" })[0]!, /no agent/);
});

Deno.test("waitFor() polls until a value, retries errors, and times out with the last state", async () => {
  const clock = fakeClock();
  let n = 0;
  equal(
    await waitFor("three", () => {
      n++;
      if (n === 1) throw new Error("API not ready");
      return Promise.resolve(n >= 3 ? n : undefined);
    }, { timeoutMs: 10_000, intervalMs: 500, clock }),
    3,
  );
  equal(clock.slept, 1000);
  await rejects(
    waitFor(
      "never",
      () => Promise.resolve(undefined),
      { timeoutMs: 2000, intervalMs: 500, clock },
      () => "still 0",
    ),
    (e: unknown) =>
      e instanceof WaitTimeout && /waiting for never \(last: still 0\)/.test(e.message),
  );
});

Deno.test("waitPodsDone() and waitDaemonSetReady() follow the fake cluster", async () => {
  const kube = new FakeKube({ restores: true, talkerPolls: 3 });
  const clock = fakeClock();
  const t = kindTalkers()[0]!;
  await kube.apply(talkerPod(t, "x", "n1") as never);
  const done = await waitPodsDone(kube, KIND.namespace, ["talker-a-x"], {
    timeoutMs: 60_000,
    intervalMs: 1000,
    clock,
  });
  equal(done[0]!.phase, "Succeeded");
  await rejects(
    waitPodsDone(kube, KIND.namespace, ["missing"], { timeoutMs: 3000, intervalMs: 1000, clock }),
    /missing=absent/,
  );
  await kube.apply({ apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "d" } });
  const ds = await waitDaemonSetReady(kube, "ns", "d", {
    timeoutMs: 60_000,
    intervalMs: 1000,
    clock,
  });
  equal(ds.ready, 2);
});

Deno.test("runOnCluster() against a fake cluster: passes when the proxy restores", async () => {
  const kube = new FakeKube({ restores: true });
  const logs: string[] = [];
  const r = await runOnCluster(kube, {
    strategy: "skb-addr",
    clock: fakeClock(),
    log: (s) => logs.push(s),
  });
  deepEqual(r.failures, []);
  equal(r.talkerNode, "e2e-worker");
  equal(r.runs.length, 2);
  deepEqual(r.runs[1]!.classes, { "100:1": 0, "100:2": 100, "100:3": 100, "100:4": 102 });
  // The manifest went in whole, and out whole (the uninstall path).
  const kinds = kube.applied.map((o) => o.kind);
  for (const k of ["ServiceAccount", "ClusterRole", "ConfigMap", "DaemonSet"]) {
    ok(kinds.includes(k), k);
  }
  ok(kube.removed.some((o) => o.kind === "DaemonSet"));
  ok(kube.proxyCalls.includes("probe-e2e-control-plane setup"), "tsn0 on every node");
  ok(kube.proxyCalls.includes("probe-e2e-worker node-state"));
});

Deno.test("runOnCluster() fails when the proxy does not restore, or leaves the node dirty", async () => {
  const broken = await runOnCluster(new FakeKube({ restores: false }), {
    strategy: "skb-addr",
    clock: fakeClock(),
  });
  ok(broken.failures.some((f) => /priorities restored/.test(f)), broken.failures.join("\n"));
  ok(broken.failures.some((f) => /restored packets/.test(f)), broken.failures.join("\n"));
  const dirty = await runOnCluster(new FakeKube({ restores: true, leaveEntry: true }), {
    strategy: "skb-addr",
    clock: fakeClock(),
  });
  deepEqual(
    dirty.failures.filter((f) => /still names tsn-proxy/.test(f)).length,
    2,
    dirty.failures.join("\n"),
  );
  deepEqual(checkNodeClean("n", { confFiles: {}, plugin: true, pins: true }).length, 2);
  const before = { confFiles: { "10-a.conflist": '{"a": 1}\n' }, plugin: false, pins: false };
  deepEqual(checkNodeClean("n", before, before), []);
  deepEqual(
    checkNodeClean("n", { ...before, confFiles: { "10-a.conflist": '{ "a": 1 }\n' } }, before),
    ["n: 10-a.conflist differs from the bytes before the install"],
  );
  deepEqual(checkNodeClean("n", { ...before, tcPrograms: ["observer_x", "tsn_restorer"] }), [
    "n: BPF program tsn_restorer still on tsn0",
  ]);
  deepEqual(checkNodeClean("n", { ...before, confFiles: {} }, before), [
    "n: 10-a.conflist is gone after uninstall",
  ]);
});

function runnerFor(answers: Record<string, { code: number; stdout?: string; stderr?: string }>) {
  const calls: string[] = [];
  const r: Runner = {
    run(cmd) {
      calls.push(cmd.join(" "));
      const a = answers[cmd[0]!] ?? { code: 127 };
      return Promise.resolve({ code: a.code, stdout: a.stdout ?? "", stderr: a.stderr ?? "" });
    },
  };
  return { r, calls };
}

Deno.test("preflight() says what is missing: docker, its engine, kind", async () => {
  match((await preflight(runnerFor({}).r))!, /docker is not installed[\s\S]*kind is not installed/);
  const down = runnerFor({
    docker: {
      code: 1,
      stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
    },
    kind: { code: 0, stdout: "kind v0.27.0" },
  });
  match((await preflight(down.r))!, /Docker engine is not reachable: Cannot connect/);
  equal(
    await preflight(runnerFor({ docker: { code: 0, stdout: "28.2.2" }, kind: { code: 0 } }).r),
    null,
  );
});

Deno.test("kindE2e() exits 1 with the reason and touches nothing when Docker or kind is missing", async () => {
  const { r, calls } = runnerFor({ docker: { code: 1, stderr: "no daemon" } });
  const errors: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    equal(await kindE2e([], r, () => {}), 1);
    equal(await kindE2e(["--strategy", "nope"], r, () => {}), 2);
  } finally {
    console.error = orig;
  }
  match(errors.join("\n"), /cannot run here[\s\S]*not part of CI/);
  ok(
    calls.every((c) => c.startsWith("docker version") || c.startsWith("kind version")),
    calls.join("\n"),
  );
});

Deno.test("stageE2eContext() lays out bundles and the observer object; the talker bundle runs alone", async () => {
  equal(observerObjectFor(KIND.probeJs), "/opt/sim/bpf/obj/observer.bpf.o");
  const dir = await Deno.makeTempDir({ prefix: "tsn-stage-" });
  try {
    await stageE2eContext(dir);
    for (
      const p of [
        KIND.probeJs,
        KIND.talkerJs,
        observerObjectFor(KIND.probeJs),
        "/Containerfile.e2e",
      ]
    ) {
      ok((await Deno.stat(join(dir, p))).isFile, p);
    }
    // The bundled talker, from the staged tree, sends real datagrams (SO_PRIORITY 1, TAI txtime).
    const sock = dgram.createSocket("udp4");
    let got = 0;
    const five = new Promise<void>((resolve) => {
      sock.on("message", (data: Uint8Array) => {
        if (data.length === 32 && ++got === 5) resolve();
      });
    });
    await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
    const port = sock.address().port;
    const t = { ...kindTalkers()[0]!, port, count: 5, clock: "tai" as const, intervalUs: 0 };
    const argv = talkerArgv(t, "127.0.0.1").slice(1);
    argv[argv.indexOf(KIND.talkerJs)] = join(dir, KIND.talkerJs);
    const out = await new Deno.Command(Deno.execPath(), {
      args: argv,
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Promise.race([five, new Promise((r) => setTimeout(r, 3000))]);
    sock.close();
    equal(got, 5);
    deepEqual(parseTalkerLog(new TextDecoder().decode(out.stdout)), {
      tool: "txtime",
      sent: 5,
      errors: 0,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
