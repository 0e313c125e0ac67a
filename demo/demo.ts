/**
 * `tsnproxy demo`: the main job on one machine. A simulated Kubernetes node in network namespaces
 * whose primary CNI is Debian's real `bridge` + `host-local` plugins, driven as a runtime drives
 * them (libcni's order and environment, sim/cni_driver.ts); a NIC veth to an external "TSN
 * bridge" namespace with MASQUERADE out of it; two time-sensitive pods (SO_PRIORITY 1 and 2, TAI
 * txtimes, opted in with the `tsn-proxy.io/enabled` annotation) and a best-effort pod that did not
 * opt in. The same traffic runs twice:
 *
 * 1. without tsn-proxy: the plain chain (`bridge`);
 * 2. with tsn-proxy: the REAL agent (built as shipped, `deno task build`) starts in the node,
 *    loads the datapath for `--strategy`, installs the REAL plugin and appends it to the conflist;
 *    the pods are created again through `bridge + tsn-proxy`. Then the agent is stopped and
 *    uninstalled, which leaves the conflist as it was.
 *
 * The observer on the NIC counts per pod what left with which priority and txtime; the table
 * shows both runs side by side.
 *
 *   --strategy NAME   skb-addr (default) or skb-data
 *   --duration S      seconds of traffic per run (default 2, 1..30)
 *   --json            machine-readable result on stdout
 *   --taprio          the same story on a kernel with taprio, in a kernel-lab guest (QEMU; the
 *                     host kernel has no taprio): the lab's `vm-taprio` scenario puts a 4-class
 *                     taprio on the node's NIC (TC1 prio 1, TC2 prio 2, TC3 best effort) and
 *                     counts packets per class without tsn-proxy and with each strategy; the table
 *                     shows the `--strategy` asked for, or both when none is given
 *   --kernel 6.1|6.12 the guest's kernel with --taprio (default 6.12)
 *
 * Progress goes to stderr. Everything lives under one name prefix (netns `tsndemoXXXX-*`, pins
 * `/sys/fs/bpf/tsndemoXXXX`, a temp dir) and is removed on exit, on errors and on Ctrl-C.
 *
 * @example
 * ```sh
 * sudo ./dev demo --strategy skb-data
 * sudo ./dev demo --taprio [--strategy NAME] [--kernel 6.1|6.12] [--json]
 * ```
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  createNetns,
  createTopology,
  deleteNetns,
  descendants,
  installObserver,
  listNetns,
  type Netns,
  type Observer,
  type Receiver,
  runTxtimeSender,
  startReceiver,
  type Topology,
  waitLinksReady,
} from "@tsn-proxy/sim";
import { errorMessage } from "@tsn-proxy/agent/log";
import { ANNOTATIONS_CAPABILITY, ENABLED_ANNOTATION } from "@tsn-proxy/cni";
import { Datapath, type DatapathStats } from "@tsn-proxy/bpf/datapath";
import { getStrategy, UnknownStrategyError } from "@tsn-proxy/strategies";
import { CniRuntime, type NetworkList, type RuntimeConf } from "@tsn-proxy/sim/cni_driver";
import {
  type AgentHandle,
  buildDist,
  type CniNode,
  prepareNode,
  startAgent,
  uninstallAgent,
} from "@tsn-proxy/sim/cni_fixture";
import { parseUint, UsageError, wantsHelp } from "@tsn-proxy/cli/args";
import {
  DEMO_PODS,
  type DemoCell,
  type DemoPod,
  type DemoResult,
  formatDemo,
  txtimeKeptByKernel,
} from "./demo_format.ts";
import { Progress } from "@tsn-proxy/cli/progress";
import { KERNEL_IDS, type KernelId } from "@tsn-proxy/lab";
import {
  formatTaprio,
  LabError,
  resultOfFailedRun,
  runTaprioDemo,
  TAPRIO_STEPS,
  TAPRIO_STRATEGIES,
} from "./demo_taprio.ts";

export { DEMO_PODS, type DemoCell, type DemoResult, formatDemo, txtimeKeptByKernel };

/** Datagrams per second per pod. */
const RATE_PER_S = 250;
/** The pods' Kubernetes namespace (the policy gives it a maximum priority of 3). */
const DEMO_NAMESPACE = "tsn-demo";
/** The primary CNI's conflist in the node's conf dir. */
const CONFLIST = "10-bridge.conflist";
/** Steps of the progress display. */
const STEPS = 9;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly strategy: string;
  /** Seconds of traffic per run. */
  readonly seconds: number;
  readonly progress?: Progress;
  /** Name prefix of everything created; default `tsndemo` + 4 random hex digits. */
  readonly prefix?: string;
}

