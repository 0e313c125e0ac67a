/**
 * Scenarios on a live install (run by `runOnCluster` after its proxied run, through
 * `afterProxied`; the local node e2e runs them, kind can):
 *
 * - **Services**: a ClusterIP and a NodePort Service without a selector whose EndpointSlice names
 *   the far end behind tsn0; opted-in talkers send UDP and TCP to the Service address, kube-proxy
 *   DNATs them to the far end, the observer after the restorer judges each talker.
 * - **Agent deleted under traffic**: the agent pod is deleted while long talkers send; the pinned
 *   datapath must go on restoring and the new agent adopt it.
 * - **Rolling update under traffic**: the DaemonSet moves to another image tag while they send.
 * - **Strategy switch**: the manifest re-applied with the other strategy; the agents roll, the
 *   entrypoint replaces the datapath; new talker pods (the old ones lost their savers, as
 *   k8s/README.md says) and the Services again, judged with the new strategy.
 *
 * Each run is judged per talker (restored / wrong / missed, k8s/kind/results.ts `judgeObserved`).
 *
 * @module
 */
import { manifestObjects } from "../manifest.ts";
import { LABELS, NAMES } from "../layout.ts";
import { type ManifestOptions, validateOptions } from "../options.ts";
import { type ResolvedTalker, resolveTalkers, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import type { KubeObject } from "./kube.ts";
import { judgeObserved, parseMetrics, type TaprioRun } from "./results.ts";
import type { RunContext } from "./run.ts";
import { KIND, kindTalkers, OPTED_IN } from "./scenario.ts";
import { waitFor } from "./wait.ts";

/** Fixed Service addresses (inside the default service range of kind and the local node). */
const SERVICES = {
  clusterIp: "10.96.200.10",
  /** The NodePort Service's own ClusterIP. */
  nodePortClusterIp: "10.96.200.11",
  /** NodePort talkers' ports: in the default NodePort range, so node port = port = target. */
  nodePortBase: 30510,
} as const;

/** Talkers through the ClusterIP Service: opted in, but c (best effort, never restored). */
const CLUSTERIP_TALKERS: readonly TalkerSpec[] = [
  { pod: "sc-u", protocol: "udp", tool: "txtime", priority: 2, count: 200, name: "clusterip-udp" },
  { pod: "sc-t", protocol: "tcp", tool: "socat", priority: 1, count: 200, name: "clusterip-tcp" },
  { pod: "sc-c", protocol: "udp", tool: "txtime", priority: 0, count: 200, name: "clusterip-c" },
];
/**
 * An opted-in talker straight to the far end asking for more than its namespace may have: the
 * policy's cap for the e2e namespace (KIND.maxPriority) is what must leave tsn0.
 */
const CLAMPED_TALKER: TalkerSpec = {
  pod: "sx",
  protocol: "udp",
  tool: "txtime",
  priority: 5,
  count: 200,
  name: "clamped-5",
};

/** Talkers through the NodePort Service (opted in). */
const NODEPORT_TALKERS: readonly TalkerSpec[] = [
  { pod: "sn-u", protocol: "udp", tool: "socat", priority: 2, count: 200, name: "nodeport-udp" },
  { pod: "sn-t", protocol: "tcp", tool: "socat", priority: 1, count: 200, name: "nodeport-tcp" },
];

/** Long talkers that send while the agent goes away (txtime: 5000 datagrams 2 ms apart). */
const LONG_TALKERS: readonly TalkerSpec[] = [
  {
    pod: "la",
    protocol: "udp",
    tool: "txtime",
    priority: 1,
    count: 5000,
    intervalUs: 2000,
    name: "long-a",
  },
  {
    pod: "lb",
    protocol: "udp",
    tool: "txtime",
    priority: 2,
    count: 5000,
    intervalUs: 2000,
    name: "long-b",
  },
  {
    pod: "lc",
    protocol: "udp",
    tool: "txtime",
    priority: 0,
    count: 5000,
    intervalUs: 2000,
    name: "long-c",
  },
];

/** Talkers that did not opt in (they send best effort; nothing may be restored on them). */
export const OPTED_OUT: ReadonlySet<string> = new Set(["c-best-effort", "clusterip-c", "long-c"]);
const optedIn = (talkers: readonly { name: string }[]) =>
  talkers.map((t) => t.name).filter((n) => !OPTED_OUT.has(n));

let nextPodId = 10;
/** Resolves talkers with pod ids after the kind talkers' (a record names its own pod only). */
function resolve(specs: readonly TalkerSpec[], basePort: number): ResolvedTalker[] {
  const ids = new Map<string, number>();
  for (const t of specs) if (!ids.has(t.pod)) ids.set(t.pod, nextPodId++);
  return resolveTalkers(specs, ids, basePort);
}

/** A selector-less Service whose EndpointSlice names the far end, one port per talker. */
function serviceObjects(
  name: string,
  o: { clusterIp: string; nodePort: boolean; talkers: readonly ResolvedTalker[] },
): KubeObject[] {
  const ports = o.talkers.map((t) => ({
    name: t.name,
    protocol: t.protocol.toUpperCase(),
    port: t.port,
    targetPort: t.port,
    ...(o.nodePort ? { nodePort: t.port } : {}),
  }));
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: KIND.namespace },
      spec: { type: o.nodePort ? "NodePort" : "ClusterIP", clusterIP: o.clusterIp, ports },
    } as KubeObject,
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: `${name}-far-end`,
        namespace: KIND.namespace,
        labels: { "kubernetes.io/service-name": name },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [KIND.farEnd], conditions: { ready: true } }],
      ports: ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port })),
    } as KubeObject,
  ];
}

