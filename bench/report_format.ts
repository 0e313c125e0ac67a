/**
 * What the report's tables and plots share: number and percentage formats, cell labels, plot
 * file names. Pure.
 *
 * @module
 */
import { round } from "./stats.ts";
import type { TaprioMeasurement } from "./taprio.ts";
import type { Cell } from "./types.ts";

/** Files of a report directory. */
export const REPORT_FILES = {
  report: "report.md",
  results: "results.json",
  progCost: "progcost.svg",
  bpfStats: "bpf_stats.svg",
  restoration: "restoration.svg",
  throughput: "throughput.svg",
  cpuRatio: "cpu_ratio.svg",
} as const;

/** `n` of `d` as a percentage with one decimal, or "n/a". */
export function pct(n: number | null | undefined, d: number | null | undefined): string {
  if (n === null || n === undefined || !d) return "n/a";
  return `${round((100 * n) / d, 1)} %`;
}

/** A number with `digits` decimals (rounded when 0), or "n/a". */
export function num(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "n/a";
  return digits === 0 ? String(Math.round(v)) : v.toFixed(digits);
}

/** The packets-per-gate picture's file name of one taprio measurement. */
export function taprioSvgName(kernel: string, m: TaprioMeasurement): string {
  return `taprio-${kernel}-${Math.round(m.cycleNs / 1000)}us.svg`;
}

/** A cell's label in plots: the kernel (unless host), datapath, traffic, strategy. */
export function cellLabel(c: Cell): string {
  return `${c.kernel === "host" ? "" : `${c.kernel} `}${c.datapath} ${c.traffic} ${c.strategy}`;
}
