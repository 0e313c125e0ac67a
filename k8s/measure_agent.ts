/**
 * Measures the node agent's memory and CPU the way it runs in the DaemonSet: the built agent
 * (dist, as shipped in the image) with exactly the manifest's capabilities (`setpriv`), in a
 * simulated node (sim fixtures: netns topology, kindnet-style ptp + host-local conflist, the
 * real CNI plugin driven as a runtime does), a stand-in API server for the opt-in lookup (so
 * `@kubernetes/client-node` is loaded as in a cluster), and kubelet's probe rhythm (/readyz every
 * 5 s, /healthz every 10 s) plus a Prometheus scrape every 15 s.
 *
 * Phases: start until ready; idle; pod churn (ADD + DEL per pod, `concurrency` at a time, half
 * of them with annotations passed by the runtime, half looked up in the API); idle again. RSS
 * (VmRSS), peak RSS (VmHWM) and CPU time (utime + stime) are read from /proc.
 *
 * ```sh
 * sudo deno run -A k8s/measure_agent.ts --pods 100 --idle 60 --concurrency 4
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CniRuntime, type NetworkList } from "@tsn-proxy/sim/cni_driver";
import {
  agentHttp,
  type CniNode,
  kindnetConflist,
  prepareNode,
  uninstallAgent,
  waitAgentReady,
} from "@tsn-proxy/sim/cni_fixture";
import { createNetns, deleteNetns, nsCommand } from "@tsn-proxy/sim/netns";
import { type Proc, sleep, spawn } from "@tsn-proxy/sim/process";
import { createTopology } from "@tsn-proxy/sim/topology";
import { startFakeApi } from "./_testnode.ts";
import { AGENT_CAPABILITIES } from "./manifest.ts";

const CLK_TCK = 100;

/** One /proc reading of a process. */
export interface ProcSample {
  /** Resident set, KiB. */
  readonly rssKiB: number;
  /** Peak resident set so far, KiB. */
  readonly hwmKiB: number;
  /** Anonymous resident memory (heap, code space), KiB: what a memory limit must cover. */
  readonly anonKiB: number;
  /** utime + stime, ms. */
  readonly cpuMs: number;
}

/** Parses /proc/PID/status and /proc/PID/stat. */
export function parseProcSample(status: string, stat: string): ProcSample {
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!m) throw new Error(`no ${key} in /proc status`);
    return Number(m[1]);
  };
  // Fields after the command name (which may hold spaces and parentheses): state is field 3.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]), stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error("bad /proc stat");
  return {
    rssKiB: kib("VmRSS"),
    hwmKiB: kib("VmHWM"),
    anonKiB: kib("RssAnon"),
    cpuMs: ((utime + stime) * 1000) / CLK_TCK,
  };
}

function sampleOf(pid: number): ProcSample {
  return parseProcSample(
    Deno.readTextFileSync(`/proc/${pid}/status`),
    Deno.readTextFileSync(`/proc/${pid}/stat`),
  );
}

/** A phase's figures. */
export interface PhaseFigures {
  readonly seconds: number;
  /** CPU used in the phase, ms. */
  readonly cpuMs: number;
  /** Average CPU in millicores. */
  readonly millicores: number;
  /** Highest CPU over any 1 s window, millicores. */
  readonly peakMillicores: number;
  /** RSS at the end, MiB. */
  readonly rssEndMiB: number;
  /** Highest RSS seen in the phase, MiB. */
  readonly rssMaxMiB: number;
  /** Anonymous RSS at the end / highest in the phase, MiB. */
  readonly anonEndMiB: number;
  readonly anonMaxMiB: number;
}

/** The measurement. */
export interface AgentMeasurement {
  readonly kernel: string;
  readonly capabilities: readonly string[];
  readonly startToReadyMs: number;
  readonly start: PhaseFigures;
  readonly idle: PhaseFigures;
  readonly churn: PhaseFigures & {
    readonly pods: number;
    readonly concurrency: number;
    readonly cpuMsPerPod: number;
    /** The tsn-proxy plugin's ADD wall time (runtime view), ms: median and max. */
    readonly addMsMedian: number;
    readonly addMsMax: number;
  };
  readonly idleAfter: PhaseFigures;
  /** VmHWM at the end, MiB: the peak of the whole run. */
  readonly peakRssMiB: number;
}

