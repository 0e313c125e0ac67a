/**
 * The kind e2e's scenario, built from the definitions the VM suite's taprio scenario uses
 * (lab/vm/checks.ts: the taprio schedule `TAPRIO`, its class per talker, `TAPRIO_COUNT`, and
 * `checkTaprio`, which judges both) and from sim/scenario.ts (`TalkerSpec`, `resolveTalkers`:
 * names, ports and pod ids the same way the netns e2e resolves them). Pods a (priority 1, FFI
 * txtime sender) and b (priority 2, socat) opt in; pod c (best effort) does not.
 *
 * On each kind node the probe (./probe.ts) plays the simulated node's far side: a 4-queue veth
 * `tsn0` (the node's TSN interface, taprio on it) whose peer is in a netns "ext" holding the
 * receivers, and the sim observer on `tsn0`. The talker pods send to ext's address through the
 * node's routing (kindnet: ptp veths, masquerade), exactly the routed path of the netns e2e.
 *
 * @example
 * ```ts
 * import { kindTalkers } from "./scenario.ts";
 * console.log(kindTalkers().map((t) => `${t.name}:${t.port}`)); // [ "a-prio1:41000", ... ]
 * ```
 *
 * @module
 */
import type { IPod } from "kubernetes-models/v1/Pod";
import { SELF_CONTAINED_RUN } from "@tsn-proxy/release";
import { type ResolvedTalker, resolveTalkers, type TalkerSpec } from "@tsn-proxy/sim/scenario";
import { TAPRIO, TAPRIO_COUNT } from "@tsn-proxy/lab/scenarios";

/** The talkers (vm-taprio's: same pods, priorities, tools, counts, names). */
export const KIND_TALKERS: readonly TalkerSpec[] = [
  { pod: "a", protocol: "udp", tool: "txtime", priority: 1, count: TAPRIO_COUNT, name: "a-prio1" },
  { pod: "b", protocol: "udp", tool: "socat", priority: 2, count: TAPRIO_COUNT, name: "b-prio2" },
  {
    pod: "c",
    protocol: "udp",
    tool: "txtime",
    priority: 0,
    count: TAPRIO_COUNT,
    name: "c-best-effort",
  },
];

/** Pods that carry `tsn-proxy.io/enabled: "true"`. */
export const OPTED_IN: readonly string[] = ["a", "b"];

/** Fixed names and addresses of the kind e2e. */
export const KIND = {
  cluster: "tsn-proxy-e2e",
  /** Namespace of the probes and talkers (its policy allows priority 2). */
  namespace: "tsn-e2e",
  maxPriority: 2,
  /** The TSN interface the probe creates on every node; the manifest's `--tsn-if`. */
  tsnIf: "tsn0",
  extNetns: "tsn-e2e-ext",
  nodeAddr: "192.0.2.1/24",
  extAddr: "192.0.2.2/24",
  farEnd: "192.0.2.2",
  probePort: 9499,
  agentImage: "tsn-proxy/agent:e2e",
  e2eImage: "tsn-proxy/e2e:e2e",
  /** Paths in the e2e image (k8s/kind/Containerfile.e2e). */
  deno: "/opt/tsn-proxy/tsnproxy.d/plugin/tsn-proxy.d/deno",
  probeJs: "/opt/tsn-e2e/lib/probe.js",
  talkerJs: "/opt/tsn-e2e/lib/talker.js",
  /** Where the taprio schedule is (lab/vm/checks.ts), for the probe. */
  taprio: TAPRIO,
} as const;

/** The talkers with their ports and pod ids, resolved as the netns e2e resolves them. */
export function kindTalkers(): ResolvedTalker[] {
  const ids = new Map<string, number>();
  for (const t of KIND_TALKERS) if (!ids.has(t.pod)) ids.set(t.pod, ids.size + 1);
  return resolveTalkers(KIND_TALKERS, ids);
}

