/**
 * The kind e2e on a running cluster, through a {@link KubeApi} only (so the tests drive it with
 * a fake one):
 *
 * 1. namespace `tsn-e2e`, a probe on every node: `tsn0` + ext everywhere (the agent wants its
 *    TSN interface on every node), taprio + observer + receivers on the talkers' node;
 * 2. run "base": the talker pods without tsn-proxy;
 * 3. `tsnproxy manifest --strategy S --tsn-if tsn0 --max-priority tsn-e2e=2` applied, the
 *    DaemonSet ready on every node;
 * 4. run "proxy": the same talker pods (a, b opted in);
 * 5. verdict: lab/vm/checks.ts `checkTaprio` on both runs (the VM suite's taprio checks), and
 *    the agent's metrics;
 * 6. uninstall as a user does (every manifest object deleted, in file order): the agents must
 *    leave no conf entry, plugin or pins on any node.
 *
 * @module
 */
import { manifestObjects } from "../manifest.ts";
import { LABELS, NAMES } from "../layout.ts";
import { DEFAULT_MANIFEST_OPTIONS, type ManifestOptions, validateOptions } from "../options.ts";
import type { ResolvedTalker } from "@tsn-proxy/sim/scenario";
import type { KubeApi, KubeObject } from "./kube.ts";
import { collectPath, type CollectResult, type NodeState, setupPath } from "./probe_api.ts";
import {
  checkAgentMetrics,
  judgeObserved,
  judgeTaprio,
  parseTalkerLog,
  type TaprioRun,
  taprioRun,
} from "./results.ts";
import {
  KIND,
  kindTalkers,
  OPTED_IN,
  probePod,
  probePodName,
  talkerPod,
  talkerPodName,
} from "./scenario.ts";
import {
  type Clock,
  REAL_CLOCK,
  waitDaemonSetReady,
  waitFor,
  waitGone,
  type WaitOptions,
  waitPodReady,
  waitPodsDone,
} from "./wait.ts";

/** Options of {@link runOnCluster}. */
export interface RunOptions {
  readonly strategy: string;
  readonly agentImage?: string;
  readonly log?: (msg: string) => void;
  readonly clock?: Clock;
  /** Scales every timeout (tests: small). */
  readonly timeoutScale?: number;
  /**
   * taprio on tsn0 and the VM suite's taprio verdict (default); false where the node's kernel has
   * no taprio (the local node): the observer's per-pod verdict alone ({@link judgeObserved}).
   */
  readonly taprio?: boolean;
  /** More scenarios while tsn-proxy is installed (after the proxied run, before uninstall). */
  readonly afterProxied?: (
    ctx: RunContext,
  ) => Promise<{ runs: readonly TaprioRun[]; failures: readonly string[] }>;
}

/** What a talkers' run may change (defaults: the kind talkers to the far end, a and b opted in). */
export interface TalkerRunOptions {
  readonly talkers?: readonly ResolvedTalker[];
  /** The address a talker sends to (a Service's, say); default the far end. */
  readonly dst?: (t: ResolvedTalker) => string;
  /** Names of the talkers whose pods opt in. */
  readonly optedIn?: readonly string[];
  /** The priority the observer must see at tsn0 (default: the one the talker sets). */
  readonly expectPriority?: (t: ResolvedTalker) => number;
  /** Runs once every talker pod has started, while they send. */
  readonly during?: () => Promise<void>;
}

/** One talkers' run. */
export interface TalkersResult {
  readonly run: TaprioRun;
  readonly metrics: string | null;
  readonly kernel: string;
}

/** What scenarios after the proxied run get. */
export interface RunContext {
  readonly api: KubeApi;
  readonly runTalkers: (
    run: string,
    strategy: string | null,
    x?: TalkerRunOptions,
  ) => Promise<TalkersResult>;
  readonly talkerNode: string;
  /** The manifest as applied, and its objects. */
  readonly manifest: ManifestOptions;
  readonly objects: readonly unknown[];
  readonly wait: (ms: number) => WaitOptions;
}

/** The e2e's outcome. */
export interface KindReport {
  readonly strategy: string;
  readonly talkerNode: string;
  readonly kernel: string;
  readonly runs: readonly TaprioRun[];
  readonly nodeStates: Readonly<Record<string, NodeState>>;
  /** Failed checks; empty: passed. */
  readonly failures: readonly string[];
}

