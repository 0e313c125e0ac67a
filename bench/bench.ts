/**
 * The benchmark run: for every kernel a runner exists for, BPF_PROG_TEST_RUN costs, a flood-sender
 * calibration, then every datapath (restoration, paired throughput, bpf_stats, occupancy); then
 * target checks and the report.
 *
 * @module
 */
import { join } from "node:path";
import { DEFAULT_STORE, type StoreName, STORES } from "@tsn-proxy/bpf/datapath";
import { kernelTestBlocker } from "@tsn-proxy/e2e";
import type { FloodTool } from "./flood/launch.ts";
import { toolName } from "./flood/launch.ts";
import { HostRunner, type Log } from "./host_runner.ts";
import { measureNodeCost } from "./node_cost.ts";
import { type Datapath, DATAPATHS, type KernelId, TRAFFIC, type Traffic } from "./matrix.ts";
import { checkTargets, writeReport } from "./report.ts";
import { type Runner, RunnerUnavailableError } from "./runner.ts";
import { RESULTS_SCHEMA } from "./types.ts";
import type { BenchResults, CalibrationRow } from "./types.ts";

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
  /** Pods per chain for CNI ADD latency and agent memory on the host (0: not measured). */
  readonly cniPods: number;
  /** Flood tools to calibrate (the best is used), or one fixed tool. */
  readonly floodTools: readonly FloodTool[];
  /** Calibration flood length (0: use the first tool without calibrating). */
  readonly calibrateMs: number;
  /** Where results go. */
  readonly outDir: string;
  /** Progress lines. */
  readonly log: Log;
  /** Stops the run between measurements (what is attached is still removed). */
  readonly signal?: AbortSignal;
}

/** The defaults of each mode (the CLI overrides single fields). */
export function defaultOptions(mode: "quick" | "full", outDir: string, log: Log): BenchOptions {
  const cpus = Math.max(1, navigator.hardwareConcurrency || 1);
  const quick = mode === "quick";
  return {
    mode,
    kernels: ["host"],
    datapaths: DATAPATHS,
    traffic: TRAFFIC,
    strategies: ["skb-addr", "skb-data"],
    store: DEFAULT_STORE,
    restorationCount: quick ? 200 : 1000,
    rounds: quick ? 2 : 7,
    floodMs: quick ? 400 : 1000,
    repeat: quick ? 200_000 : 1_000_000,
    samples: quick ? 3 : 5,
    cniPods: quick ? 5 : 15,
    floodTools: [
      { kind: "ffi", procs: cpus },
      { kind: "ffi", procs: 1 },
      { kind: "socat", procs: cpus },
      { kind: "socat", procs: 2 * cpus },
    ],
    calibrateMs: quick ? 300 : 1500,
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
        (await new Deno.Command("git", { args, cwd: new URL("..", import.meta.url).pathname })
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

async function createRunner(kernel: KernelId, log: Log): Promise<Runner> {
  if (kernel === "host") return await HostRunner.create(log);
  throw new RunnerUnavailableError(kernel);
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
      datapaths: opts.datapaths.map((d) => d.id),
      traffic: opts.traffic.map((t) => t.id),
      strategies: opts.strategies,
      store: opts.store,
      restorationCount: opts.restorationCount,
      rounds: opts.rounds,
      floodMs: opts.floodMs,
      repeat: opts.repeat,
      samples: opts.samples,
      calibrateMs: opts.calibrateMs,
      cniPods: opts.cniPods,
      floodTools: opts.floodTools.map(toolName),
    },
    kernels: [],
    calibration: [],
    floodTool: toolName(opts.floodTools[0]!),
    progCost: [],
    cells: [],
    sentinels: [],
    targets: [],
    nodeCost: null,
    notMeasured: [],
  };
  let tool = opts.floodTools[0]!;
  let calibrated = false;
  for (const kernel of opts.kernels) {
    let runner: Runner;
    try {
      runner = await createRunner(kernel, log);
    } catch (e) {
      if (!(e instanceof RunnerUnavailableError)) throw e;
      res.notMeasured.push({
        what: `kernel ${kernel} (lab guest)`,
        reason: e.message.replace(/\n/g, " "),
      });
      log(`kernel ${kernel}: skipped (lab runner not wired yet)`);
      continue;
    }
    try {
      const caps = await runner.capabilities();
      res.kernels.push({ kernel: runner.kernel, capabilities: caps });
      log(`kernel ${runner.kernel.id} ${runner.kernel.release}: ${JSON.stringify(caps)}`);
      res.progCost.push({
        kernel: runner.kernel.id,
        rows: await runner.progCost({
          strategies: opts.strategies,
          repeat: opts.repeat,
          samples: opts.samples,
        }),
      });
      if (opts.rounds > 0 && !calibrated && opts.calibrateMs > 0 && opts.floodTools.length > 1) {
        const rows: CalibrationRow[] = await runner.calibrate(
          opts.datapaths[0]!,
          opts.floodTools,
          opts.calibrateMs,
        );
        res.calibration = rows;
        const best = rows.reduce((a, b) => (b.pps > a.pps ? b : a), rows[0]!);
        tool = opts.floodTools.find((t) => toolName(t) === best.tool) ?? tool;
        // socat cannot carry a txtime nor speak TCP: the FFI sender floods those.
        if (tool.kind !== "ffi") {
          const ffi = opts.floodTools.filter((t) => t.kind === "ffi");
          const bestFfi = rows.filter((r) => ffi.some((t) => toolName(t) === r.tool))
            .reduce((a, b) => (b.pps > a.pps ? b : a));
          tool = ffi.find((t) => toolName(t) === bestFfi.tool) ?? tool;
          log(`calibration: ${best.tool} floods best, but the matrix needs txtime and TCP`);
        }
        calibrated = true;
      }
      res.floodTool = toolName(tool);
      for (const dp of opts.datapaths) {
        opts.signal?.throwIfAborted();
        const t1 = performance.now();
        log(`[${dp.id}] start`);
        const out = await runner.runDatapath({
          datapath: dp,
          strategies: opts.strategies,
          store: opts.store,
          traffic: opts.traffic,
          restorationCount: opts.restorationCount,
          throughput: opts.rounds > 0
            ? { rounds: opts.rounds, durationMs: opts.floodMs, tool, statsArm: true }
            : null,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        res.cells.push(...out.cells);
        res.sentinels.push(...out.sentinels);
        log(`[${dp.id}] done in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      }
    } finally {
      await runner.close();
    }
  }
  if (opts.kernels.includes("host") && opts.cniPods > 0) {
    opts.signal?.throwIfAborted();
    try {
      res.nodeCost = await measureNodeCost({ pods: opts.cniPods, log });
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