/** The talker program's argv (./talker.ts), as the pod runs it. */
export function talkerArgv(t: ResolvedTalker, dst: string = KIND.farEnd): string[] {
  const common = [
    "--dst",
    dst,
    "--port",
    String(t.port),
    "--count",
    String(t.count),
    "--priority",
    String(t.priority),
    "--pod",
    String(t.podId),
  ];
  const run = [KIND.deno, "run", "-A", ...SELF_CONTAINED_RUN, KIND.talkerJs];
  if (t.tool === "socat") return [...run, "socat", "--protocol", t.protocol, ...common];
  return [
    ...run,
    "txtime",
    ...common,
    "--clock",
    t.clock,
    "--interval-us",
    String(t.intervalUs),
    ...(t.aheadUs === undefined ? [] : ["--ahead-us", String(t.aheadUs)]),
  ];
}

const E2E_LABELS = { "app.kubernetes.io/part-of": "tsn-proxy-e2e" } as const;

/** Name of a talker's pod in a run. */
export function talkerPodName(t: ResolvedTalker, run: string): string {
  return `talker-${t.pod}-${run}`;
}

/** A talker pod, pinned to the node under test (default: to the far end, a and b opted in). */
export function talkerPod(
  t: ResolvedTalker,
  run: string,
  node: string,
  o: { dst?: string; optedIn?: boolean } = {},
): IPod {
  const optedIn = o.optedIn ?? OPTED_IN.includes(t.pod);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: talkerPodName(t, run),
      namespace: KIND.namespace,
      labels: { ...E2E_LABELS, "tsn-e2e/role": "talker", "tsn-e2e/run": run },
      annotations: optedIn ? { "tsn-proxy.io/enabled": "true" } : {},
    },
    spec: {
      nodeName: node,
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: "talker",
        image: KIND.e2eImage,
        imagePullPolicy: "Never",
        command: talkerArgv(t, o.dst),
        env: [{ name: "DENO_DIR", value: "/tmp/deno" }],
      }],
    },
  };
}

/** Name of the probe pod of a node. */
export function probePodName(node: string): string {
  return `probe-${node}`.replace(/[^a-z0-9-]/g, "-").slice(0, 63);
}

/** The probe of one node: hostNetwork, privileged (it creates netns, veths, qdiscs, BPF). */
export function probePod(node: string): IPod {
  const ro = (name: string, path: string) => ({
    name,
    mountPath: `/host${path}`,
    readOnly: true,
    mountPropagation: "HostToContainer" as const,
  });
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: probePodName(node),
      namespace: KIND.namespace,
      labels: { ...E2E_LABELS, "tsn-e2e/role": "probe" },
    },
    spec: {
      nodeName: node,
      hostNetwork: true,
      tolerations: [{ operator: "Exists" }],
      restartPolicy: "Never",
      terminationGracePeriodSeconds: 10,
      containers: [{
        name: "probe",
        image: KIND.e2eImage,
        imagePullPolicy: "Never",
        command: [
          KIND.deno,
          "run",
          "-A",
          ...SELF_CONTAINED_RUN,
          KIND.probeJs,
          "--port",
          String(KIND.probePort),
        ],
        env: [{ name: "DENO_DIR", value: "/tmp/deno" }],
        securityContext: { privileged: true },
        readinessProbe: {
          httpGet: { path: "/healthz", port: KIND.probePort },
          periodSeconds: 1,
        },
        volumeMounts: [
          ro("cni-conf", "/etc/cni/net.d"),
          ro("cni-bin", "/opt/cni/bin"),
          ro("bpffs", "/sys/fs/bpf"),
        ],
      }],
      volumes: [
        { name: "cni-conf", hostPath: { path: "/etc/cni/net.d" } },
        { name: "cni-bin", hostPath: { path: "/opt/cni/bin" } },
        { name: "bpffs", hostPath: { path: "/sys/fs/bpf" } },
      ],
    },
  };
}