/** The manifest the e2e applies. */
export function e2eManifestOptions(
  strategy: string,
  image: string = KIND.agentImage,
): ManifestOptions {
  return validateOptions({
    ...DEFAULT_MANIFEST_OPTIONS,
    strategy,
    image,
    tsnInterfaces: [KIND.tsnIf],
    policy: { defaultMaxPriority: 0, namespaces: { [KIND.namespace]: KIND.maxPriority } },
  });
}

const probeTalker = (t: ResolvedTalker) => ({
  name: t.name,
  port: t.port,
  podId: t.podId,
  priority: t.priority,
  protocol: t.protocol,
});

const OPTED_IN_TALKERS = (talkers: readonly ResolvedTalker[]) =>
  talkers.filter((t) => OPTED_IN.includes(t.pod)).map((t) => t.name);

/**
 * What a node must not have after uninstall; with `before` (the node before the install), every
 * CNI config file must also be byte for byte what it was (nothing else changed them here).
 */
export function checkNodeClean(node: string, s: NodeState, before?: NodeState): string[] {
  const out: string[] = [];
  for (const [file, text] of Object.entries(before?.confFiles ?? {})) {
    if (s.confFiles[file] === undefined) out.push(`${node}: ${file} is gone after uninstall`);
    else if (s.confFiles[file] !== text) {
      out.push(`${node}: ${file} differs from the bytes before the install`);
    }
  }
  for (const [file, text] of Object.entries(s.confFiles)) {
    if (text.includes('"tsn-proxy"')) out.push(`${node}: ${file} still names tsn-proxy`);
  }
  if (s.plugin) out.push(`${node}: /opt/cni/bin/tsn-proxy still there`);
  for (const p of s.tcPrograms ?? []) {
    if (p.startsWith("tsn_")) out.push(`${node}: BPF program ${p} still on ${KIND.tsnIf}`);
  }
  if (s.pins) out.push(`${node}: pins left under /sys/fs/bpf/tsn-proxy`);
  return out;
}

