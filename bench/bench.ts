/**
 * The benchmark run: for every kernel a runner exists for, BPF_PROG_TEST_RUN costs, a flood-sender
 * calibration, then every datapath (restoration, paired throughput, bpf_stats, occupancy); then
 * target checks and the report.
 *
 * @module
 */
import { repoRoot } from "@tsn-proxy/bpf";
import { join } from "node:path";
import { DEFAULT_STORE, type StoreName, STORES } from "@tsn-proxy/bpf/datapath";
import { kernelTestBlocker } from "@tsn-proxy/sim";
import type { FloodTool } from "@tsn-proxy/sim/flood";
import { toolName } from "@tsn-proxy/sim/flood";
import { HostRunner, type Log } from "./host_runner.ts";
import { type KernelOutcome, type KernelPlan, measureKernel } from "./kernel_run.ts";
import { measureLabKernel } from "./lab_runner.ts";
import type { TaprioPlan } from "./lab/plan.ts";
import { measureNodeCost } from "./node_cost.ts";
import { TAPRIO_TCG_SCALE } from "./taprio.ts";
import { type Datapath, DATAPATHS, type KernelId, TRAFFIC, type Traffic } from "./matrix.ts";
import { writeReport } from "./report.ts";
import { checkTargets } from "./verdicts.ts";
import { RESULTS_SCHEMA } from "./types.ts";
import type { BenchResults } from "./types.ts";

/** Everything a run can be told. */
export interface BenchOptions {
  readonly mode: "quick" | "full";
  readonly kernels: readonly KernelId[];
  readonly datapaths: readonly Datapath[];
  readonly traffic: readonly Traffic[];
  /** Strategy names (`none` is always measured). */
  readonly strategies: readonly string[];
  readonly store: StoreName;
  /** Records per restoration talker. */
  readonly restorationCount: number;
  /** Paired throughput rounds (0: no throughput, no bpf_stats). */
  readonly rounds: number;
  /** Flood length per arm. */
  readonly floodMs: number;
  /** BPF_PROG_TEST_RUN repeat and samples. */
  readonly repeat: number;
  readonly samples: number;
  /**
   * The CPU dimension: possible-CPU counts of extra 6.12 guests that measure only the test-run
   * costs (the regular 6.12 guest gives the 2-CPU point). Empty: not measured.
   */
  readonly cpuCounts: readonly number[];
  /** Sample ADD pairs per pod count for CNI ADD latency (0: the pod dimension is not measured). */
  readonly cniPods: number;
  /** The pod-count dimension: opted-in pods attached on the host's simulated node, ascending. */
  readonly podCounts: readonly number[];
  /** Flood tools to calibrate (the best is used), or one fixed tool. */
  readonly floodTools: readonly FloodTool[];
  /** Calibration flood length (0: use the first tool without calibrating). */
  readonly calibrateMs: number;
  /** What the lab kernels (6.1, 6.12 under TCG) measure: a smaller plan, ratios only. */
  readonly lab: LabOptions;
  /** Where results go. */
  readonly outDir: string;
  /** Progress lines. */
  readonly log: Log;
  /** Stops the run between measurements (what is attached is still removed). */
  readonly signal?: AbortSignal;
}

/**
 * The lab kernels' share of the matrix. TCG emulates every instruction (a topology with its arms
 * takes 20-40 s, a flood round about as much), so the guests run fewer records and rounds; the
 * datapaths, traffic and strategies are the host's unless narrowed here.
 */
export interface LabOptions {
  /** Datapath ids measured in the guests (those also chosen for the host). */
  readonly datapaths: readonly string[];
  readonly restorationCount: number;
  readonly rounds: number;
  readonly floodMs: number;
  readonly floodTool: FloodTool;
  readonly repeat: number;
  readonly samples: number;
  /** taprio in the guests (null: not measured). */
  readonly taprio: TaprioPlan | null;
}

