/**
 * @module
 * `deno run -A lab/main.ts --kernel all` (`deno task e2e:vm`): boots the pinned kernel(s) under
 * QEMU, runs the scenarios in one boot per kernel and prints a report: per scenario a line, and
 * for the VM suite's datapath scenarios (lab/suite.ts) a line per run with the numbers the checks
 * assert. Exits 1 if any run failed (the failure shows the failed checks and the last serial
 * lines).
 *
 * ```text
 * --kernel K            6.1, 6.12 or all (repeatable; default all)
 * --scenario S          scenario name or repo path (repeatable, or comma-separated); default: the
 *                       smoke scenarios and the VM suite
 * --repo PATH           extra repository path to share (repeatable; bpf, strategies, e2e always are)
 * --module M            extra kernel module to load (repeatable)
 * --timeout SEC         limit per boot (default 600 with a VM suite scenario, else 120)
 * --scenario-timeout S  limit per scenario (default 300)
 * --accel tcg|kvm       force the accelerator
 * --verbose             stream the serial console
 * --json                print the results as JSON instead of the report
 * ```
 */
import { parseArgs } from "node:util";
import { isKernelId, KERNEL_IDS, type KernelId } from "./kernels.ts";
import { LabError, type LabResult, runLab, type ScenarioResult, SMOKE_SCENARIOS } from "./mod.ts";
import { VM_REPO_PATHS, VM_SUITE } from "./suite.ts";
import { isVmResult, vmReport } from "./vm/report.ts";

/** One-line summary of a result object, cut to `max` characters. */
export function brief(data: unknown, max = 160): string {
  const text = JSON.stringify(data) ?? "undefined";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const secs = (ms: number | undefined) => (ms === undefined ? "?" : `${(ms / 1000).toFixed(1)}s`);

/** Lines for the scenario results: a line each, and the VM suite's tables. */
export function scenarioLines(results: readonly ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const res of results) {
    const status = res.ok ? "ok  " : "FAIL";
    if (isVmResult(res.data)) {
      lines.push(`  ${status} ${res.name} (${secs(res.ms)}):`, ...vmReport(res.data));
    } else {
      lines.push(`  ${status} ${res.name} (${secs(res.ms)}): ${brief(res.data)}`);
    }
  }
  return lines;
}

/** The printed report of one passed run. */
export function report(r: LabResult): string {
  const t = r.timings;
  const lines = [
    `kernel ${r.kernel.id}: ${r.kernel.package} ${r.kernel.version} (guest: ${r.kernel.uname.release}) ` +
    `accel=${r.accel}`,
    `  timings: prepare ${secs(t.prepareMs)}, /init ${secs(t.initMs)}, ready ${secs(t.readyMs)}, ` +
    `done ${secs(t.doneMs)}, qemu exit ${secs(t.bootMs)}`,
    ...scenarioLines(r.results),
  ];
  return lines.join("\n");
}

/** The default scenario set: the smoke scenarios, then the VM suite, in one boot. */
export const DEFAULT_SCENARIOS: readonly string[] = [...SMOKE_SCENARIOS, ...VM_SUITE.scenarios];

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      kernel: { type: "string", multiple: true },
      scenario: { type: "string", multiple: true },
      repo: { type: "string", multiple: true },
      module: { type: "string", multiple: true },
      timeout: { type: "string" },
      "scenario-timeout": { type: "string" },
      accel: { type: "string" },
      verbose: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno run -A lab/main.ts [--kernel 6.1|6.12|all] [--scenario NAME]... " +
        "[--repo PATH]... [--module M]... [--timeout SEC] [--scenario-timeout SEC] " +
        "[--accel tcg|kvm] [--verbose] [--json]",
    );
    Deno.exit(0);
  }
  const kernels: KernelId[] = [];
  for (const k of values.kernel ?? ["all"]) {
    if (k === "all") kernels.push(...KERNEL_IDS);
    else if (isKernelId(k)) kernels.push(k);
    else throw new Error(`unknown kernel ${k} (6.1, 6.12 or all)`);
  }
  const scenarios = (values.scenario ?? [...DEFAULT_SCENARIOS]).flatMap((s) => s.split(","))
    .filter((s) => s.length > 0);
  const accel = values.accel;
  if (accel !== undefined && accel !== "tcg" && accel !== "kvm") throw new Error("--accel tcg|kvm");
  // The VM suite's scenarios take minutes; the smoke scenarios seconds.
  const heavy = scenarios.some((s) => VM_SUITE.scenarios.includes(s));
  const timeoutMs = Number(values.timeout ?? (heavy ? 600 : 120)) * 1000;
  if (!(timeoutMs > 0)) throw new Error("--timeout must be a positive number of seconds");
  const scenarioTimeoutMs = Number(values["scenario-timeout"] ?? 300) * 1000;
  if (!(scenarioTimeoutMs > 0)) throw new Error("--scenario-timeout: seconds > 0");

  let failed = 0;
  const out: unknown[] = [];
  const started = performance.now();
  for (const kernel of [...new Set(kernels)]) {
    const t0 = performance.now();
    try {
      const r = await runLab({
        kernel,
        scenarios,
        timeoutMs,
        scenarioTimeoutMs,
        repoPaths: [...new Set([...VM_REPO_PATHS, ...(values.repo ?? [])])],
        extraModules: values.module ?? [],
        ...(accel === undefined ? {} : { accel }),
        ...(values.verbose ? { onLine: (l: string) => console.error(`[${kernel}] ${l}`) } : {}),
      });
      if (values.json) out.push({ ...r, log: undefined });
      else console.log(report(r));
    } catch (e) {
      failed++;
      if (values.json) {
        out.push({
          kernel,
          error: e instanceof Error ? e.message : String(e),
          ...(e instanceof LabError ? { results: e.results } : {}),
        });
      } else {
        console.log(`kernel ${kernel}: FAILED`);
        if (e instanceof LabError) console.log(scenarioLines(e.results).join("\n"));
        console.log(e instanceof LabError ? e.message : e instanceof Error ? e.stack : e);
      }
    }
    if (!values.json) console.log(`kernel ${kernel}: ${secs(performance.now() - t0)} on the host`);
  }
  if (values.json) console.log(JSON.stringify(out, null, 2));
  else console.log(`total: ${secs(performance.now() - started)}`);
  Deno.exit(failed ? 1 : 0);
}
