import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { stdoutSummary, writeReport } from "./report.ts";
import {
  checkTargets,
  realPacketChecks,
  storeBytes,
  storeLossChecks,
  wrongByStrategy,
} from "./verdicts.ts";
import { ppsIntervalTable, renderReport } from "./report_tables.ts";
import { renderPlots } from "./report_plots.ts";
import { REPORT_FILES } from "./report_format.ts";
import { latency, summarize } from "./stats.ts";
import { taprioFixture } from "./testing.ts";
import { checkSvg } from "./svg.ts";
import type { BenchResults, Cell, Restoration } from "./types.ts";
import type { ProgCostRow } from "./progcost.ts";
import { agentMemoryKiB, type PodPoint } from "./node_cost.ts";

function restoration(packets: number, right: number, wrong = 0): Restoration {
  return {
    sent: packets,
    received: packets,
    packets,
    prioRight: right,
    prioZero: packets - right - wrong,
    txtimeRight: null,
    txtimeMissing: null,
    wrong: { priority: wrong, txtime: 0, clockType: 0, invented: 0, total: wrong },
    missed: packets - right - wrong,
    restoredFraction: right / packets,
  };
}

function cell(strategy: string, right: number, ratios: number[] | null, wrong = 0): Cell {
  return {
    kernel: "host",
    datapath: "bridge-nat",
    strategy,
    strategyLabel: strategy,
    store: strategy === "none" ? null : "slots",
    traffic: "udp-prio",
    restoration: restoration(100, right, wrong),
    datapathView: strategy === "none"
      ? null
      : { recordsLeft: 0, recordsMax: 32768, counters: { restored: right, missed: 3 } },
    throughput: {
      unit: "pps",
      samples: [{
        round: 0,
        position: 0,
        rate: 1000,
        sent: 1000,
        far: 1000,
        nic: 1000,
        elapsedMs: 1000,
        cpuPerUnitNs: 6000,
      }],
      rate: summarize([1000]),
      ratios,
      ratio: ratios ? summarize(ratios) : null,
      cpuRatios: ratios,
      cpuRatio: ratios ? summarize(ratios) : null,
      floorRatio: ratios ? null : summarize([0.975]),
      vsFloor: ratios ? summarize(ratios.map((r) => r / 0.975)) : null,
    },
    bpfStats: strategy === "none" ? null : {
      saverNs: 170,
      restorerNs: 172,
      floorPodNs: 60,
      floorNicNs: 61,
      saverNetNs: 110,
      restorerNetNs: 111,
      saverRuns: 1000,
      restorerRuns: 1000,
    },
    occupancy: strategy === "none" ? null : { during: 1, after: 0, capacity: 32768 },
    errors: [],
  };
}

function fixture(): BenchResults {
  const res: BenchResults = {
    schema: 3,
    mode: "quick",
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    durationS: 60,
    git: { commit: "0123456789abcdef", dirty: true },
    host: { cpus: 2, loadavgStart: "0.1 0.1 0.1", loadavgEnd: "1 1 1", deno: "2.9.6" },
    params: { store: "buckets", repeat: 1000, samples: 3, restorationCount: 100, rounds: 1 },
    kernels: [{
      kernel: { id: "host", release: "6.18", runner: "host" },
      capabilities: { tcx: true, fexit: false, fexitReason: "EPERM", bpfStats: true, cpus: 2 },
    }],
    calibration: [{ tool: "ffi sendmmsg x2", pps: 300000, sent: 300000, far: 300000 }],
    floodTool: "ffi sendmmsg x2",
    cpuDimension: [],
    taprio: [],
    progCost: [{
      kernel: "host",
      rows: [
        {
          program: "empty",
          strategy: null,
          store: null,
          packet: "prio",
          nsPerRun: 35,
          nsAboveFloor: null,
          samples: [35],
          repeat: 1000,
          hitRate: null,
          derived: false,
          cpus: 2,
        },
        {
          program: "saver+restorer (hit)",
          strategy: "skb-addr",
          store: "buckets",
          packet: "prio",
          nsPerRun: 190,
          nsAboveFloor: 155,
          samples: [190],
          repeat: 1000,
          hitRate: 1,
          derived: false,
          cpus: 2,
        },
      ],
    }],
    cells: [
      cell("none", 0, null),
      cell("skb-addr", 100, [0.95, 0.99, 0.98]),
      cell("skb-data", 90, [1.0], 2),
    ],
    sentinels: [{
      kernel: "host",
      datapath: "bridge-nat",
      strategy: "skb-addr",
      restoration: restoration(100, 0),
    }],
    targets: [],
    nodeCost: null,
    notMeasured: [{ what: "kernel 6.1 (lab guest)", reason: "no lab runner yet" }],
  };
  res.targets = checkTargets(res);
  return res;
}

