/**
 * The Markdown of a run's report: the summary, restoration, performance, program-cost, node-cost
 * and taprio tables, and report.md as a whole. Pure.
 *
 * @module
 */
import { NONE } from "./matrix.ts";
import type { ProgCostRow } from "./progcost.ts";
import { type Latency, round, type Summary } from "./stats.ts";
import type { PodPoint } from "./node_cost.ts";
import { TAPRIO_TCG_SCALE } from "./taprio.ts";
import { taprioMarkdown } from "./taprio_report.ts";
import type { BenchResults, Cell } from "./types.ts";
import { num, pct, REPORT_FILES, taprioSvgName } from "./report_format.ts";
import { cpuMedian, cpuPoints, ppsVerdict, ratioCi, strategyCells, TARGETS } from "./verdicts.ts";

/** The CPU dimension's table (nothing when it was not measured). */
function cpuSection(res: BenchResults): string[] {
  const points = cpuPoints(res);
  if (![...points.values()].some((p) => p.length > 1)) return [];
  const lines = [
    "### CPU dimension",
    "",
    "skb-addr in Debian's 6.12 under QEMU/TCG, booted with N possible CPUs (2 running): per-CPU " +
    "maps and any loop over CPUs see N. Emulated ns: only the ratio to the 2-CPU guest counts.",
    "",
    "| store | possible CPUs | restorer miss ns | saver+restorer hit ns | miss / 2-CPU | hit / 2-CPU |",
    "|" + " --- |".repeat(6),
  ];
  for (const [store, list] of points) {
    const base = list[0]!;
    for (const p of list) {
      lines.push(
        `| ${store} | ${p.cpus} | ${p.miss} | ${p.hit} | ${round(p.miss / base.miss, 2)} | ` +
          `${round(p.hit / base.hit, 2)} |`,
      );
    }
  }
  return [...lines, ""];
}

/** Delivered rate vs none: the paired ratio's 95 % interval and verdict, one row per UDP cell. */
export function ppsIntervalTable(res: BenchResults): string {
  const cells = strategyCells(res).filter((c) => c.throughput?.unit === "pps" && ratioCi(c));
  if (!cells.length) return "No UDP flood rounds in this run.";
  const lines = [
    "| kernel | datapath | traffic | strategy | rounds | ratio (geometric mean) | 95 % CI | " +
    "width | verdict |",
    "|" + " --- |".repeat(9),
  ];
  for (const c of cells) {
    const ci = ratioCi(c)!;
    const v = ppsVerdict(ci);
    lines.push(
      `| ${c.kernel} | ${c.datapath} | ${c.traffic} | ${c.strategyLabel} | ${ci.n} | ` +
        `${num(ci.mean, 3)} | ${num(ci.lower, 3)}–${num(ci.upper, 3)} | ` +
        `${num(ci.width * 100, 1)} % | ${
          v === "undecided" ? `undecided (~${num(ci.roundsForTarget)} rounds for 2 %)` : v
        } |`,
    );
  }
  return lines.join("\n");
}

function ratioText(c: Cell): string {
  const r = c.throughput?.ratio;
  if (!r) return "n/a";
  return `${num(r.median, 3)} [${num(r.min, 3)}–${num(r.max, 3)}]`;
}

function cpuRatioText(c: Cell): string {
  const r = c.throughput?.cpuRatio;
  if (!r) return "n/a";
  return `${num(r.median, 3)} [${num(r.min, 3)}–${num(r.max, 3)}]`;
}

function rateText(c: Cell): string {
  const t = c.throughput;
  if (!t) return "n/a";
  return t.unit === "pps"
    ? `${num(t.rate.median / 1000, 1)} kpps`
    : `${num(t.rate.median / 1e6, 1)} MB/s`;
}

