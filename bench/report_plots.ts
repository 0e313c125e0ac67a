/**
 * The SVG plots of a run's report, by file name. Pure.
 *
 * @module
 */
import { type Bar, barChart, colorOf, intervalChart, type IntervalRow } from "./svg.ts";
import { taprioSvg } from "./taprio_report.ts";
import type { BenchResults } from "./types.ts";
import { cellLabel, pct, REPORT_FILES, taprioSvgName } from "./report_format.ts";
import { strategyCells, TARGETS } from "./verdicts.ts";

/** The SVG plots of a run, by file name. */
export function renderPlots(res: BenchResults): Map<string, string> {
  const plots = new Map<string, string>();
  const store = res.params["store"];
  const cost: Bar[] = [];
  for (const { kernel, rows } of res.progCost) {
    for (const r of rows.filter((x) => x.packet === "prio")) {
      cost.push({
        label: `${kernel} ${r.program}${r.strategy ? ` ${r.strategy}/${r.store}` : ""}`,
        value: r.nsPerRun,
        color: colorOf(r.strategy ?? "reference"),
      });
    }
  }
  plots.set(
    REPORT_FILES.progCost,
    barChart({
      title: "BPF_PROG_TEST_RUN: ns per packet (64-byte UDP, priority set), median",
      bars: cost,
      refs: [{ value: TARGETS.pairNs, label: `target saver+restorer ${TARGETS.pairNs} ns` }],
      note: "restorer (hit) = saver+restorer − saver; empty = the harness floor per run",
    }),
  );

  const statsBars: Bar[] = [];
  for (const c of strategyCells(res).filter((x) => x.bpfStats)) {
    const s = c.bpfStats!;
    const tag = cellLabel(c);
    statsBars.push(
      { label: `${tag} saver`, value: s.saverNs, color: colorOf(c.strategy) },
      { label: `${tag} restorer`, value: s.restorerNs, color: colorOf(c.strategy) },
      {
        label: `${tag} empty (floor)`,
        value: s.floorNicNs,
        color: colorOf("floor"),
      },
    );
  }
  plots.set(
    REPORT_FILES.bpfStats,
    barChart({
      title: "bpf_stats on real packets: ns per run (stats overhead = empty program)",
      bars: statsBars,
      note: `store ${String(store)}; floor = empty program at the NIC hook`,
    }),
  );

  const rest: Bar[] = res.cells.filter((c) => c.restoration).map((c) => ({
    label: cellLabel(c),
    value: c.restoration!.packets ? (100 * c.restoration!.prioRight) / c.restoration!.packets : 0,
    color: colorOf(c.strategy),
    text: `${pct(c.restoration!.prioRight, c.restoration!.packets)}` +
      (c.restoration!.wrong.total ? `  WRONG ${c.restoration!.wrong.total}` : ""),
  }));
  plots.set(
    REPORT_FILES.restoration,
    barChart({
      title: "Priority restored at the NIC (% of the talker's packets)",
      bars: rest,
      max: 100,
      note: "none = no proxy: the crossing zeroes skb->priority",
    }),
  );

  const rows: IntervalRow[] = strategyCells(res).filter((c) => c.throughput?.ratio).map((c) => ({
    label: cellLabel(c),
    median: c.throughput!.ratio!.median,
    min: c.throughput!.ratio!.min,
    max: c.throughput!.ratio!.max,
    color: colorOf(c.strategy),
  }));
  const all = rows.flatMap((r) => [r.min ?? 1, r.max ?? 1]);
  plots.set(
    REPORT_FILES.throughput,
    intervalChart({
      title: "Delivered rate vs none, same round (median, min–max)",
      rows,
      lo: Math.min(0.5, ...all),
      hi: Math.max(1.2, ...all),
      refs: [{ value: TARGETS.ppsRatio, label: `target ${TARGETS.ppsRatio}` }, {
        value: 1,
        label: "",
      }],
      note: "UDP: datagrams/s at the far end; TCP: bytes/s at the far end's interface",
    }),
  );
  const cpuRows: IntervalRow[] = strategyCells(res).filter((c) => c.throughput?.cpuRatio).map((
    c,
  ) => ({
    label: cellLabel(c),
    median: c.throughput!.cpuRatio!.median,
    min: c.throughput!.cpuRatio!.min,
    max: c.throughput!.cpuRatio!.max,
    color: colorOf(c.strategy),
  }));
  const cpuAll = cpuRows.flatMap((r) => [r.min ?? 1, r.max ?? 1]);
  plots.set(
    REPORT_FILES.cpuRatio,
    intervalChart({
      title: "Sender CPU per packet: none / strategy, same round (median, min–max)",
      rows: cpuRows,
      lo: Math.min(0.5, ...cpuAll),
      hi: Math.max(1.2, ...cpuAll),
      refs: [{ value: TARGETS.ppsRatio, label: `${TARGETS.ppsRatio}` }, { value: 1, label: "" }],
      note: "on-CPU time of the sending threads (softirq path included) per datagram / per KiB",
    }),
  );
  for (const { kernel, measurements } of res.taprio) {
    for (const m of measurements) plots.set(taprioSvgName(kernel, m), taprioSvg(m));
  }
  return plots;
}