Deno.test("checkTargets reports the pair cost, pps ratio, skb-addr restoration and wrong", () => {
  const t = fixture().targets;
  const byName = (s: string) => t.find((x) => x.target.includes(s))!;
  equal(byName("saver + restorer").met, false);
  ok(byName("saver + restorer").measured.includes("190 ns"));
  // Median 0.98, but three rounds 0.95..0.99 leave the interval far wider than 2 %: undecided.
  equal(byName("(skb-addr, UDP floods)").met, false);
  ok(
    byName("(skb-addr, UDP floods)").measured.startsWith(
      "0/1 cells meet it, 0 do not, 1 undecided",
    ),
  );
  ok(
    byName("(skb-addr, UDP floods)").measured.includes(
      "empty programs at the same hooks alone: medians 0.975..0.975 (1/1 >= 0.97)",
    ),
    byName("(skb-addr, UDP floods)").measured,
  );
  equal(byName("100 % restoration for skb-addr").met, true);
  equal(byName("wrong metadata").met, false);
  // A cell whose kernel refused the tracker ran a degraded skb-addr: reported, not scored.
  const res = fixture();
  const degraded = { ...cell("skb-addr", 0, null), strategyLabel: "skb-addr (no tracker)" };
  res.cells.push({ ...degraded, datapath: "bridge-flood" });
  const addr = checkTargets(res).find((x) => x.target.includes("100 % restoration"))!;
  equal(addr.met, true);
  ok(addr.measured.includes("1 cells ran without the tracker"), addr.measured);
  ok(byName("wrong metadata").measured.startsWith("2 wrong"));
});

Deno.test("the pps verdict is the lower end of a 95 % interval narrower than 2 %", () => {
  const verdict = (ratios: number[]) => {
    const res = fixture();
    res.cells = res.cells.map((c) => c.strategy === "skb-addr" ? cell("skb-addr", 100, ratios) : c);
    const t = checkTargets(res).find((x) => x.target.includes("(skb-addr, UDP floods)"))!;
    const row = ppsIntervalTable(res).split("\n").find((l) => l.includes("skb-addr"))!;
    return { met: t.met, measured: t.measured, row };
  };
  const tight = verdict([0.99, 0.991, 0.989, 0.99, 0.992, 0.988]);
  equal(tight.met, true, tight.measured);
  ok(tight.row.endsWith("| met |"), tight.row);
  const below = verdict([0.96, 0.961, 0.959, 0.96, 0.962, 0.958]);
  equal(below.met, false);
  ok(below.row.endsWith("| not met |"), below.row);
  ok(below.measured.startsWith("0/1 cells meet it, 1 do not"), below.measured);
  const wide = verdict([0.99, 0.95, 1.02, 0.97]);
  equal(wide.met, false);
  match(wide.row, /undecided \(~\d+ rounds for 2 %\)/);
});

Deno.test("real-packet targets: saver in every cell, restorer hit and miss by restoration", () => {
  const res = fixture();
  const byName = (t: ReturnType<typeof realPacketChecks>, s: string) =>
    t.find((x) => x.target.startsWith(s));
  let t = realPacketChecks(res);
  equal(byName(t, "saver <= 25 ns")?.met, false, "110 ns above the floor");
  ok(byName(t, "saver <= 25 ns")!.measured.startsWith("0/2 cells meet it; 110..110 ns"));
  equal(byName(t, "restorer, hit <= 30 ns")?.measured, "0/1 cells meet it; 111..111 ns");
  equal(byName(t, "restorer, miss"), undefined, "no cell found no record");
  res.cells.push({ ...cell("skb-data", 0, [1.0]), datapath: "vxlan" });
  for (const c of res.cells) {
    if (c.bpfStats) c.bpfStats = { ...c.bpfStats, saverNetNs: 20, restorerNetNs: 12 };
  }
  t = realPacketChecks(res);
  equal(byName(t, "saver <= 25 ns")?.met, true);
  equal(byName(t, "restorer, hit <= 30 ns")?.met, true);
  equal(byName(t, "restorer, miss <= 15 ns")?.met, true);
});