/** The summary table: one row per strategy cell (stdout and the top of the report). */
export function summaryTable(res: BenchResults): string {
  const head =
    "| kernel | datapath | traffic | strategy | prio restored | txtime right | wrong | " +
    "missed | records left | delivered vs none (median [min–max]) | sender CPU none/arm | " +
    "saver / restorer ns (bpf_stats − floor) |";
  const lines = [head, "|" + " --- |".repeat(12)];
  for (const c of strategyCells(res)) {
    const r = c.restoration;
    lines.push(
      `| ${c.kernel} | ${c.datapath} | ${c.traffic} | ${c.strategyLabel} | ` +
        `${r ? `${pct(r.prioRight, r.packets)} (${r.prioRight}/${r.packets})` : "n/a"} | ` +
        `${r?.txtimeRight === null || !r ? "–" : pct(r.txtimeRight, r.sent)} | ` +
        `${r ? r.wrong.total : "n/a"} | ${r ? r.missed : "n/a"} | ` +
        `${num(c.datapathView?.recordsLeft)} | ${ratioText(c)} | ${cpuRatioText(c)} | ` +
        `${num(c.bpfStats?.saverNetNs)} / ${num(c.bpfStats?.restorerNetNs)} |`,
    );
  }
  return lines.join("\n");
}

function derivation(r: ProgCostRow): string {
  if (!r.derived) return "";
  return r.program.startsWith("origin")
    ? " (derived: parse+check − parse)"
    : " (derived: pair − saver)";
}