/** Options of {@link measureAgent}. */
export interface MeasureOptions {
  readonly pods: number;
  readonly idleSeconds: number;
  readonly concurrency: number;
  readonly log?: (msg: string) => void;
}

class Sampler {
  readonly samples: Array<ProcSample & { t: number }> = [];
  #timer: ReturnType<typeof setInterval>;
  constructor(readonly pid: number) {
    this.#take();
    this.#timer = setInterval(() => this.#take(), 250);
  }
  #take() {
    try {
      this.samples.push({ t: performance.now(), ...sampleOf(this.pid) });
    } catch { /* exiting */ }
  }
  mark(): number {
    this.#take();
    return this.samples.length - 1;
  }
  phase(from: number, to: number): PhaseFigures {
    const s = this.samples.slice(from, to + 1);
    const a = s[0]!, b = s.at(-1)!;
    const seconds = (b.t - a.t) / 1000;
    let peak = 0;
    for (let i = 0, j = 0; i < s.length; i++) {
      while (s[i]!.t - s[j]!.t > 1000) j++;
      const dt = s[i]!.t - s[j]!.t;
      if (dt >= 900) peak = Math.max(peak, ((s[i]!.cpuMs - s[j]!.cpuMs) / dt) * 1000);
    }
    const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
    return {
      seconds: Math.round(seconds * 10) / 10,
      cpuMs: Math.round(b.cpuMs - a.cpuMs),
      // CPU ms per wall second = millicores.
      millicores: Math.round(((b.cpuMs - a.cpuMs) / Math.max(seconds, 0.001)) * 10) / 10,
      peakMillicores: Math.round(peak),
      rssEndMiB: mib(b.rssKiB),
      rssMaxMiB: mib(Math.max(...s.map((x) => x.rssKiB))),
      anonEndMiB: mib(b.anonKiB),
      anonMaxMiB: mib(Math.max(...s.map((x) => x.anonKiB))),
    };
  }
  stop() {
    clearInterval(this.#timer);
  }
}

/** Starts the built agent in the node's netns with the manifest's capabilities only. */
export async function startAgentWithCaps(
  node: CniNode,
  caps: readonly string[] = AGENT_CAPABILITIES,
  timeoutMs = 30_000,
): Promise<{ proc: Proc; readyMs: number }> {
  const bset = ["-all", ...caps.map((c) => `+${c.toLowerCase()}`)].join(",");
  const t0 = performance.now();
  const proc = spawn(nsCommand(node.ns, [
    "/usr/bin/setpriv",
    `--bounding-set=${bset}`,
    "--inh-caps=-all",
    "--",
    node.agentLauncher,
    "agent",
    "--config",
    node.configPath,
  ]));
  await waitAgentReady(node, proc, timeoutMs);
  return { proc, readyMs: performance.now() - t0 };
}

/** Runs the whole measurement; cleans up after itself. */
export async function measureAgent(o: MeasureOptions): Promise<AgentMeasurement> {
  const log = o.log ?? (() => {});
  const topo = await createTopology({ kind: "routed-nat", pods: [] });
  let node: CniNode | undefined;
  let api: Proc | undefined;
  let agent: Proc | undefined;
  let sampler: Sampler | undefined;
  const pods: string[] = [];
  try {
    node = await prepareNode(topo, { confFiles: {}, policy: { defaultMaxPriority: 7 } });
    await Deno.writeTextFile(
      join(node.confDir, "10-kindnet.conflist"),
      kindnetConflist(node, { portmap: false }),
    );
    // The stand-in API in the node's netns (the agent reaches 127.0.0.1 there).
    const fake = await startFakeApi(node.ns);
    api = fake.proc;
    const kubeconfig = join(node.dir, "kubeconfig");
    await Deno.writeTextFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "${fake.url}", insecure-skip-tls-verify: true}}]