Deno.test("store loss: displaced or unclaimed records in bucket cells, memory by CPUs", () => {
  const res = fixture();
  equal(storeLossChecks(res).length, 0, "no bucket-store cell");
  res.cells = res.cells.map((c) =>
    c.datapathView ? { ...c, store: "buckets", datapathView: { ...c.datapathView } } : c
  );
  let [t] = storeLossChecks(res);
  equal(t!.met, true);
  ok(t!.measured.startsWith("0 in 2 cells"), t!.measured);
  ok(t!.measured.includes("5.00 MiB at 2, 5.00 MiB at 8"), t!.measured);
  equal(storeBytes(64) - storeBytes(2), 62 * (200 + 24), "per-CPU maps only");
  res.cells[1]!.datapathView!.counters = { saveOverwrote: 2, saveContended: 1 };
  [t] = storeLossChecks(res);
  equal(t!.met, false);
  ok(t!.measured.startsWith("3 in 2 cells"));
});

Deno.test("checkTargets never scores a lab guest's emulated ns or rates", () => {
  const res = fixture();
  const before = checkTargets(res);
  const host = res.progCost[0]!;
  res.kernels.push({
    kernel: { id: "6.1", release: "6.1.0-56-amd64", runner: "lab" },
    capabilities: { tcx: false, fexit: true, fexitReason: null, bpfStats: true, cpus: 2 },
  });
  res.progCost.push({
    kernel: "6.1",
    rows: host.rows.map((r) => ({ ...r, nsPerRun: r.nsPerRun * 20 })),
  });
  const slow = res.cells.filter((c) => c.throughput?.ratio).map((c): Cell => ({
    ...c,
    kernel: "6.1",
    throughput: { ...c.throughput!, ratio: { ...c.throughput!.ratio!, median: 0.3 } },
  }));
  res.cells.push(...slow);
  const after = checkTargets(res);
  deepStrictEqual(
    after.filter((t) => !t.target.startsWith("100 %") && !t.target.startsWith("0 packets")),
    before.filter((t) => !t.target.startsWith("100 %") && !t.target.startsWith("0 packets")),
  );
  // Restoration counts are real packets in the guests too: they are scored.
  const cellsOf = (t: typeof after) =>
    Number(/\/(\d+) cells/.exec(t.find((x) => x.target.startsWith("100 %"))!.measured)![1]);
  const guestAddr = slow.filter((c) => c.strategy === "skb-addr" && c.restoration).length;
  ok(guestAddr > 0);
  equal(cellsOf(after), cellsOf(before) + guestAddr);
});

Deno.test("checkTargets scores the CPU dimension by the ratio to the 2-CPU guest", () => {
  const res = fixture();
  const miss = (ns: number, cpus: number): ProgCostRow => ({
    ...res.progCost[0]!.rows[1]!,
    program: "restorer (miss)",
    nsPerRun: ns,
    cpus,
  });
  const hit = (ns: number, cpus: number): ProgCostRow => ({
    ...res.progCost[0]!.rows[1]!,
    nsPerRun: ns,
    cpus,
  });
  res.progCost.push({ kernel: "6.12", rows: [miss(400, 2), hit(900, 2)] });
  res.cpuDimension.push({ kernel: "6.12", cpus: 64, rows: [miss(440, 64), hit(2000, 64)] });
  const dim = checkTargets(res).filter((t) => t.target.includes("possible CPUs"));
  deepStrictEqual(dim.map((t) => [t.target.split(" at ")[0], t.met]), [
    ["restorer miss", true],
    ["saver + restorer hit", false],
  ]);
  match(dim[1]!.measured, /2000 ns vs 900 ns: 2\.22x/);
});

Deno.test("the taprio section and its picture render per lab kernel and scale", () => {
  const res = fixture();
  const m = taprioFixture();
  res.taprio = [{
    kernel: "6.12",
    measurements: [m, { ...m, cycleScale: 25, cycleNs: 1_000_000 }],
  }];
  const md = renderReport(res);
  ok(md.includes("## taprio: packets per gate (lab kernels)"));
  ok(md.includes("](taprio-6.12-40us.svg)"));
  ok(md.includes("](taprio-6.12-1000us.svg)"));
  const plots = renderPlots(res);
  checkSvg(plots.get("taprio-6.12-40us.svg")!);
  checkSvg(plots.get("taprio-6.12-1000us.svg")!);
  ok(!renderReport(fixture()).includes("## taprio"), "no section without measurements");
});

