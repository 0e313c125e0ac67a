/**
 * @module
 * `deno run -A lab/main.ts --kernel 6.12 --scenario taprio ...`: boots the pinned kernel(s) under
 * QEMU, runs the scenarios in one boot per kernel and prints a short report. Exits 1 if any run
 * failed (the failure shows the last serial lines).
 *
 * ```text
 * --kernel K        6.1, 6.12 or all (repeatable; default all)
 * --scenario S      scenario name or repo path (repeatable, or comma-separated; default: smoke set)
 * --repo PATH       extra repository path to share (repeatable)
 * --module M        extra kernel module to load (repeatable)
 * --timeout SEC     limit per boot (default 120)
 * --accel tcg|kvm   force the accelerator
 * --verbose         stream the serial console
 * --json            print the results as JSON instead of the report
 * ```
 */
import { parseArgs } from "node:util";
import { isKernelId, KERNEL_IDS, type KernelId } from "./kernels.ts";
import { LabError, type LabResult, runLab, SMOKE_SCENARIOS } from "./mod.ts";

/** One-line summary of a result object, cut to `max` characters. */
export function brief(data: unknown, max = 160): string {
  const text = JSON.stringify(data) ?? "undefined";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The printed report of one passed run. */
export function report(r: LabResult): string {
  const t = r.timings;
  const s = (ms: number | undefined) => (ms === undefined ? "?" : `${(ms / 1000).toFixed(1)}s`);
  const lines = [
    `kernel ${r.kernel.id}: ${r.kernel.package} ${r.kernel.version} (guest: ${r.kernel.uname.release}) ` +
    `accel=${r.accel}`,
    `  timings: prepare ${s(t.prepareMs)}, /init ${s(t.initMs)}, ready ${s(t.readyMs)}, ` +
    `done ${s(t.doneMs)}, qemu exit ${s(t.bootMs)}`,
  ];
  for (const res of r.results) {
    lines.push(`  ${res.ok ? "ok  " : "FAIL"} ${res.name} (${s(res.ms)}): ${brief(res.data)}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      kernel: { type: "string", multiple: true },
      scenario: { type: "string", multiple: true },
      repo: { type: "string", multiple: true },
      module: { type: "string", multiple: true },
      timeout: { type: "string" },
      accel: { type: "string" },
      verbose: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno run -A lab/main.ts [--kernel 6.1|6.12|all] [--scenario NAME]... " +
        "[--repo PATH]... [--module M]... [--timeout SEC] [--accel tcg|kvm] [--verbose] [--json]",
    );
    Deno.exit(0);
  }
  const kernels: KernelId[] = [];
  for (const k of values.kernel ?? ["all"]) {
    if (k === "all") kernels.push(...KERNEL_IDS);
    else if (isKernelId(k)) kernels.push(k);
    else throw new Error(`unknown kernel ${k} (6.1, 6.12 or all)`);
  }
  const scenarios = (values.scenario ?? [...SMOKE_SCENARIOS]).flatMap((s) => s.split(","))
    .filter((s) => s.length > 0);
  const accel = values.accel;
  if (accel !== undefined && accel !== "tcg" && accel !== "kvm") throw new Error("--accel tcg|kvm");
  const timeoutMs = Number(values.timeout ?? 120) * 1000;
  if (!(timeoutMs > 0)) throw new Error("--timeout must be a positive number of seconds");

  let failed = 0;
  const out: unknown[] = [];
  for (const kernel of [...new Set(kernels)]) {
    try {
      const r = await runLab({
        kernel,
        scenarios,
        timeoutMs,
        repoPaths: values.repo ?? [],
        extraModules: values.module ?? [],
        ...(accel === undefined ? {} : { accel }),
        ...(values.verbose ? { onLine: (l: string) => console.error(`[${kernel}] ${l}`) } : {}),
      });
      if (values.json) out.push({ ...r, log: undefined });
      else console.log(report(r));
    } catch (e) {
      failed++;
      if (values.json) {
        out.push({ kernel, error: e instanceof Error ? e.message : String(e) });
      } else {
        console.log(`kernel ${kernel}: FAILED`);
        console.log(e instanceof LabError ? e.message : e instanceof Error ? e.stack : e);
      }
    }
  }
  if (values.json) console.log(JSON.stringify(out, null, 2));
  Deno.exit(failed ? 1 : 0);
}