function progCostTable(rows: readonly ProgCostRow[]): string {
  const lines = [
    "| program | strategy | store | packet | ns/run (median) | above floor | hit rate | samples |",
    "|" + " --- |".repeat(8),
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.program}${derivation(r)} | ${r.strategy ?? "–"} | ` +
        `${r.store ?? "–"} | ${r.packet} | ${r.nsPerRun} | ${num(r.nsAboveFloor)} | ` +
        `${r.hitRate ?? "–"} | ${r.samples.length ? r.samples.join(", ") : "–"} |`,
    );
  }
  return lines.join("\n");
}

function restorationTable(res: BenchResults): string {
  const lines = [
    "| kernel | datapath | traffic | strategy | packets | prio right | prio 0 | txtime right | " +
    "txtime lost | wrong (prio/txtime/type/invented) | records left | restored | missed | " +
    "rejected fp | other counters |",
    "|" + " --- |".repeat(15),
  ];
  for (const c of res.cells) {
    const r = c.restoration;
    const v = c.datapathView?.counters ?? {};
    const other = Object.entries(v).filter(([k, n]) =>
      n > 0 && !["restored", "missed", "rejectedFingerprint"].includes(k)
    ).map(([k, n]) => `${k} ${n}`).join(", ");
    lines.push(
      `| ${c.kernel} | ${c.datapath} | ${c.traffic} | ${c.strategyLabel} | ${
        r?.packets ?? "n/a"
      } | ` +
        `${r?.prioRight ?? "n/a"} | ${r?.prioZero ?? "n/a"} | ${r?.txtimeRight ?? "–"} | ` +
        `${r?.txtimeMissing ?? "–"} | ` +
        `${
          r
            ? `${r.wrong.priority}/${r.wrong.txtime}/${r.wrong.clockType}/${r.wrong.invented}`
            : "n/a"
        } | ` +
        `${num(c.datapathView?.recordsLeft)} | ${v["restored"] ?? "–"} | ${v["missed"] ?? "–"} | ` +
        `${v["rejectedFingerprint"] ?? "–"} | ${other || "–"} |`,
    );
  }
  return lines.join("\n");
}

function performanceTable(res: BenchResults): string {
  const lines = [
    "| kernel | datapath | traffic | strategy | delivered (median) | vs none: median [min–max] | " +
    "vs empty programs (none: empty / none) | " +
    "sender CPU per unit (median ns) | CPU none/arm [min–max] | rounds | NIC / far | " +
    "saver ns (stats, floor) | restorer ns (stats, floor) | records during / after flood |",
    "|" + " --- |".repeat(14),
  ];
  for (const c of res.cells) {
    const t = c.throughput;
    const s = c.bpfStats;
    const nicFar = t
      ? `${t.samples.reduce((n, x) => n + x.nic, 0)} / ${t.samples.reduce((n, x) => n + x.far, 0)}`
      : "n/a";
    lines.push(
      `| ${c.kernel} | ${c.datapath} | ${c.traffic} | ${c.strategyLabel} | ${rateText(c)} | ` +
        `${c.strategy === NONE ? "(baseline)" : ratioText(c)} | ` +
        `${num((t?.floorRatio ?? t?.vsFloor)?.median, 3)} | ` +
        `${num(cpuMedian(c))}${t ? (t.unit === "pps" ? "/pkt" : "/KiB") : ""} | ` +
        `${c.strategy === NONE ? "(baseline)" : cpuRatioText(c)} | ${t?.samples.length ?? 0} | ` +
        `${nicFar} | ` +
        `${s ? `${num(s.saverNs)} (${num(s.floorPodNs)})` : "–"} | ` +
        `${s ? `${num(s.restorerNs)} (${num(s.floorNicNs)})` : "–"} | ` +
        `${c.occupancy ? `${num(c.occupancy.during)} / ${num(c.occupancy.after)}` : "–"} |`,
    );
  }
  return lines.join("\n");
}

function msText(s: Summary): string {
  return `${num(s.median, 1)} [${num(s.min, 1)}–${num(s.max, 1)}]`;
}

/** The pod dimension: one column per pod count (node cost does not depend on the cell). */
function nodeCostTable(res: BenchResults): string {
  const n = res.nodeCost;
  if (!n) return 'Not measured in this run (see "Not measured yet").';
  const mib = (k: number) => `${num(k / 1024, 1)} MiB`;
  const lat = (s: Latency) => `${msText(s)}, p99 ${num(s.p99, 1)}`;
  const rows: Array<[string, (p: PodPoint) => string]> = [
    ["CNI ADD, bridge + host-local (ms)", (p) => lat(p.baseAddMs)],
    ["CNI ADD, + tsn-proxy, opted-in pod (ms)", (p) => lat(p.proxyAddMs)],
    ["**extra ms per ADD** (pairwise: with − without)", (p) => `**${lat(p.extraMs)}**`],
    ["the tsn-proxy plugin's own exec (ms)", (p) => lat(p.pluginMs)],
    ["of which the agent's handling (ms, mean)", (p) => num(p.agentAddMs, 1)],
    ["ADDs of the resident pods that got the node here (ms)", (p) => lat(p.residentAddMs)],
    [
      "agent VmRSS: steady / peak during the ADDs / VmHWM",
      (p) => `${mib(p.agent.steadyRssKiB)} / ${mib(p.agent.peakRssKiB)} / ${mib(p.agent.hwmKiB)}`,
    ],
    [
      "agent RssAnon: steady / peak during the ADDs",
      (p) => `${mib(p.agent.steadyAnonKiB)} / ${mib(p.agent.peakAnonKiB)}`,
    ],
    [
      "agent V8 heap: used / total; external buffers (steady)",
      (p) =>
        p.agent.heapUsedKiB === undefined
          ? "n/a"
          : `${mib(p.agent.heapUsedKiB)} / ${mib(p.agent.heapTotalKiB!)}; ${
            mib(p.agent.externalKiB!)
          }`,
    ],
    ["agent's open file descriptors", (p) => num(p.agent.fds)],
    ["pinned restorer, miss, BPF_PROG_TEST_RUN (ns)", (p) => num(p.restorer.missNs, 1)],
  ];
  return [
    `| what | ${n.points.map((p) => `${p.pods} pods`).join(" | ")} |`,
    `| --- |${n.points.map(() => " --- |").join("")}`,
    ...rows.map(([what, f]) => `| ${what} | ${n.points.map(f).join(" | ")} |`),
  ].join("\n");
}

/** The taprio section: per lab kernel, one measurement per cycle scale. */
function taprioSection(res: BenchResults): string[] {
  if (!res.taprio.length) return [];
  return [
    "## taprio: packets per gate (lab kernels)",
    "",
    "The host kernel has no sch_taprio; the guests have. Each arm (no proxy, then each strategy) " +
    "runs on a fresh topology. What tells the story: the per-class counters (which queue each " +
    "packet went through) and where in the cycle each talker's packets left the NIC. The 40 us " +
    "cycle is the project's; under TCG the emulated hrtimers fire tens of microseconds late, " +
    "wider than its 10 us windows, so its picture is smeared whatever the priority. The same " +
    `schedule stretched ${TAPRIO_TCG_SCALE}x (same proportions) is within what TCG can time ` +
    "and shows the gating.",
    "",
    ...res.taprio.flatMap(({ kernel, measurements }) =>
      measurements.map((m) => taprioMarkdown(m, { svg: taprioSvgName(kernel, m), heading: "###" }))
    ),
  ];
}

/** report.md. */
export function renderReport(res: BenchResults): string {
  const k = res.kernels.map((x) =>
    `${x.kernel.id} (${x.kernel.release}; TCX ${x.capabilities.tcx ? "yes" : "no"}, fexit ${
      x.capabilities.fexit ? "loads" : `refused (${x.capabilities.fexitReason})`
    }, bpf_stats ${x.capabilities.bpfStats ? "yes" : "no"}${
      x.capabilities.netkit === undefined ? "" : `, netkit ${x.capabilities.netkit ? "yes" : "no"}`
    }, ${x.capabilities.cpus} CPUs)`
  ).join("; ");
  const p = res.params;
  const out: string[] = [
    `# tsn-proxy benchmark — ${res.startedAt}`,
    "",
    `Mode **${res.mode}**, ${res.durationS} s. Kernel(s): ${k}. ` +
    `Commit ${
      res.git ? `${res.git.commit.slice(0, 12)}${res.git.dirty ? " (dirty tree)" : ""}` : "unknown"
    }. ` +
    `Load average at start ${res.host.loadavgStart}, at end ${res.host.loadavgEnd} ` +
    `(other tenants of this VM add noise; only ratios measured side by side mean anything).`,
    "",
    ...(res.kernels.some((x) => x.kernel.runner === "lab")
      ? [
        "Lab kernels (`6.1`, `6.12`) are Debian's stock kernels in QEMU guests under TCG (lab/), " +
        "measured by the same code inside the guest (bench/lab/guest.ts) on a smaller plan " +
        "(`params.lab`). Their restoration counts are real packets through real kernel code; " +
        "their BPF_PROG_TEST_RUN ns, bpf_stats and delivered rates run on emulated instructions, " +
        "so they are shown as measured and never compared with the host's nor scored against " +
        "the targets.",
        "",
      ]
      : []),
    "## Targets",
    "",
    "| target | measured | met | why not |",
    "| --- | --- | --- | --- |",
    ...res.targets.map((t) =>
      `| ${t.target} | ${t.measured} | ${t.met === null ? "n/a" : t.met ? "yes" : "**no**"} | ${
        t.met === false ? (t.analysis ?? "not analysed yet") : ""
      } |`
    ),
    "",
    "## Summary",
    "",
    summaryTable(res),
    "",
    "## Delivered UDP rate: the paired ratio's 95 % confidence interval",
    "",
    "Per round, the strategy's delivered rate over none's in the same round; the interval is " +
    "Student's t on the logarithms of those ratios (bench/stats.ts `ratioInterval`). A cell " +
    `meets the target when the lower end is >= ${TARGETS.ppsRatio} and the interval is ` +
    `narrower than ${TARGETS.ciWidth * 100} %; a wider one decides only when it lies wholly ` +
    "below; otherwise it is undecided and the row says how many rounds would narrow it to 2 % at " +
    "the same spread (`--rounds N`).",
    "",
    ppsIntervalTable(res),
    "",
    "## Pods: CNI ADD latency, agent memory and the restorer at several pod counts",
    "",
    ...(res.nodeCost
      ? [
        `Kernel ${res.nodeCost.kernel}; one simulated node, its agent running with the ` +
        "DaemonSet's capabilities and appended to the conflist " +
        `(${res.nodeCost.chain.join(" + ")}). At each pod count that many opted-in pods are ` +
        "attached through the real chain (own netns, veth and saver instance each) and stay; " +
        `then ${res.nodeCost.samplesPerPoint} sample pods per chain, alternating (which chain ` +
        "goes first flips every pair), each ADD followed by its DEL, timed as the runtime sees " +
        "it (sim/cni_driver.ts: libcni's order, nsenter into the node). The agent's share is its " +
        "own request-duration histogram over the sample ADDs. Memory from /proc/PID/status, " +
        "100 ms apart: steady = median over an idle second before the sample ADDs. The restorer " +
        "is the one the agent pinned, run by BPF_PROG_TEST_RUN on a packet without a record (the " +
        "path every packet at the NIC takes; a hit needs the saver's tag in `tc_index`, which a " +
        "test run's sk_buff cannot carry). Deleting every resident pod took " +
        `${num(res.nodeCost.teardownMs / 1000, 1)} s.`,
        "",
      ]
      : []),
    nodeCostTable(res),
    "",
    "## Per-program cost: BPF_PROG_TEST_RUN",
    "",
    `A 64-byte IPv4/UDP frame, \`__sk_buff.priority\` = 5 (and \`tstamp\` set in the txtime variant), ` +
    `${p["repeat"]} runs per sample, ${p["samples"]} samples, median. ` +
    "`saver+restorer (hit)` runs both programs on the same sk_buff, inlined into one program " +
    "compiled from the core's own sources (bench/bpf/costs.bpf.c): inside a test run the sk_buff " +
    "stays the same, so every run is a restorer hit (hit rate from the core's `restored` counter). " +
    "`empty` is the floor (what the test-run loop costs per run). `restorer (hit, own program)` " +
    "and `(miss, own program)` run the saver and the restorer as the separate programs of " +
    "production, one test run each (the restorer's new sk_buff lands at the address the saver's " +
    "run freed; the saver's tag rides in `mark`, since a test run cannot set `tc_index`), " +
    "above `empty (single runs)`: the same timer around one run of an empty program. Single " +
    "runs start cold (branch predictors, the program's code, the record's line written by " +
    "another program), which the repeat loop of the other rows hides.",
    "",
    ...res.progCost.flatMap((x) => [`### ${x.kernel}`, "", progCostTable(x.rows), ""]),
    `![BPF_PROG_TEST_RUN](${REPORT_FILES.progCost})`,
    "",
    ...cpuSection(res),
    "## Restoration (observer on the NIC, after the restorer)",
    "",
    `${p["restorationCount"]} records per talker; all talkers of a datapath at once, plus the ` +
    "opt-out pod. `wrong` counts packets that left the NIC with a priority, txtime or clock type " +
    "that was not their own, or a tstamp nobody set. Datapath counters are the core's, after the " +
    "traffic. Kernels >= 6.11 keep a TAI txtime across the veth by themselves, so `txtime right` " +
    "is 100 % without a proxy there too; the restorer then counts it as `tstampKept` and leaves " +
    "it alone.",
    "",
    restorationTable(res),
    "",
    "### The pod that did not opt in",
    "",
    "| kernel | datapath | strategy | packets | priority restored (must be 0) | wrong |",
    "| --- | --- | --- | --- | --- | --- |",
    ...res.sentinels.map((s) =>
      `| ${s.kernel} | ${s.datapath} | ${s.strategy} | ${s.restoration.packets} | ` +
      `${s.restoration.prioRight} | ${s.restoration.wrong.total} |`
    ),
    "",
    `![restoration](${REPORT_FILES.restoration})`,
    "",
    ...taprioSection(res),
    "## Throughput, bpf_stats, occupancy",
    "",
    `Flood: ${res.floodTool}, ${p["floodMs"]} ms per arm, ${p["rounds"]} rounds; each round runs ` +
    "`none`, an arm with empty programs at the flooding pod's eth0 and the NIC (the saver's and " +
    "the restorer's hooks: what any tc program there costs) and every strategy once, in rotated " +
    "order, the datapath attached only for its own arm; the ratio is taken against the `none` arm " +
    "of the same round, and `vs empty programs` against the empty-program arm. UDP: 64-byte frames, delivered = " +
    "datagrams reaching the far end's UDP layer (a bound, unread socket); TCP: bytes at the far " +
    "end's interface. bpf_stats: one more flood per strategy with `bpf_enable_stats()` on and an " +
    "empty program appended at the flooding pod's eth0 and at the NIC (its ns/run is what the " +
    "stats machinery and dispatch cost by themselves).",
    "",
    performanceTable(res),
    "",
    `![throughput](${REPORT_FILES.throughput})`,
    "",
    "The same rounds seen through the senders' CPU: their on-CPU time per datagram (per KiB for " +
    "TCP) covers the whole synchronous transmit path (veth, bridge/routing, NAT, VXLAN, the " +
    "programs), so its ratio does not move when another tenant takes the CPU away, which the " +
    "delivered rate does.",
    "",
    `![sender CPU](${REPORT_FILES.cpuRatio})`,
    "",
    `![bpf_stats](${REPORT_FILES.bpfStats})`,
    "",
    "## Sender calibration",
    "",
    "| tool | delivered pps | sent | arrived |",
    "| --- | --- | --- | --- |",
    ...res.calibration.map((c) => `| ${c.tool} | ${c.pps} | ${c.sent || "?"} | ${c.far} |`),
    "",
    `Used: ${res.floodTool}.`,
    "",
    "## Not measured yet",
    "",
    ...res.notMeasured.map((n) => `- **${n.what}**: ${n.reason}`),
    "",
    "## Parameters",
    "",
    "```json",
    JSON.stringify(res.params, null, 2),
    "```",
    "",
  ];
  return out.join("\n");
}
