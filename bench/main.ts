/**
 * `deno task bench [--quick] [options]`: the tsn-proxy benchmark (run as root). Writes
 * `bench/results/<date>/{report.md,results.json,*.svg}`, copies a full run to
 * `bench/results/latest/` (the report docs/strategies.md embeds; a --quick run never replaces it),
 * and prints a summary.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { type StoreName, STORES } from "@tsn-proxy/bpf/datapath";
import { strategyNames } from "@tsn-proxy/strategies";
import {
  type BenchOptions,
  defaultOptions,
  publishLatest,
  resultsRoot,
  runBench,
  stamp,
} from "./bench.ts";
import type { FloodTool } from "@tsn-proxy/sim/flood";
import { MAX_PODS } from "./node_cost.ts";
import { KERNEL_IDS, type KernelId, pickDatapaths, pickTraffic } from "./matrix.ts";
import { stdoutSummary } from "./report.ts";

/** Usage text. */
export const USAGE = `usage: deno task bench [--quick] [options]   (as root)

  --quick                 smoke run (< 5 min): fewer rounds, shorter floods, fewer repeats
  --out DIR               write here (default bench/results/<date>); with --out, latest/ is untouched
  --no-latest             do not copy a full run to bench/results/latest (--quick never does)
  --kernel K              host, 6.1, 6.12 (repeatable; default all three). 6.1 and 6.12 boot
                          lab guests under QEMU and run the lab's share of the matrix + taprio
  --datapath D            bridge-nat, routed-nat, vxlan, and each with +taps, bridge-flood,
                          routed-netkit-l3, routed-netkit-l2 (netkit pods: kernels with netkit)
                          (repeatable)
  --traffic T             udp-prio, udp-tai, tcp-prio (repeatable)
  --strategy S            ${strategyNames().join(", ")} (repeatable; none is always measured)
  --store S               record store: ${Object.keys(STORES).join(", ")}
  --rounds N              paired throughput rounds (0 = restoration and BPF_PROG_TEST_RUN only)
  --lab-rounds N          the same in the lab guests (default 0: TCG floods measure the emulator)
  --flood-ms N            flood length per arm
  --count N               records per restoration talker
  --repeat N              BPF_PROG_TEST_RUN repeat
  --samples N             BPF_PROG_TEST_RUN samples
  --cni-pods N            sample ADDs per chain and pod count for CNI ADD latency (0 = skip
                          the pod dimension)
  --pod-counts A,B,...    opted-in pods attached on the simulated node, ascending (pod dimension)
  --tool ffi|socat        flood with this tool, no calibration
  --procs N               flood processes (with --tool)
  -h, --help`;

function podCounts(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const counts = v.split(",").map((x) => int("pod-counts", x.trim(), 1, MAX_PODS)!);
  if (counts.some((c, i) => i > 0 && c <= counts[i - 1]!)) {
    throw new Error(`--pod-counts must ascend: ${v}`);
  }
  return counts;
}

function int(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new Error(`bad --${name} ${v}`);
  return n;
}

/** Parses the command line into options and where the run goes. */
export function parseBenchArgs(
  argv: readonly string[],
  now = new Date(),
  log: BenchOptions["log"] = () => {},
): { opts: BenchOptions; latest: boolean } | "help" {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      quick: { type: "boolean", default: false },
      out: { type: "string" },
      "no-latest": { type: "boolean", default: false },
      kernel: { type: "string", multiple: true },
      datapath: { type: "string", multiple: true },
      traffic: { type: "string", multiple: true },
      strategy: { type: "string", multiple: true },
      store: { type: "string" },
      rounds: { type: "string" },
      "lab-rounds": { type: "string" },
      "flood-ms": { type: "string" },
      count: { type: "string" },
      repeat: { type: "string" },
      samples: { type: "string" },
      "cni-pods": { type: "string" },
      "pod-counts": { type: "string" },
      tool: { type: "string" },
      procs: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (positionals.length) throw new Error(`unexpected argument ${positionals[0]}`);
  const mode = values.quick ? "quick" : "full";
  const outDir = values.out ?? join(resultsRoot(), stamp(now));
  const d = defaultOptions(mode, outDir, log);
  const kernels = (values.kernel ?? d.kernels).map((k) => {
    if (!KERNEL_IDS.includes(k as KernelId)) throw new Error(`unknown kernel ${k}`);
    return k as KernelId;
  });
  const strategies = values.strategy ?? d.strategies;
  for (const s of strategies) {
    if (!strategyNames().includes(s)) throw new Error(`unknown strategy ${s}`);
  }
  const store = values.store ?? d.store;
  if (!(store in STORES)) throw new Error(`unknown store ${store}`);
  let floodTools = d.floodTools;
  let calibrateMs = d.calibrateMs;
  if (values.tool !== undefined) {
    if (values.tool !== "ffi" && values.tool !== "socat") {
      throw new Error(`bad --tool ${values.tool}`);
    }
    const tool: FloodTool = {
      kind: values.tool,
      procs: int("procs", values.procs, 1, 64) ?? d.floodTools[0]!.procs,
    };
    floodTools = [tool];
    calibrateMs = 0;
  }
  const opts: BenchOptions = {
    ...d,
    kernels,
    datapaths: pickDatapaths(values.datapath),
    traffic: pickTraffic(values.traffic),
    strategies,
    store: store as StoreName,
    rounds: int("rounds", values.rounds, 0, 1000) ?? d.rounds,
    lab: { ...d.lab, rounds: int("lab-rounds", values["lab-rounds"], 0, 100) ?? d.lab.rounds },
    floodMs: int("flood-ms", values["flood-ms"], 50, 60_000) ?? d.floodMs,
    restorationCount: int("count", values.count, 1, 10_000) ?? d.restorationCount,
    repeat: int("repeat", values.repeat, 1, 100_000_000) ?? d.repeat,
    samples: int("samples", values.samples, 1, 100) ?? d.samples,
    cniPods: int("cni-pods", values["cni-pods"], 0, 500) ?? d.cniPods,
    podCounts: podCounts(values["pod-counts"]) ?? d.podCounts,
    floodTools,
    calibrateMs,
  };
  // A quick run never replaces the committed full report that docs/strategies.md embeds.
  return { opts, latest: values.out === undefined && !values["no-latest"] && mode === "full" };
}

if (import.meta.main) {
  const log = (line: string) =>
    console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  let parsed;
  try {
    parsed = parseBenchArgs(Deno.args, new Date(), log);
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (parsed === "help") {
    console.log(USAGE);
    Deno.exit(0);
  }
  // Ctrl-C: stop after the current measurement and tear down; a second one exits at once.
  const stop = new AbortController();
  const onInterrupt = () => {
    if (stop.signal.aborted) Deno.exit(130);
    log("interrupted: cleaning up (Ctrl-C again to exit at once)");
    stop.abort(new Error("interrupted"));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  let res;
  try {
    res = await runBench({ ...parsed.opts, signal: stop.signal });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    Deno.exit(stop.signal.aborted ? 130 : 1);
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  let where = parsed.opts.outDir;
  if (parsed.latest) where += ` (and ${await publishLatest(parsed.opts.outDir)})`;
  console.log(stdoutSummary(res, where));
}
