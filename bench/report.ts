/**
 * Writes a run's report directory (`report.md`, `results.json`, SVG plots) and prints its short
 * stdout summary. The verdicts are in ./verdicts.ts, the tables in ./report_tables.ts, the plots
 * in ./report_plots.ts.
 *
 * @module
 */
import type { BenchResults } from "./types.ts";
import { join } from "node:path";
import { REPORT_FILES } from "./report_format.ts";
import { renderPlots } from "./report_plots.ts";
import { renderReport, summaryTable } from "./report_tables.ts";

/** Short stdout summary. */
export function stdoutSummary(res: BenchResults, dir: string): string {
  const lines = [
    `tsn-proxy bench (${res.mode}) finished in ${res.durationS} s -> ${dir}`,
    "",
    summaryTable(res),
    "",
    ...res.targets.map((t) =>
      `${t.met === null ? "[n/a]" : t.met ? "[met]" : "[MISS]"} ${t.target}: ${t.measured}`
    ),
  ];
  return lines.join("\n");
}

/** Writes report.md, results.json and the plots into `dir`. */
export async function writeReport(dir: string, res: BenchResults): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, REPORT_FILES.results), JSON.stringify(res, null, 2) + "\n");
  await Deno.writeTextFile(join(dir, REPORT_FILES.report), renderReport(res));
  for (const [name, svg] of renderPlots(res)) await Deno.writeTextFile(join(dir, name), svg);
}