/** Outcome of the live scenarios. */
export interface LiveResult {
  runs: TaprioRun[];
  failures: string[];
}

/** Options of {@linkcode liveScenarios}. */
export interface LiveOptions {
  /** The strategy the manifest was applied with. */
  readonly strategy: string;
  /** The strategy to re-apply the manifest with at the end (none: no switch). */
  readonly switchTo?: string;
  /** The node address NodePort talkers send to (none: no NodePort Service). */
  readonly nodeAddress?: string;
  /** Another tag of the agent image for the rolling update (none: no update). */
  readonly nextImage?: string;
  readonly log?: (line: string) => void;
}

const AGENT_SELECTOR = `app.kubernetes.io/name=${LABELS["app.kubernetes.io/name"]}`;

/** Waits until the DaemonSet's pods are all new (none of `old`), updated and ready. */
async function waitRolled(ctx: RunContext, old: readonly string[], what: string): Promise<void> {
  const ns = ctx.manifest.namespace;
  await waitFor(what, async () => {
    const ds = await ctx.api.daemonSet(ns, NAMES.daemonSet);
    const pods = await ctx.api.pods(ns, AGENT_SELECTOR);
    const fresh = pods.length > 0 && pods.every((p) => !old.includes(p.name) && p.ready);
    return ds && ds.observedGeneration >= ds.generation && ds.updated === ds.desired &&
        ds.ready === ds.desired && fresh
      ? true
      : undefined;
  }, ctx.wait(180_000));
}

async function applyManifest(ctx: RunContext, options: ManifestOptions): Promise<void> {
  for (const obj of manifestObjects(options)) {
    await ctx.api.apply(obj as unknown as KubeObject);
  }
}

