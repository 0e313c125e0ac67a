/**
 * The benchmark as a smoke test (root): `--quick` on the whole matrix of the host kernel and the
 * lab's share of it in the 6.1 and 6.12 guests must give every cell data, no wrong metadata for any
 * strategy, and a report whose files exist and parse.
 * No timing thresholds: the numbers are the benchmark's business, not the test's. Also checks the
 * bpf_stats decoding against bpftool. CNI ADD latency and the agent's memory must be there and positive.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { BpfObject } from "@tsn-proxy/bpf/libbpf";
import { BIN, denoRunArgv, exec, requireKernelTests } from "@tsn-proxy/sim";
import { BENCH_OBJECTS } from "./bpf/objects.ts";
import { skbCtx, udpFrame } from "./frames.ts";
import { datapathsOn } from "./kernel_run.ts";
import { DATAPATHS, NONE, pickDatapaths, TRAFFIC, trafficOn } from "./matrix.ts";
import { runStatsOfFd, StatsSession } from "./progstats.ts";
import { REPORT_FILES, taprioSvgName } from "./report_format.ts";
import { wrongByStrategy } from "./verdicts.ts";
import { checkSvg } from "./svg.ts";
import type { BenchResults } from "./types.ts";

requireKernelTests();

Deno.test("bpf_stats run_cnt/run_time_ns decode like bpftool's", async () => {
  using obj = BpfObject.open(BENCH_OBJECTS.empty);
  obj.load();
  const prog = obj.program("bench_empty");
  using _stats = StatsSession.enable();
  const before = runStatsOfFd(prog.fd);
  prog.testRun({ data: udpFrame(64), ctx: skbCtx(5), repeat: 1000 });
  const after = runStatsOfFd(prog.fd);
  equal(after.runCnt - before.runCnt, 1000n);
  ok(after.runTimeNs > before.runTimeNs);
  const shown = JSON.parse(
    (await exec([BIN.bpftool, "-j", "prog", "show", "id", String(after.id)])).stdout,
  ) as { run_cnt?: number; run_time_ns?: number };
  deepStrictEqual(
    { cnt: BigInt(shown.run_cnt ?? -1), ns: BigInt(shown.run_time_ns ?? -1) },
    { cnt: after.runCnt, ns: after.runTimeNs },
  );
});

Deno.test({
  name: "deno task bench --quick: every cell measured, nothing wrong, report parses",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "tsn-bench-quick-" });
    try {
      const main = new URL("./main.ts", import.meta.url).pathname;
      const [deno, ...args] = denoRunArgv(main, "--quick", "--out", out) as [string, ...string[]];
      const run = await new Deno.Command(deno, {
        args,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      equal(run.code, 0, `bench --quick failed:\n${text(run.stderr)}\n${text(run.stdout)}`);

      const res = JSON.parse(
        await Deno.readTextFile(join(out, REPORT_FILES.results)),
      ) as BenchResults;
      equal(res.mode, "quick");
      const arms = [NONE, ...(res.params["strategies"] as string[])];
      // Every kernel measured: the host and both lab guests (a failed boot is a failure here).
      deepStrictEqual(
        res.kernels.map((k) => k.kernel.id),
        ["host", "6.1", "6.12"],
        `kernels measured; not measured: ${JSON.stringify(res.notMeasured)}`,
      );
      const lab = (res.params["lab"] as { datapaths: string[] }).datapaths;
      // Per kernel: every datapath's traffic (bridge-flood has no TCP) x its arms (where fexit
      // loads, skb-addr also runs without its tracker).
      let cells = 0, sentinels = 0;
      for (const k of res.kernels) {
        // netkit rows only where the kernel could create a netkit pair (not the host's 6.18).
        const dps = datapathsOn(
          k.kernel.runner === "host" ? DATAPATHS : pickDatapaths(lab),
          k.capabilities,
        ).measured;
        const nArms = arms.length + (k.capabilities.fexit ? 1 : 0);
        for (const dp of dps) cells += trafficOn(dp, TRAFFIC).length * nArms;
        sentinels += dps.length * nArms;
      }
      equal(res.cells.length, cells);
      ok(
        res.cells.some((c) => c.datapath === "bridge-flood" && c.restoration!.packets > 0),
        "the clone-heavy path was measured",
      );
      ok(res.cells.some((c) => c.strategy === "skb-addr/no-tracker"), "no untracked arm");
      for (const c of res.cells) {
        const where = `${c.kernel}/${c.datapath}/${c.strategy}/${c.traffic}`;
        deepStrictEqual(c.errors, [], `${where}: errors`);
        ok(c.restoration && c.restoration.packets > 0, `${where}: no restoration data`);
        if (c.strategy !== NONE) ok(c.datapathView, `${where}: no datapath counters`);
        // The quick run floods on the host only (TCG floods take minutes).
        if (c.kernel !== "host") continue;
        ok(c.throughput && c.throughput.samples.length > 0, `${where}: no throughput data`);
        ok(c.throughput.samples.every((s) => s.far > 0), `${where}: nothing arrived`);
        if (c.strategy === NONE) ok(c.throughput.floorRatio, `${where}: no empty-program arm`);
        if (c.strategy !== NONE) {
          ok(c.throughput.ratio && c.throughput.vsFloor, `${where}: no ratio`);
          ok(c.bpfStats && c.bpfStats.saverRuns > 0 && c.bpfStats.restorerRuns > 0, where);
          ok(c.occupancy, `${where}: no occupancy`);
        }
      }
      // The fexit tracker loads in both guests (the host kernel here refuses it).
      for (const k of res.kernels.filter((x) => x.kernel.runner === "lab")) {
        ok(k.capabilities.fexit, `${k.kernel.id}: fexit refused (${k.capabilities.fexitReason})`);
      }
      // The pod dimension: every pod count measured, figures positive (no thresholds).
      const n = res.nodeCost;
      ok(n, `no node cost: ${JSON.stringify(res.notMeasured)}`);
      deepStrictEqual(n.points.map((p) => p.pods), [10, 30]);
      for (const p of n.points) {
        equal(p.pairs.length, n.samplesPerPoint);
        equal(p.residentAddMs.n, p.pods === 10 ? 10 : 20, "resident pods added");
        ok(p.pairs.every(([a, b]) => a > 0 && b > 0), "ADD times");
        ok(p.baseAddMs.median > 0 && p.proxyAddMs.median > 0 && p.pluginMs.median > 0);
        ok(p.agentAddMs > 0 && p.agentAddMs < p.pluginMs.max, "agent's share of the plugin");
        ok(Number.isFinite(p.extraMs.median) && p.proxyAddMs.p99 >= p.proxyAddMs.median);
        const a = p.agent;
        ok(a.steadyRssKiB > 0 && a.steadyAnonKiB > 0 && a.peakRssKiB > 0 && a.peakAnonKiB > 0);
        ok(a.hwmKiB >= a.peakRssKiB, "VmHWM below a sampled VmRSS");
        ok(a.heapUsedKiB! > 0 && a.heapUsedKiB! <= a.heapTotalKiB!, "the agent's V8 heap");
        ok(p.restorer.missNs > 0, "restorer test run");
      }
      ok(res.targets.some((t) => t.target.includes("at 30 pods within 10 %")), "no pod verdict");
      equal(res.sentinels.length, sentinels);
      for (const [strategy, wrong] of wrongByStrategy(res)) {
        equal(wrong, 0, `${strategy}: packets with wrong metadata`);
      }
      equal(res.progCost.length, 3, "BPF_PROG_TEST_RUN per kernel");
      // Derived rows are differences of medians: on a noisy machine they may come out <= 0.
      for (const p of res.progCost) {
        ok(p.rows.length > 0 && p.rows.every((r) => r.derived || r.nsPerRun > 0), `${p.kernel}`);
        ok(p.rows.some((r) => r.program === "origin check (conntrack)"), `${p.kernel}: origin`);
        // The restorer as its own program finds the record its own-program saver left (unless
        // the process moved CPU between the two runs: the sk_buff then comes from another slab).
        const own = p.rows.filter((r) => r.program === "restorer (hit, own program)");
        ok(own.length > 0 && own.every((r) => r.hitRate! >= 0.9), `${p.kernel}: own-program hits`);
      }
      // The CPU dimension: a 6.12 guest with 64 possible CPUs, scored against the 2-CPU guest.
      deepStrictEqual(res.cpuDimension.map((d) => [d.kernel, d.cpus]), [["6.12", 64]]);
      ok(res.cpuDimension[0]!.rows.every((r) => r.cpus === 64), "the guest saw 64 possible CPUs");
      ok(res.targets.some((t) => t.target.includes("at 64 possible CPUs")), "no CPU verdict");
      for (const f of Object.values(REPORT_FILES)) {
        const body = await Deno.readTextFile(join(out, f));
        ok(body.length > 0, `${f} is empty`);
        if (f.endsWith(".svg")) checkSvg(body);
      }
      ok((await Deno.readTextFile(join(out, REPORT_FILES.report))).startsWith("# tsn-proxy"));
      // taprio in both guests: every arm ran, its classes and gate histogram have packets.
      deepStrictEqual(res.taprio.map((t) => t.kernel), ["6.1", "6.12"]);
      for (const { kernel, measurements } of res.taprio) {
        ok(measurements.length > 0, `${kernel}: no taprio measurement`);
        for (const m of measurements) {
          for (const a of m.arms) {
            const where = `taprio ${kernel} x${m.cycleScale} ${a.label}`;
            equal(a.error, undefined, where);
            ok(Object.values(a.classes).reduce((x, y) => x + y, 0) > 0, `${where}: classes`);
            ok(a.histogram.some((r) => r.bins.some((b) => b > 0)), `${where}: histogram`);
          }
          checkSvg(await Deno.readTextFile(join(out, taprioSvgName(kernel, m))));
        }
      }
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