/** The defaults of each mode (the CLI overrides single fields). */
export function defaultOptions(mode: "quick" | "full", outDir: string, log: Log): BenchOptions {
  const cpus = Math.max(1, navigator.hardwareConcurrency || 1);
  const quick = mode === "quick";
  return {
    mode,
    kernels: ["host", "6.1", "6.12"],
    datapaths: DATAPATHS,
    traffic: TRAFFIC,
    strategies: ["skb-addr", "skb-data"],
    store: DEFAULT_STORE,
    restorationCount: quick ? 200 : 1000,
    rounds: quick ? 2 : 7,
    floodMs: quick ? 400 : 1000,
    repeat: quick ? 200_000 : 1_000_000,
    samples: quick ? 3 : 5,
    cpuCounts: quick ? [64] : [8, 32, 64],
    cniPods: quick ? 6 : 40,
    podCounts: quick ? [10, 30] : [10, 250],
    floodTools: [
      { kind: "ffi", procs: cpus },
      { kind: "ffi", procs: 1 },
      { kind: "socat", procs: cpus },
      { kind: "socat", procs: 2 * cpus },
    ],
    calibrateMs: quick ? 300 : 1500,
    lab: {
      datapaths: quick ? ["bridge-nat"] : DATAPATHS.map((d) => d.id),
      restorationCount: quick ? 50 : 200,
      // Under TCG a flood measures the emulator more than the datapath (ratios swing 0.4-2.4
      // between rounds): off unless asked for (--lab-rounds).
      rounds: 0,
      floodMs: 500,
      floodTool: { kind: "ffi", procs: 2 },
      repeat: quick ? 20_000 : 100_000,
      samples: 3,
      // Quick: only the stretched cycle, whose gating TCG can show (the 40 us one is smeared).
      taprio: {
        count: quick ? 50 : 200,
        scales: quick ? [TAPRIO_TCG_SCALE] : [1, TAPRIO_TCG_SCALE],
      },
    },
    outDir,
    log,
  };
}

/** `YYYY-MM-DDTHH-MM-SSZ`: a results folder name. */
export function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}

/** The repository's bench/results directory. */
export function resultsRoot(): string {
  return new URL("./results", import.meta.url).pathname;
}