/** Runs the live scenarios on the install of `ctx`. */
export async function liveScenarios(ctx: RunContext, o: LiveOptions): Promise<LiveResult> {
  const log = o.log ?? (() => {});
  const out: LiveResult = { runs: [], failures: [] };
  const ns = ctx.manifest.namespace;
  const record = (
    r: { run: TaprioRun },
    optedInNames: readonly string[],
    lossy: readonly string[] = [],
  ) => {
    out.runs.push(r.run);
    out.failures.push(...judgeObserved([r.run], optedInNames, lossy));
  };

  const services = async (strategy: string) => {
    const cip = resolve([...CLUSTERIP_TALKERS, CLAMPED_TALKER], 42000);
    const clamped = cip.pop()!;
    const np = o.nodeAddress ? resolve(NODEPORT_TALKERS, SERVICES.nodePortBase) : [];
    const objs = [
      ...serviceObjects("tsn-e2e-clusterip", {
        clusterIp: SERVICES.clusterIp,
        nodePort: false,
        talkers: cip,
      }),
      ...(np.length
        ? serviceObjects("tsn-e2e-nodeport", {
          clusterIp: SERVICES.nodePortClusterIp,
          nodePort: true,
          talkers: np,
        })
        : []),
    ];
    for (const x of objs) await ctx.api.apply(x);
    log(`${strategy}: talkers through a ClusterIP${np.length ? " and a NodePort" : ""} Service`);
    const talkers = [...cip, ...np, clamped];
    const r = await ctx.runTalkers(`svc-${strategy}`, strategy, {
      talkers,
      optedIn: optedIn(talkers),
      dst: (t) =>
        t === clamped ? KIND.farEnd : np.includes(t) ? o.nodeAddress! : SERVICES.clusterIp,
      expectPriority: (t) => t === clamped ? KIND.maxPriority : t.priority,
    });
    for (const x of objs) await ctx.api.remove(x);
    // docs/strategies.md: skb-data keys do not survive TCP through MASQUERADE (the bridge's
    // ipMasq here); its TCP rows must show nothing wrong, not a share restored.
    const lossy = strategy === "skb-data"
      ? talkers.filter((t) => t.protocol === "tcp").map((t) => t.name)
      : [];
    record(r, optedIn(talkers), lossy);
    const clampedCount = r.metrics === null
      ? undefined
      : parseMetrics(r.metrics).value("tsnproxy_priority_clamped_packets_total");
    const seen = r.run.rows.find((row) => row.talker === clamped.name)?.packets ?? 0;
    if (clampedCount === undefined || clampedCount < seen) {
      out.failures.push(
        `${strategy}: tsnproxy_priority_clamped_packets_total ${clampedCount}, expected >= ${seen}`,
      );
    }
  };

  const underTraffic = async (label: string, strategy: string, disrupt: () => Promise<void>) => {
    const talkers = resolve(LONG_TALKERS, 43000);
    log(`${strategy}: ${label} while long talkers send`);
    const r = await ctx.runTalkers(label, strategy, {
      talkers,
      optedIn: optedIn(talkers),
      during: disrupt,
    });
    record(r, optedIn(talkers));
  };

  await services(o.strategy);

  await underTraffic("agent-deleted", o.strategy, async () => {
    const old = (await ctx.api.pods(ns, AGENT_SELECTOR)).map((p) => p.name);
    for (const name of old) {
      await ctx.api.remove({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns } });
    }
    await waitRolled(ctx, old, "a new agent pod after the old one was deleted");
  });

  if (o.nextImage) {
    const next = validateOptions({ ...ctx.manifest, image: o.nextImage });
    await underTraffic("rolling-update", o.strategy, async () => {
      const old = (await ctx.api.pods(ns, AGENT_SELECTOR)).map((p) => p.name);
      await applyManifest(ctx, next);
      await waitRolled(ctx, old, `the DaemonSet rolled to ${o.nextImage}`);
    });
  }

  if (o.switchTo) {
    log(`re-applying the manifest with --strategy ${o.switchTo}`);
    const old = (await ctx.api.pods(ns, AGENT_SELECTOR)).map((p) => p.name);
    await applyManifest(ctx, validateOptions({ ...ctx.manifest, strategy: o.switchTo }));
    await waitRolled(ctx, old, `the agents restarted with ${o.switchTo}`);
    // Pods started before the switch lost their savers (k8s/README.md): the runs make new ones.
    const r = await ctx.runTalkers(`switched-${o.switchTo}`, o.switchTo);
    record(r, kindTalkers().filter((t) => OPTED_IN.includes(t.pod)).map((t) => t.name));
    await services(o.switchTo);
  }
  return out;
}
