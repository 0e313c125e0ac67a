/**
 * The local node's scenarios: the kind e2e's own run (k8s/kind/run.ts `runOnCluster`: probe
 * pods, talkers without and with tsn-proxy, the generated manifest, uninstall with a byte check
 * of the primary's conflist) with the observer's verdict instead of taprio's (the host kernel has
 * none), and the live scenarios of k8s/kind/live.ts in between: Services, the agent deleted and
 * the DaemonSet rolled under traffic, the strategy switched. Then the agent's RBAC as the API
 * server sees it.
 *
 * @module
 */
import { DEFAULT_MANIFEST_OPTIONS } from "../options.ts";
import { CONTAINER, IMAGE, LABELS, METRICS, NAMES } from "../layout.ts";
import { KIND } from "../kind/scenario.ts";
import { clientNodeKube } from "../kind/kube.ts";
import { liveScenarios, OPTED_OUT } from "../kind/live.ts";
import { type KindReport, runOnCluster } from "../kind/run.ts";
import { observed, parseMetrics } from "../kind/results.ts";
import { NODE } from "./node.ts";
import type { LocalNode } from "./node.ts";

/** The agent image as the generated manifest names it, and the tag a rolling update moves to. */
export const AGENT_REFS = {
  current: DEFAULT_MANIFEST_OPTIONS.image,
  next: `${DEFAULT_MANIFEST_OPTIONS.image}-next`,
} as const;

/** Every agent image reference the node must hold (the same content under each). */
export function localImageRefs(): string[] {
  return [AGENT_REFS.current, AGENT_REFS.next];
}

/** Options of {@linkcode runScenarios}. */
export interface ScenarioOptions {
  /** The first is applied; the manifest is re-applied with the second, if any. */
  readonly strategies: readonly string[];
  readonly log: (line: string) => void;
}

/** What the agent's ServiceAccount may do: exactly what k8s/README.md's RBAC table grants. */
export const RBAC_EXPECT: ReadonlyArray<[verb: string, resource: string, allowed: boolean]> = [
  ["get", "pods", true],
  ["list", "pods", false],
  ["watch", "pods", false],
  ["get", "secrets", false],
  ["get", "configmaps", false],
  ["create", "pods", false],
  ["get", "nodes", false],
];