users: [{name: agent, user: {token: fake}}]
contexts: [{name: fake, context: {cluster: fake, user: agent}}]
current-context: fake
`,
    );
    const cfg = JSON.parse(await Deno.readTextFile(node.configPath));
    cfg.kubernetes = { enabled: true, kubeconfig };
    await Deno.writeTextFile(node.configPath, JSON.stringify(cfg));

    log("starting the agent");
    const started = await startAgentWithCaps(node);
    agent = started.proc;
    const comm = Deno.readTextFileSync(`/proc/${agent.pid}/comm`).trim();
    if (comm !== "deno") throw new Error(`pid ${agent.pid} is ${comm}, not the agent's deno`);
    sampler = new Sampler(agent.pid);
    const nodeRef = node;
    const probes = (() => {
      let n = 0;
      return setInterval(() => {
        n++;
        agentHttp(nodeRef, "/readyz").catch(() => {});
        if (n % 2 === 0) agentHttp(nodeRef, "/healthz").catch(() => {});
        if (n % 3 === 0) agentHttp(nodeRef, "/metrics").catch(() => {});
      }, 5000);
    })();
    const m0 = 0; // the sampler's first sample: the agent just became ready
    const startCpu = sampler.samples[0]!;
    try {
      log(`idle ${o.idleSeconds} s`);
      await sleep(o.idleSeconds * 1000);
      const m1 = sampler.mark();

      log(`churn: ${o.pods} pods, ${o.concurrency} at a time`);
      const rt = new CniRuntime({ ns: topo.node.ns, binDirs: [node.binDir] });
      const list = JSON.parse(
        await Deno.readTextFile(join(node.confDir, "10-kindnet.conflist")),
      ) as NetworkList;
      if (list.plugins.at(-1)?.type !== "tsn-proxy") throw new Error("conf entry not in place");
      const addMs: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < o.pods) {
          const i = next++;
          const ns = await createNetns(`${topo.prefix}-m${i}`, { ipv6: false });
          pods.push(ns.name);
          const rtConf = {
            containerId: `${topo.prefix}m${i}`.padEnd(64, "0"),
            netns: ns.path,
            ifname: "eth0",
            args: { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "cell", K8S_POD_NAME: `p${i}` },
            // Even pods: the runtime passes annotations (containerd, CRI-O); odd: API lookup.
            ...(i % 2 === 0
              ? {
                capabilityArgs: {
                  "io.kubernetes.cri.pod-annotations": { "tsn-proxy.io/enabled": "true" },
                },
              }
              : {}),
          };
          const { result, runs } = await rt.add(list, rtConf);
          addMs.push(runs.at(-1)!.ms);
          await rt.del(list, rtConf, result);
          await deleteNetns(ns);
        }
      };
      await Promise.all(Array.from({ length: o.concurrency }, worker));
      const m2 = sampler.mark();
      const metrics = (await agentHttp(node, "/metrics")).body;
      const adds = Number(
        /tsnproxy_cni_requests_total\{command="ADD",result="ok"\} (\d+)/.exec(
          metrics,
        )?.[1],
      );
      // client-node refuses plain http unless the kubeconfig skips TLS verification (above):
      // count the lookups that got an answer, so a failing client cannot pass for a loaded one.
      const lookups = [...metrics.matchAll(/tsnproxy_optin_lookups_total\{([^}]*)\} (\d+)/g)]
        .map((m) => `${m[1]}: ${m[2]}`).join(", ");
      if (adds !== o.pods) throw new Error(`agent counted ${adds} ADDs, expected ${o.pods}`);
      const answered = Number(
        /tsnproxy_optin_lookups_total\{result="opted-in"\} (\d+)/.exec(metrics)?.[1] ?? 0,
      );
      const odd = Math.floor(o.pods / 2);
      if (answered !== odd) {
        throw new Error(`${answered} API lookups answered, expected ${odd} (${lookups})`);
      }
      log(`churn done: ${adds} ADDs, API lookups ${lookups}`);

      log(`idle ${o.idleSeconds} s`);
      await sleep(o.idleSeconds * 1000);
      const m3 = sampler.mark();
      const churn = sampler.phase(m1, m2);
      const sorted = [...addMs].sort((a, b) => a - b);
      return {
        kernel: Deno.osRelease(),
        capabilities: AGENT_CAPABILITIES,
        startToReadyMs: Math.round(started.readyMs),
        start: {
          seconds: Math.round(started.readyMs / 100) / 10,
          cpuMs: Math.round(startCpu.cpuMs),
          millicores: Math.round(startCpu.cpuMs / (started.readyMs / 1000)),
          peakMillicores: Math.round(startCpu.cpuMs / (started.readyMs / 1000)),
          rssEndMiB: Math.round(startCpu.rssKiB / 102.4) / 10,
          rssMaxMiB: Math.round(startCpu.hwmKiB / 102.4) / 10,
          anonEndMiB: Math.round(startCpu.anonKiB / 102.4) / 10,
          anonMaxMiB: Math.round(startCpu.anonKiB / 102.4) / 10,
        },
        idle: sampler.phase(m0, m1),
        churn: {
          ...churn,
          pods: o.pods,
          concurrency: o.concurrency,
          cpuMsPerPod: Math.round((churn.cpuMs / o.pods) * 10) / 10,
          addMsMedian: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
          addMsMax: Math.round(sorted.at(-1) ?? 0),
        },
        idleAfter: sampler.phase(m2, m3),
        peakRssMiB: Math.round(sampler.samples.at(-1)!.hwmKiB / 102.4) / 10,
      };
    } finally {
      clearInterval(probes);
    }
  } finally {
    sampler?.stop();
    await agent?.stop(5000).catch(() => {});
    if (node) await uninstallAgent(node).catch(() => {});
    await api?.stop().catch(() => {});
    for (const p of pods) await deleteNetns({ name: p, path: `/run/netns/${p}` }).catch(() => {});
    await topo.destroy();
    await node?.cleanup();
  }
}