/** A fresh demo prefix. */
export function demoPrefix(): string {
  const b = crypto.getRandomValues(new Uint8Array(2));
  return `tsndemo${[...b].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
}

/** The primary CNI config: Debian's bridge with host-local IPAM. */
export function bridgeConflist(ipamDir: string): NetworkList {
  return {
    cniVersion: "1.0.0",
    name: "demo-net",
    plugins: [{
      type: "bridge",
      bridge: "cni0",
      isGateway: true,
      isDefaultGateway: true,
      ipMasq: false, // the node's own nftables MASQUERADE (sim topology) does it
      ipam: {
        type: "host-local",
        dataDir: ipamDir,
        ranges: [[{ subnet: "10.244.1.0/24" }]],
      },
    }],
  };
}

/** A pod of one run: its netns and what the runtime passed. */
interface RunPod {
  readonly spec: typeof DEMO_PODS[number];
  readonly id: number;
  readonly ns: Netns;
  readonly rt: RuntimeConf;
  result?: Record<string, unknown>;
  addMs?: Record<string, number>;
}

/** Everything one demo run created, so it can be removed on any exit path. */
export class DemoResources {
  topo: Topology | undefined;
  node: CniNode | undefined;
  agent: AgentHandle | undefined;
  observer: Observer | undefined;
  receivers: Receiver[] = [];
  pods: RunPod[] = [];
  uninstalled = false;
  /** Set by {@link emergency}: the demo must not start anything new. */
  interrupted = false;
  #cleaning: Promise<void> | undefined;

  constructor(readonly prefix: string) {}

  /** Throws once the demo was interrupted: called before every step that starts processes. */
  check(): void {
    if (this.interrupted) throw new Error("interrupted");
  }

  /** The orderly teardown (idempotent): agent, uninstall, observer, namespaces, pins, files. */
  cleanup(): Promise<void> {
    // After an interrupt, emergency() owns the teardown; starting `--uninstall` now would leave
    // a process behind when the demo exits.
    if (this.interrupted) return Promise.resolve();
    this.#cleaning ??= this.#cleanup();
    return this.#cleaning;
  }

  async #cleanup(): Promise<void> {
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    for (const rx of this.receivers) await attempt("receiver", () => rx.stop());
    if (this.agent) await attempt("agent stop", () => this.agent!.stop());
    if (this.node && !this.uninstalled) {
      await attempt("uninstall", () => uninstallAgent(this.node!));
    }
    if (this.observer) await attempt("observer", () => this.observer!.destroy());
    for (const p of this.pods) await attempt(`netns ${p.ns.name}`, () => deleteNetns(p.ns));
    if (this.topo) await attempt("topology", () => this.topo!.destroy());
    await attempt("leftovers", () => this.removeLeftovers());
    if (errors.length) throw new Error(`demo cleanup: ${errors.join("; ")}`);
  }

  /**
   * After an interrupt: stops every process the demo started (the agent first, so it can close
   * its links cleanly; then every other descendant, by pid), then removes what is left by name.
   */
  async emergency(): Promise<void> {
    this.interrupted = true;
    await this.agent?.stop().catch(() => {});
    await this.#stopDescendants();
    await this.removeLeftovers();
    // A step that was already past its check may have started something meanwhile.
    await this.#stopDescendants();
    await this.removeLeftovers();
  }

  async #stopDescendants(): Promise<void> {
    for (let round = 0; round < 4; round++) {
      const pids = await descendants(Deno.pid);
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          Deno.kill(pid, round === 0 ? "SIGTERM" : "SIGKILL");
        } catch { /* gone */ }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Removes by name whatever carries the prefix: namespaces, the bpffs dir, the node dir. */
  async removeLeftovers(): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const names = await listNetns(`${this.prefix}-`);
      if (names.length === 0) break;
      for (const name of names) {
        await deleteNetns({ name, path: `/run/netns/${name}` }).catch(() => {});
      }
    }
    await Deno.remove(`/sys/fs/bpf/${this.prefix}`, { recursive: true }).catch(() => {});
    if (this.node) await this.node.cleanup();
  }
}

async function addPods(
  r: DemoResources,
  rt: CniRuntime,
  list: NetworkList,
  run: "a" | "b",
): Promise<RunPod[]> {
  const pods: RunPod[] = [];
  for (const [i, spec] of DEMO_PODS.entries()) {
    r.check();
    const ns = await createNetns(`${r.prefix}-${spec.pod}`, { ipv6: false });
    const pod: RunPod = {
      spec,
      id: i + 1,
      ns,
      rt: {
        containerId: `${r.prefix}${run}${spec.pod.replace(/-/g, "")}`.padEnd(64, "0"),
        netns: ns.path,
        ifname: "eth0",
        args: {
          IgnoreUnknown: "1",
          K8S_POD_NAMESPACE: DEMO_NAMESPACE,
          K8S_POD_NAME: spec.pod,
        },
        capabilityArgs: {
          [ANNOTATIONS_CAPABILITY]: spec.optIn ? { [ENABLED_ANNOTATION]: "true" } : {},
        },
      },
    };
    r.pods.push(pod);
    pods.push(pod);
    const added = await rt.add(list, pod.rt);
    pod.result = added.result;
    pod.addMs = Object.fromEntries(added.runs.map((x) => [x.type, Math.round(x.ms * 10) / 10]));
    await waitLinksReady(ns);
  }
  await waitLinksReady(r.topo!.node.ns);
  return pods;
}

async function delPods(r: DemoResources, rt: CniRuntime, list: NetworkList, pods: RunPod[]) {
  for (const p of pods) {
    await rt.del(list, p.rt, p.result);
    await deleteNetns(p.ns);
    r.pods = r.pods.filter((x) => x !== p);
  }
}

/** Sends the same traffic from every pod and reads what the NIC saw. */
async function traffic(
  r: DemoResources,
  pods: RunPod[],
  basePort: number,
  count: number,
  label: string,
  progress: Pick<Progress, "tick" | "done">,
): Promise<Map<string, DemoCell>> {
  const topo = r.topo!;
  const receivers: Receiver[] = [];
  for (const [i, p] of pods.entries()) {
    r.check();
    await r.observer!.expect(basePort + i, { pod: p.id, priority: p.spec.priority, record: true });
    r.check();
    const rx = await startReceiver(topo.far.ns, "udp", basePort + i);
    receivers.push(rx);
    r.receivers.push(rx);
  }
  const total = count * pods.length;
  const ticker = setInterval(() => {
    const got = receivers.reduce((n, rx) => n + rx.records(), 0);
    progress.tick(`${label}: ${got}/${total} datagrams at the TSN bridge`);
  }, 150);
  try {
    r.check();
    const sent = await Promise.all(pods.map((p, i) =>
      runTxtimeSender(p.ns, {
        dst: topo.far.ip,
        port: basePort + i,
        count,
        priority: p.spec.priority,
        clock: p.spec.clock,
        pod: p.id,
        intervalUs: Math.round(1e6 / RATE_PER_S),
      }, count * 1e3 / RATE_PER_S + 20_000)
    ));
    for (const [i, s] of sent.entries()) {
      if (s.errors) {
        throw new Error(`${pods[i]!.spec.pod}: ${s.errors} send errors (errno ${s.lastErrno})`);
      }
    }
    for (const rx of receivers) await rx.waitRecords(count, 3000);
  } finally {
    clearInterval(ticker);
    progress.done();
  }
  const out = new Map<string, DemoCell>();
  for (const [i, p] of pods.entries()) {
    const s = await r.observer!.stats(basePort + i);
    out.set(p.spec.pod, {
      packets: s.packets,
      prioRight: s.prioRight,
      prioZero: s.prioZero,
      prioWrong: s.prioWrong,
      txtimeRight: s.txtimeRight,
      txtimeMissing: s.txtimeMissing,
      txtimeWrong: s.txtimeWrong + s.typeWrong + s.tstampInvented,
      received: receivers[i]!.records(),
    });
  }
  for (const rx of receivers) {
    await rx.stop();
    r.receivers = r.receivers.filter((x) => x !== rx);
  }
  return out;
}

function agentEvents(stderr: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.event === "string") out.push(o);
    } catch { /* not a log line */ }
  }
  return out;
}

/**
 * Runs the demo. The caller owns `resources` when it passes them (signal handling); otherwise
 * they are created here. Everything is removed before this returns or throws.
 */
export async function runDemo(
  o: DemoOptions,
  resources: DemoResources = new DemoResources(o.prefix ?? demoPrefix()),
): Promise<DemoResult> {
  const strategy = getStrategy(o.strategy);
  const shown = o.progress ?? new Progress(STEPS, { quiet: true });
  const r = resources;
  // Every step first checks for an interrupt: nothing new starts once Ctrl-C was pressed.
  const progress = {
    step: (msg: string) => {
      r.check();
      shown.step(msg);
    },
    note: (msg: string) => shown.note(msg),
    tick: (text: string) => shown.tick(text),
    done: () => shown.done(),
  };
  const count = Math.min(10_000, Math.max(1, Math.round(o.seconds * RATE_PER_S)));
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  let mark = t0;
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - mark);
    mark = now;
  };
  try {
    progress.step("building the CNI plugin and the agent as shipped (deno task build)");
    const dist = await buildDist();
    progress.note(`        into ${dist.dir}`);
    lap("buildMs");

    progress.step(
      `simulated node in network namespaces ${r.prefix}-*: nic0 -> TSN bridge, MASQUERADE`,
    );
    r.topo = await createTopology({ kind: "routed-nat", pods: [], prefix: r.prefix });
    const topo = r.topo;
    r.node = await prepareNode(topo, {
      confFiles: {},
      policy: { defaultMaxPriority: 0, namespaces: { [DEMO_NAMESPACE]: 3 } },
    });
    const node = r.node;
    const config = JSON.parse(await Deno.readTextFile(node.configPath));
    await Deno.writeTextFile(
      node.configPath,
      JSON.stringify({ ...config, strategy: strategy.name, logFormat: "json" }, null, 2),
    );
    await Deno.writeTextFile(
      join(node.confDir, CONFLIST),
      JSON.stringify(bridgeConflist(node.ipamDir), null, 2),
    );
    r.observer = await installObserver({
      ns: topo.node.ns,
      ifname: topo.node.nic,
      bpffsDir: topo.bpffsDir,
    });
    const rt = new CniRuntime({ ns: topo.node.ns, binDirs: [node.binDir] });
    lap("nodeMs");

    // Run 1: the plain chain.
    const plain = JSON.parse(await Deno.readTextFile(join(node.confDir, CONFLIST))) as NetworkList;
    progress.step(`pods through the plain chain (${plain.plugins.map((p) => p.type).join(" + ")})`);
    const podsA = await addPods(r, rt, plain, "a");
    progress.step(`traffic WITHOUT tsn-proxy: ${count} datagrams per pod`);
    const without = await traffic(r, podsA, 41000, count, "without tsn-proxy", progress);
    await delPods(r, rt, plain, podsA);
    lap("withoutMs");

    // Install tsn-proxy: the agent loads the datapath, installs the plugin, places its entry.
    progress.step(`starting the tsn-proxy agent (${strategy.name}): datapath, plugin, conf entry`);
    r.agent = await startAgent(node);
    const chained = JSON.parse(
      await Deno.readTextFile(join(node.confDir, CONFLIST)),
    ) as NetworkList;
    const stateFile = join(node.stateDir, "datapath.json");
    lap("installMs");

    progress.step(
      `pods through the chain the agent wrote (${chained.plugins.map((p) => p.type).join(" + ")})`,
    );
    const podsB = await addPods(r, rt, chained, "b");
    progress.step(`traffic WITH tsn-proxy (${strategy.name}): the same datagrams`);
    const withProxy = await traffic(r, podsB, 41100, count, "with tsn-proxy", progress);
    const stats: DatapathStats = Datapath.open({ stateFile }).stats();
    await delPods(r, rt, chained, podsB);
    lap("withMs");

    progress.step("uninstalling tsn-proxy: agent stopped, `tsnproxy agent --uninstall`");
    await r.agent.stop();
    const agentLog = r.agent.proc.stderr;
    r.agent = undefined;
    await uninstallAgent(node);
    r.uninstalled = true;
    const after = JSON.parse(await Deno.readTextFile(join(node.confDir, CONFLIST))) as NetworkList;
    if (after.plugins.some((p) => p.type === "tsn-proxy")) {
      throw new Error(`uninstall left the tsn-proxy entry in ${CONFLIST}`);
    }
    lap("uninstallMs");

    progress.step("removing the simulated node");
    await r.cleanup();
    lap("cleanupMs");
    timings.totalMs = Math.round(performance.now() - t0);

    const pods: DemoPod[] = DEMO_PODS.map((p) => {
      const a = without.get(p.pod), b = withProxy.get(p.pod);
      if (!a || !b) throw new Error(`no result for ${p.pod}`);
      const addMs = podsB.find((x) => x.spec.pod === p.pod)?.addMs;
      return {
        pod: p.pod,
        priority: p.priority,
        clock: p.clock,
        optIn: p.optIn,
        without: a,
        with: b,
        ...(addMs ? { addMs } : {}),
      };
    });
    return {
      strategy: strategy.name,
      kernel: Deno.osRelease(),
      txtimeKeptByKernel: txtimeKeptByKernel(Deno.osRelease()),
      packetsPerPod: count,
      pods,
      counters: Object.fromEntries(
        Object.entries(stats.counters).map(([k, v]) => [k, String(v)]),
      ),
      chains: {
        without: plain.plugins.map((p) => String(p.type)),
        with: chained.plugins.map((p) => String(p.type)),
      },
      trackers: stats.state.trackers.map((t) => ({
        program: t.program,
        state: t.state,
        ...(t.reason ? { reason: t.reason } : {}),
      })),
      restorers: stats.state.restorers.map((x) => ({ ifname: x.ifname, mode: x.mode.kind })),
      agentEvents: agentEvents(agentLog),
      timings,
    };
  } catch (e) {
    if (r.interrupted) throw e;
    const agentLog = r.agent?.proc.stderr ?? "";
    await r.cleanup().catch((c) => progress.note(`  ${errorMessage(c)}`));
    if (agentLog) progress.note(`agent log:\n${agentLog.trim()}`);
    throw e;
  }
}

/** Usage of `tsnproxy demo`. */
const DEMO_USAGE = `usage: tsnproxy demo [--strategy NAME] [--duration S] [--json]
       tsnproxy demo --taprio [--strategy NAME] [--kernel 6.1|6.12] [--json]

A simulated node in network namespaces: the same pods' traffic without and with tsn-proxy.
  --strategy NAME    skb-addr (default) or skb-data
  --duration S       seconds of traffic per run (default 2, 1..30)
  --json             machine-readable result on stdout
  --taprio           the same story on a taprio NIC, in a kernel-lab guest (QEMU)
  --kernel 6.1|6.12  the guest's kernel with --taprio (default 6.12)`;

/** Entry point of `tsnproxy demo`. */
export async function demoCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(DEMO_USAGE);
    return 0;
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      strategy: { type: "string" },
      duration: { type: "string" },
      json: { type: "boolean", default: false },
      taprio: { type: "boolean", default: false },
      kernel: { type: "string" },
    },
    strict: true,
  });
  const strategy = values.strategy ?? "skb-addr";
  try {
    getStrategy(strategy);
  } catch (e) {
    if (e instanceof UnknownStrategyError) throw new UsageError(e.message);
    throw e;
  }
  if (values.taprio) {
    if (values.duration !== undefined) {
      throw new UsageError("--duration does not apply to --taprio (the lab scenario's own count)");
    }
    return await taprioCommand(values.kernel ?? "6.12", values.strategy, values.json);
  }
  if (values.kernel !== undefined) throw new UsageError("--kernel needs --taprio");
  const seconds = parseUint("duration", values.duration ?? "2", 1, 30);
  if (Deno.uid?.() !== 0) throw new UsageError("the demo needs root (network namespaces, BPF)");
  const progress = new Progress(STEPS);
  const resources = new DemoResources(demoPrefix());
  progress.note(
    `tsn-proxy demo: a simulated node, Debian's bridge + host-local as the primary CNI, ` +
      `${seconds} s of traffic per run (names: ${resources.prefix}-*)`,
  );
  let emergency: Promise<void> | undefined;
  const onSignal = () => {
    if (emergency) return;
    resources.interrupted = true;
    progress.note("\ninterrupted: stopping the demo's processes and removing its node");
    emergency = resources.emergency()
      .catch((e) => progress.note(`cleanup after the interrupt: ${errorMessage(e)}`))
      .then(() => progress.note("cleaned up"));
    // The run in progress fails as its processes go; whichever ends first, the exit waits for
    // the cleanup.
    emergency.finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const result = await runDemo({ strategy, seconds, progress }, resources);
    if (emergency) {
      await emergency;
      return 130;
    }
    console.log(values.json ? JSON.stringify(result, null, 2) : formatDemo(result));
    return 0;
  } catch (e) {
    if (emergency) {
      await emergency;
      return 130;
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/**
 * `tsnproxy demo --taprio`: vm-taprio in a kernel-lab guest. A failed guest (timeout, panic, failed
 * scenario: the lab's LabError, whose message ends with the serial tail) is printed, exit 1.
 */
export async function taprioCommand(
  kernel: string,
  strategy: string | undefined,
  json: boolean,
  run: typeof runTaprioDemo = runTaprioDemo,
  progress: Progress = new Progress(TAPRIO_STEPS),
): Promise<number> {
  if (!(KERNEL_IDS as readonly string[]).includes(kernel)) {
    throw new UsageError(`--kernel must be one of ${KERNEL_IDS.join(", ")}, not "${kernel}"`);
  }
  const strategies = strategy === undefined ? [...TAPRIO_STRATEGIES] : [strategy];
  if (!strategies.every((s) => (TAPRIO_STRATEGIES as readonly string[]).includes(s))) {
    throw new UsageError(`--taprio runs ${TAPRIO_STRATEGIES.join(" and ")} only`);
  }
  progress.note(
    `tsn-proxy demo --taprio: the lab's vm-taprio scenario in a ${kernel} guest ` +
      `(QEMU; the host kernel has no taprio)`,
  );
  try {
    const result = await run({ kernel: kernel as KernelId, strategies, progress });
    console.log(json ? JSON.stringify(result, null, 2) : formatTaprio(result));
    return result.failures.length ? 1 : 0;
  } catch (e) {
    const what = e instanceof LabError ? "the guest run failed" : "failed";
    progress.note(`tsn-proxy demo --taprio: ${what}\n${errorMessage(e)}`);
    const partial = e instanceof LabError ? resultOfFailedRun(e, strategies) : undefined;
    if (partial) console.log(json ? JSON.stringify(partial, null, 2) : formatTaprio(partial));
    return 1;
  }
}