async function git(): Promise<BenchResults["git"]> {
  try {
    const run = async (args: string[]) =>
      new TextDecoder().decode(
        (await new Deno.Command("git", { args, cwd: repoRoot() })
          .output()).stdout,
      ).trim();
    const commit = await run(["rev-parse", "HEAD"]);
    if (!commit) return null;
    return { commit, dirty: (await run(["status", "--porcelain"])) !== "" };
  } catch {
    return null;
  }
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** The host's plan. */
function hostPlan(opts: BenchOptions): KernelPlan {
  return {
    datapaths: opts.datapaths.map((d) => d.id),
    traffic: opts.traffic.map((t) => t.id),
    strategies: opts.strategies,
    store: opts.store,
    restorationCount: opts.restorationCount,
    rounds: opts.rounds,
    floodMs: opts.floodMs,
    repeat: opts.repeat,
    samples: opts.samples,
    floodTools: opts.floodTools,
    calibrateMs: opts.calibrateMs,
  };
}

/** A lab kernel's plan: the host's choices, narrowed to the lab's datapaths and sizes. */
export function labPlan(opts: BenchOptions): KernelPlan {
  const chosen = opts.datapaths.map((d) => d.id);
  const datapaths = chosen.filter((d) => opts.lab.datapaths.includes(d));
  return {
    ...hostPlan(opts),
    datapaths: datapaths.length ? datapaths : chosen.slice(0, 1),
    restorationCount: Math.min(opts.restorationCount, opts.lab.restorationCount),
    rounds: Math.min(opts.rounds, opts.lab.rounds),
    floodMs: opts.lab.floodMs,
    repeat: Math.min(opts.repeat, opts.lab.repeat),
    samples: Math.min(opts.samples, opts.lab.samples),
    floodTools: [opts.lab.floodTool],
    calibrateMs: 0,
  };
}

/**
 * The CPU dimension: one 6.12 guest per count in opts.cpuCounts, booted with that many possible
 * CPUs, measuring only the test-run costs (no datapaths, no taprio).
 */
async function measureCpuDimension(opts: BenchOptions, res: BenchResults): Promise<void> {
  const plan: KernelPlan = { ...labPlan(opts), datapaths: [], rounds: 0 };
  for (const cpus of opts.cpuCounts) {
    opts.signal?.throwIfAborted();
    try {
      const lab = await measureLabKernel("6.12", plan, null, opts.log, cpus);
      res.cpuDimension.push({ kernel: "6.12", cpus, rows: lab.outcome.progCost });
      opts.log(`kernel 6.12 with ${cpus} possible CPUs: done in ${lab.bootS} s`);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const reason = `failed: ${e instanceof Error ? e.message : String(e)}`.replace(/\n/g, " ");
      res.notMeasured.push({ what: `CPU dimension: 6.12 with ${cpus} possible CPUs`, reason });
    }
  }
}

/** Runs the benchmark and writes the report into `opts.outDir`. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  const blocker = kernelTestBlocker();
  if (blocker) throw new Error(`bench: ${blocker}`);
  if (!(opts.store in STORES)) throw new Error(`unknown store ${opts.store}`);
  const started = new Date();
  const t0 = performance.now();
  const log = opts.log;
  const res: BenchResults = {
    schema: RESULTS_SCHEMA,
    mode: opts.mode,
    startedAt: started.toISOString(),
    finishedAt: "",
    durationS: 0,
    git: await git(),
    host: {
      cpus: navigator.hardwareConcurrency || 1,
      loadavgStart: loadavg(),
      loadavgEnd: "",
      deno: Deno.version.deno,
    },
    params: {
      kernels: opts.kernels,
      ...hostPlan(opts),
      cniPods: opts.cniPods,
      podCounts: opts.podCounts,
      floodTools: opts.floodTools.map(toolName),
      lab: { ...labPlan(opts), taprio: opts.lab.taprio },
    },
    kernels: [],
    calibration: [],
    floodTool: toolName(opts.floodTools[0]!),
    progCost: [],
    cpuDimension: [],
    taprio: [],
    cells: [],
    sentinels: [],
    targets: [],
    nodeCost: null,
    notMeasured: [],
  };
  const add = (o: KernelOutcome) => {
    res.kernels.push({ kernel: o.kernel, capabilities: o.capabilities });
    res.progCost.push({ kernel: o.kernel.id, rows: o.progCost });
    if (o.kernel.runner === "host") {
      res.calibration = o.calibration;
      res.floodTool = o.floodTool;
    }
    res.cells.push(...o.cells);
    res.sentinels.push(...o.sentinels);
  };
  for (const kernel of opts.kernels) {
    opts.signal?.throwIfAborted();
    if (kernel === "host") {
      add(await measureKernel(HostRunner.create(log), hostPlan(opts), log, opts.signal));
      continue;
    }
    try {
      const lab = await measureLabKernel(kernel, labPlan(opts), opts.lab.taprio, log);
      add(lab.outcome);
      if (lab.taprio.length) res.taprio.push({ kernel, measurements: lab.taprio });
      if (lab.taprioError) {
        res.notMeasured.push({ what: `taprio on ${kernel}`, reason: lab.taprioError });
      }
      log(`kernel ${kernel}: done in ${lab.bootS} s`);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const reason = `failed: ${e instanceof Error ? e.message : String(e)}`.replace(/\n/g, " ");
      res.notMeasured.push({ what: `kernel ${kernel} (lab guest)`, reason });
      log(`kernel ${kernel}: ${reason}`);
    }
  }
  if (opts.kernels.includes("6.12")) await measureCpuDimension(opts, res);
  if (opts.kernels.includes("host") && opts.cniPods > 0) {
    opts.signal?.throwIfAborted();
    try {
      res.nodeCost = await measureNodeCost({
        podCounts: opts.podCounts,
        samples: opts.cniPods,
        repeat: Math.min(opts.repeat, 200_000),
        log,
      });
    } catch (e) {
      const reason = `failed: ${e instanceof Error ? e.message : String(e)}`.replace(/\n/g, " ");
      res.notMeasured.push({ what: "CNI ADD latency and agent memory", reason });
      log(`node cost: ${reason}`);
    }
  } else {
    res.notMeasured.push({
      what: "CNI ADD latency and agent memory",
      reason: opts.cniPods > 0 ? "host kernel not in the run" : "--cni-pods 0",
    });
  }
  res.finishedAt = new Date().toISOString();
  res.durationS = Math.round((performance.now() - t0) / 100) / 10;
  res.host.loadavgEnd = loadavg();
  res.targets = checkTargets(res);
  await writeReport(opts.outDir, res);
  return res;
}

/** Replaces bench/results/latest with a copy of `dir`. */
export async function publishLatest(dir: string): Promise<string> {
  const latest = join(resultsRoot(), "latest");
  await Deno.remove(latest, { recursive: true }).catch(() => {});
  await Deno.mkdir(latest, { recursive: true });
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) await Deno.copyFile(join(dir, e.name), join(latest, e.name));
  }
  return latest;
}
