/**
 * The benchmark on a lab kernel (Debian's 6.1 and 6.12 under QEMU, lab/): compiles the bench
 * objects on the host (the guest has no clang), hands them and the plan to the guest through the
 * lab share, boots once and runs bench/lab/guest.ts there, which measures the plan with the same
 * code as the host (kernel_run.ts) plus taprio. Under TCG the guest's clock runs on emulated
 * instructions: its ns and rates are only meaningful as ratios inside the guest.
 *
 * @module
 */
import { basename } from "node:path";
import { type KernelId as LabKernelId, LabError, runLab } from "@tsn-proxy/lab";
import { BENCH_OBJECTS, type BenchObjects } from "./bpf/objects.ts";
import type { Log } from "./host_runner.ts";
import type { KernelOutcome, KernelPlan } from "./kernel_run.ts";
import {
  GUEST_REPO_PATHS,
  GUEST_SCENARIO,
  type GuestPlan,
  type GuestResult,
  PLAN_FILE,
  type TaprioPlan,
} from "./lab/plan.ts";

/** What a lab kernel gave. */
export interface LabOutcome {
  readonly outcome: KernelOutcome;
  readonly taprio: GuestResult["taprio"];
  readonly taprioError: string | null;
  /** Host seconds for the boot, the scenario and QEMU's exit. */
  readonly bootS: number;
}

/**
 * A boot limit that grows with the plan: TCG runs a topology with its three arms in 20-40 s and a
 * flood round per traffic in about as much again.
 */
function labTimeoutMs(plan: KernelPlan, taprio: TaprioPlan | null): number {
  const perDatapath = 60 + (plan.rounds > 0 ? 40 * plan.rounds * plan.traffic.length : 0);
  const perTaprio = 60 * (1 + plan.strategies.length);
  return 1000 *
    (180 + perTaprio * (taprio?.scales.length ?? 0) + perDatapath * plan.datapaths.length);
}

/**
 * Measures `plan` on a lab kernel in one boot.
 *
 * `maxCpus` boots the guest with that many possible CPUs (2 of them running): the benchmark's CPU
 * dimension.
 *
 * @example
 * ```ts ignore
 * const r = await measureLabKernel("6.12", plan, { count: 100, scales: [1, 25] }, console.error);
 * console.log(r.outcome.cells.length, r.taprio);
 * ```
 */
export async function measureLabKernel(
  kernel: LabKernelId,
  plan: KernelPlan,
  taprio: TaprioPlan | null,
  log: Log,
  maxCpus?: number,
): Promise<LabOutcome> {
  const dir = await Deno.makeTempDir({ prefix: "tsn-bench-lab-" });
  try {
    const objects = BENCH_OBJECTS;
    const entries = Object.entries(objects) as [keyof BenchObjects, string][];
    const given: GuestPlan = {
      kernel,
      plan,
      objects: Object.fromEntries(entries.map(([role, path]) => [role, basename(path)])) as Record<
        keyof BenchObjects,
        string
      >,
      taprio,
    };
    const planPath = `${dir}/${PLAN_FILE}`;
    await Deno.writeTextFile(planPath, JSON.stringify(given));
    const timeoutMs = labTimeoutMs(plan, taprio);
    log(`kernel ${kernel}: booting the lab guest (limit ${Math.round(timeoutMs / 1000)} s)`);
    const t0 = performance.now();
    let r;
    try {
      r = await runLab({
        kernel,
        scenarios: [GUEST_SCENARIO],
        repoPaths: GUEST_REPO_PATHS,
        files: {
          [PLAN_FILE]: planPath,
          ...Object.fromEntries(entries.map(([, path]) => [basename(path), path])),
        },
        timeoutMs,
        scenarioTimeoutMs: timeoutMs - 30_000,
        ...(maxCpus === undefined ? {} : { maxCpus }),
        onLine: (line) => {
          const m = /^bench: (.*)$/.exec(line.trim());
          if (m) log(`[guest ${kernel}] ${m[1]}`);
        },
      });
    } catch (e) {
      if (e instanceof LabError) throw new Error(e.message.split("\n--- last")[0]);
      throw e;
    }
    const data = r.results[0]?.data as GuestResult | undefined;
    if (!data?.outcome?.cells) throw new Error(`kernel ${kernel}: the guest wrote no bench result`);
    return {
      outcome: data.outcome,
      taprio: data.taprio,
      taprioError: data.taprioError,
      bootS: Math.round((performance.now() - t0) / 100) / 10,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