/** The measurement as a Markdown table (k8s/README.md "Resources"). */
export function formatMeasurement(m: AgentMeasurement): string {
  const row = (name: string, p: PhaseFigures, extra = "") =>
    `| ${name} | ${p.seconds} s | ${p.cpuMs} ms | ${p.millicores} m | ${p.peakMillicores} m | ` +
    `${p.rssEndMiB} MiB | ${p.rssMaxMiB} MiB | ${p.anonEndMiB} MiB | ${p.anonMaxMiB} MiB |${extra}`;
  return [
    `kernel ${m.kernel}, capabilities ${m.capabilities.join(",")}, ready after ` +
    `${m.startToReadyMs} ms, peak RSS (VmHWM) ${m.peakRssMiB} MiB`,
    "",
    "| phase | time | CPU | avg | peak 1 s | RSS end | RSS max | anon end | anon max |",
    "| ----- | ---- | --- | --- | -------- | ------- | ------- | -------- | -------- |",
    row("start → ready", m.start),
    row("idle (probes, scrapes)", m.idle),
    row(`churn: ${m.churn.pods} pods, ${m.churn.concurrency} parallel`, m.churn),
    row("idle after churn", m.idleAfter),
    "",
    `churn: ${m.churn.cpuMsPerPod} ms agent CPU per pod (ADD + DEL); plugin ADD median ` +
    `${m.churn.addMsMedian} ms, max ${m.churn.addMsMax} ms (runtime's view)`,
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      pods: { type: "string", default: "100" },
      idle: { type: "string", default: "60" },
      concurrency: { type: "string", default: "4" },
      json: { type: "boolean" },
    },
  });
  const m = await measureAgent({
    pods: Number(values.pods),
    idleSeconds: Number(values.idle),
    concurrency: Number(values.concurrency),
    log: (s) => console.error(`  ▸ ${s}`),
  });
  console.log(values.json ? JSON.stringify(m, null, 2) : formatMeasurement(m));
}