async function canI(node: LocalNode, verb: string, resource: string, ns: string): Promise<string> {
  const sa = `system:serviceaccount:${DEFAULT_MANIFEST_OPTIONS.namespace}:${NAMES.serviceAccount}`;
  const out = await new Deno.Command(node.kubectl[0]!, {
    args: [...node.kubectl.slice(1), "auth", "can-i", verb, resource, "-n", ns, "--as", sa],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Every run, per talker (pod or Service path): restored / wrong / missed as the observer saw. */
export function formatObserved(r: KindReport): string {
  const lines = [`local node e2e, kernel ${r.kernel}`];
  for (const run of r.runs) {
    lines.push(`  ${run.label.replace(/^kind /, "")}`);
    for (const row of run.rows) {
      const opted = run.strategy !== null && !OPTED_OUT.has(row.talker);
      const x = observed(row, opted);
      lines.push(
        `    ${row.talker.padEnd(15)} ${opted ? "opted in " : "not opted"} sent ${row.sent}, ` +
          `packets ${x.packets}: restored ${x.restored}, wrong ${x.wrong}, missed ${x.missed}`,
      );
    }
  }
  return lines.join("\n");
}

async function kubectl(node: LocalNode, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(node.kubectl[0]!, {
    args: [...node.kubectl.slice(1), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/**
 * `tsnproxy status --json` and `tsnproxy doctor` inside the agent pod (as an operator runs them):
 * both exit 0, status says the datapath is up with `strategy`, a restorer attached on tsn0 and
 * the agent ready.
 */
export async function checkAgentPodReports(node: LocalNode, strategy: string): Promise<string[]> {
  const ns = DEFAULT_MANIFEST_OPTIONS.namespace;
  const pod = new TextDecoder().decode(
    (await kubectl(node, [
      "-n",
      ns,
      "get",
      "pods",
      "-l",
      `app.kubernetes.io/name=${LABELS["app.kubernetes.io/name"]}`,
      "-o",
      "jsonpath={.items[0].metadata.name}",
    ])).stdout,
  ).trim();
  if (!pod) return ["no agent pod to ask for status"];
  const inPod = (args: string[]) =>
    kubectl(node, ["-n", ns, "exec", pod, "--", IMAGE.launcher, ...args]);
  const out: string[] = [];
  const status = await inPod(["status", "--json"]);
  const text = new TextDecoder().decode(status.stdout);
  try {
    const s = JSON.parse(text) as {
      up: boolean;
      strategy: string | null;
      restorers: Array<{ ifname: string; attached: boolean }>;
      agent: { state: string } | null;
      problems: string[];
    };
    if (!status.success || !s.up) out.push(`status in ${pod}: not up (${s.problems.join("; ")})`);
    if (s.strategy !== strategy) {
      out.push(`status in ${pod}: strategy ${s.strategy}, not ${strategy}`);
    }
    if (!s.restorers.some((r) => r.ifname === KIND.tsnIf && r.attached)) {
      out.push(`status in ${pod}: no restorer attached on ${KIND.tsnIf}`);
    }
    if (s.agent?.state !== "ready") out.push(`status in ${pod}: agent ${s.agent?.state}`);
  } catch {
    out.push(
      `status in ${pod}: exit ${status.code}, ${text.slice(0, 300)}` +
        new TextDecoder().decode(status.stderr).slice(0, 300),
    );
  }
  const doctor = await inPod(["doctor", "--config", CONTAINER.mergedConfig]);
  if (!doctor.success) {
    out.push(
      `doctor in ${pod}: exit ${doctor.code}\n` +
        new TextDecoder().decode(doctor.stdout).slice(-1500) +
        new TextDecoder().decode(doctor.stderr).slice(-500),
    );
  }
  return out;
}

/**
 * The agent's opt-in lookups against the real API server: none failed. (Containerd 1.6 hands the
 * plugin the pod's annotations, so the agent seldom needs one; the uninstall decision's reads of
 * its namespace and DaemonSet always go through the API, and `kubectl delete -f` only passes when
 * they work with the manifest's RBAC.)
 */
export async function checkLookups(): Promise<{ failures: string[]; line: string }> {
  const res = await fetch(`http://${METRICS.host}:${METRICS.port}/metrics`);
  const m = parseMetrics(await res.text());
  const by = (result: string) => m.value("tsnproxy_optin_lookups_total", { result }) ?? 0;
  const counts = Object.fromEntries(
    ["opted-in", "not-opted-in", "not-found", "error"].map((r) => [r, by(r)]),
  );
  const failures: string[] = [];
  if (counts["error"]! || counts["not-found"]!) {
    failures.push(`opt-in lookups failed: ${JSON.stringify(counts)}`);
  }
  return { failures, line: `agent opt-in lookups through the API: ${JSON.stringify(counts)}` };
}

/** Runs every scenario on the node; resolves with the failures (empty: passed). */
export async function runScenarios(node: LocalNode, o: ScenarioOptions): Promise<string[]> {
  const api = await clientNodeKube(node.kubeconfig);
  const [first, second] = o.strategies;
  const failures: string[] = [];
  const checks: string[] = [];
  const report = await runOnCluster(api, {
    strategy: first!,
    agentImage: AGENT_REFS.current,
    taprio: false,
    log: o.log,
    afterProxied: async (ctx) => {
      for (const [verb, resource, allowed] of RBAC_EXPECT) {
        const got = await canI(node, verb, resource, KIND.namespace);
        if (got !== (allowed ? "yes" : "no")) {
          checks.push(`RBAC: the agent can-i ${verb} ${resource}: ${got}, expected ${allowed}`);
        }
      }
      checks.push(...await checkAgentPodReports(node, first!));
      const live = await liveScenarios(ctx, {
        strategy: first!,
        ...(second ? { switchTo: second } : {}),
        nodeAddress: NODE.ip,
        nextImage: AGENT_REFS.next,
        log: o.log,
      });
      if (second) checks.push(...await checkAgentPodReports(node, second));
      const lookups = await checkLookups();
      o.log(lookups.line);
      checks.push(...lookups.failures);
      return live;
    },
  });
  console.log(formatObserved(report));
  failures.push(...checks, ...report.failures);
  return failures;
}