Deno.test("wrongByStrategy sums cells and sentinels", () => {
  deepStrictEqual(
    [...wrongByStrategy(fixture()).entries()],
    [["none", 0], ["skb-addr", 0], ["skb-data", 2]],
  );
});

Deno.test("report and plots render, and say what is not measured", () => {
  const res = fixture();
  const md = renderReport(res);
  ok(md.includes("| skb-addr |"));
  ok(md.includes("Not measured yet"));
  ok(md.includes("kernel 6.1 (lab guest)"));
  ok(md.includes("Not measured in this run"));
  const point = (pods: number, extra: number[], rssKiB: number): PodPoint => ({
    pods,
    residentAddMs: latency([60, 70]),
    baseAddMs: latency([10, 12, 14]),
    proxyAddMs: latency([60, 70, 80]),
    extraMs: latency(extra),
    pluginMs: latency([45, 50, 55]),
    agentAddMs: 20,
    pairs: [[10, 60], [12, 70], [14, 80]],
    agent: {
      steadyRssKiB: rssKiB,
      steadyAnonKiB: 215_000,
      peakRssKiB: 262_144,
      peakAnonKiB: 220_000,
      hwmKiB: 262_144,
      samples: 20,
      fds: 30,
      heapUsedKiB: 20_480,
      heapTotalKiB: 30_720,
      externalKiB: 1024,
    },
    restorer: { missNs: 40, samples: [40], repeat: 1000 },
  });
  res.nodeCost = {
    kernel: "6.18",
    chain: ["bridge", "tsn-proxy"],
    samplesPerPoint: 3,
    points: [point(10, [40, 45, 49], 256_000), point(250, [50, 58, 66], 307_200)],
    agentReadyMs: 700,
    teardownMs: 3000,
  };
  const withCost = renderReport(res);
  ok(withCost.includes("**58.0 [50.0–66.0], p99 65.8**"), withCost);
  ok(withCost.includes("250.0 MiB / 256.0 MiB / 256.0 MiB"));
  ok(
    withCost.includes(
      "| agent V8 heap: used / total; external buffers (steady) | 20.0 MiB / 30.0 MiB; 1.0 MiB |",
    ),
  );
  const verdicts = checkTargets(res);
  const verdict = (s: string) => verdicts.find((t) => t.target.includes(s))?.met;
  equal(verdict("median, at 10 pods"), true, "+45 ms meets the 50 ms goal");
  equal(verdict("median, at 250 pods"), false, "+58 ms misses it");
  equal(verdict("agent steady VmRSS at 250 pods within 10 %"), false, "1.2x RSS");
  equal(verdict("CNI ADD median (opted-in) at 250 pods within 10 %"), true);
  for (const [name, svg] of renderPlots(res)) {
    ok(name.endsWith(".svg"));
    checkSvg(svg);
  }
  ok(stdoutSummary(res, "/tmp/x").includes("[MISS]"));
});

Deno.test("writeReport writes every file and results.json parses back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const res = fixture();
    await writeReport(dir, res);
    for (const f of Object.values(REPORT_FILES)) await Deno.stat(join(dir, f));
    const back = JSON.parse(await Deno.readTextFile(join(dir, REPORT_FILES.results)));
    deepStrictEqual(back, JSON.parse(JSON.stringify(res)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the targets table says where the reasons are for each target not met", () => {
  const md = renderReport(fixture());
  const row = (s: string) => md.split("\n").find((l) => l.startsWith(`| ${s}`))!;
  ok(row("saver + restorer <=").endsWith("| **no** | docs/performance.md § Per packet |"));
  ok(row("delivered pps").endsWith("| **no** | docs/performance.md § Delivered rate |"));
  // Met: nothing to explain. Unmet without an analysis: said so, not left blank.
  ok(row("100 % restoration").endsWith("| yes |  |"), row("100 % restoration"));
  ok(row("0 packets with wrong").endsWith("| **no** | not analysed yet |"));
});

Deno.test("agentMemoryKiB() reads the agent's memory gauge by kind", () => {
  const scrape = 'tsnproxy_agent_memory_bytes{kind="rss"} 104857600\n' +
    'tsnproxy_agent_memory_bytes{kind="heap_used"} 2048\n';
  equal(agentMemoryKiB(scrape, "rss"), 102_400);
  equal(agentMemoryKiB(scrape, "heap_used"), 2);
  ok(Number.isNaN(agentMemoryKiB(scrape, "external")));
});