/** Runs the scenario on the cluster behind `api`. */
export async function runOnCluster(api: KubeApi, o: RunOptions): Promise<KindReport> {
  const log = o.log ?? (() => {});
  const scale = o.timeoutScale ?? 1;
  const w = (ms: number) => ({
    timeoutMs: ms * scale,
    intervalMs: Math.max(1, 1000 * scale),
    clock: o.clock ?? REAL_CLOCK,
  });
  const ns = KIND.namespace;
  const talkers = kindTalkers();
  const failures: string[] = [];
  const taprio = o.taprio ?? true;

  const nodes = await api.nodes();
  const workers = nodes.filter((n) => !n.controlPlane);
  const talkerNode = (workers[0] ?? nodes[0])?.name;
  if (!talkerNode) throw new Error("the cluster has no node");
  log(`nodes: ${nodes.map((n) => n.name).join(", ")}; talkers on ${talkerNode}`);

  await api.apply({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ns, labels: { "pod-security.kubernetes.io/enforce": "privileged" } },
  });
  for (const n of nodes) await api.apply(probePod(n.name) as KubeObject);
  for (const n of nodes) await waitPodReady(api, ns, probePodName(n.name), w(180_000));
  const probe = async <T>(node: string, path: string): Promise<T> =>
    JSON.parse(await api.proxyGet(ns, probePodName(node), KIND.probePort, path)) as T;
  for (const n of nodes) {
    if (n.name !== talkerNode) {
      await probe(n.name, setupPath({ taprio: false, observer: false, talkers: [] }));
    }
  }

  const runTalkers = async (
    run: string,
    strategy: string | null,
    x: TalkerRunOptions = {},
  ): Promise<TalkersResult> => {
    const t0 = performance.now();
    const these = x.talkers ?? talkers;
    await probe(
      talkerNode,
      setupPath({
        taprio: x.talkers ? false : taprio,
        observer: true,
        talkers: these.map((t) => ({
          ...probeTalker(t),
          ...(x.expectPriority ? { priority: x.expectPriority(t) } : {}),
        })),
      }),
    );
    const pods = these.map((t) =>
      talkerPod(t, run, talkerNode, {
        ...(x.dst ? { dst: x.dst(t) } : {}),
        optedIn: (x.optedIn ?? OPTED_IN_TALKERS(talkers)).includes(t.name),
      })
    );
    for (const p of pods) await api.apply(p as KubeObject);
    const names = these.map((t) => talkerPodName(t, run));
    if (x.during) {
      await waitFor(`talker pods of ${run} running`, async () => {
        const ps = await Promise.all(names.map((n) => api.pod(ns, n)));
        return ps.every((p) => p && p.phase !== "Pending") ? true : undefined;
      }, w(120_000));
      await x.during();
    }
    const done = await waitPodsDone(api, ns, names, w(300_000));
    const sent: Record<string, number> = {};
    for (const [i, t] of these.entries()) {
      const logText = await api.logs(ns, names[i]!);
      if (done[i]!.phase !== "Succeeded") {
        failures.push(`${run} ${t.name}: talker pod ${done[i]!.phase}: ${logText.slice(-500)}`);
        continue;
      }
      const r = parseTalkerLog(logText);
      sent[t.name] = r.sent;
      if (r.errors) failures.push(`${run} ${t.name}: ${r.errors} send errors ${r.detail ?? ""}`);
    }
    const expect = Object.fromEntries(these.map((t) => [String(t.port), sent[t.name] ?? 0]));
    const collected = await probe<CollectResult>(talkerNode, collectPath(expect));
    await probe(talkerNode, "reset");
    for (const p of pods) await api.remove(p as KubeObject);
    return {
      run: taprioRun({
        label: `kind ${run}${strategy ? ` ${strategy}` : ""}`,
        ms: Math.round(performance.now() - t0),
        strategy,
        talkers: these,
        sent,
        collected,
      }),
      metrics: collected.metrics,
      kernel: collected.kernel,
    };
  };

  log("run 1/2: the talkers without tsn-proxy");
  const base = await runTalkers("base", null);

  const statesBefore: Record<string, NodeState> = {};
  for (const n of nodes) statesBefore[n.name] = await probe<NodeState>(n.name, "node-state");
  log(`installing tsn-proxy (${o.strategy}) with the generated manifest`);
  const options = e2eManifestOptions(o.strategy, o.agentImage);
  const objects = manifestObjects(options);
  log(`manifest: ${objects.map((x) => x.kind).join(", ")}`);
  // The probes keep tsn0 on every node, so the agent is ready everywhere once it runs.
  for (const obj of objects) await api.apply(obj as unknown as KubeObject);
  await waitDaemonSetReady(api, options.namespace, NAMES.daemonSet, w(300_000));

  // The positive control of the uninstall check below: the restorer is seen on tsn0 now.
  const installed = await probe<NodeState>(talkerNode, "node-state");
  if (installed.tcPrograms && !installed.tcPrograms.includes("tsn_restorer")) {
    failures.push(`installed, but no tsn_restorer on ${KIND.tsnIf}: ${installed.tcPrograms}`);
  }

  log("run 2/2: the same talkers with tsn-proxy");
  const proxied = await runTalkers("proxy", o.strategy);
  const kernel = proxied.kernel;

  failures.push(
    ...(taprio
      ? judgeTaprio([base.run, proxied.run], talkers[0]!.count, kernel)
      : judgeObserved([base.run, proxied.run], OPTED_IN_TALKERS(talkers))),
  );
  failures.push(
    ...checkAgentMetrics(proxied.metrics, {
      optedIn: talkers.filter((t: ResolvedTalker) => OPTED_IN.includes(t.pod)).length,
      count: talkers[0]!.count,
      strategy: o.strategy,
    }),
  );

  const extra = o.afterProxied
    ? await o.afterProxied({ api, runTalkers, talkerNode, manifest: options, objects, wait: w })
    : { runs: [], failures: [] };
  failures.push(...extra.failures);

  log("uninstalling: deleting every manifest object, as `kubectl delete -f` does");
  for (const obj of objects) await api.remove(obj as unknown as KubeObject);
  const selector = Object.entries({ "app.kubernetes.io/name": LABELS["app.kubernetes.io/name"] })
    .map(([k, v]) => `${k}=${v}`).join(",");
  await waitGone(api, options.namespace, selector, w(180_000));
  const nodeStates: Record<string, NodeState> = {};
  for (const n of nodes) {
    nodeStates[n.name] = await probe<NodeState>(n.name, "node-state");
    failures.push(...checkNodeClean(n.name, nodeStates[n.name]!, statesBefore[n.name]!));
  }
  for (const n of nodes) await probe(n.name, "teardown").catch(() => {});
  await api.remove({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  return {
    strategy: o.strategy,
    talkerNode,
    kernel,
    runs: [base.run, proxied.run, ...extra.runs],
    nodeStates,
    failures,
  };
}
