/**
 * What the host hands a lab guest for one benchmark run: the kernel plan, the names of the bench
 * objects compiled on the host, and the taprio measurement. Both sides import it, so the file
 * names and the shape cannot drift apart.
 *
 * @module
 */
import type { BenchObjects } from "../bpf/build.ts";
import type { KernelOutcome, KernelPlan } from "../kernel_run.ts";
import type { TaprioMeasurement } from "../taprio.ts";

/** The plan's name in the guest's /lab/extra. */
export const PLAN_FILE = "bench-plan.json";

/** The guest scenario, relative to the repository root. */
export const GUEST_SCENARIO = "bench/lab/guest.ts";

/** Repository paths the guest scenario imports. */
export const GUEST_REPO_PATHS: readonly string[] = ["bench", "bpf", "sim", "strategies"];

/** The plan file's content. */
export interface GuestPlan {
  /** The lab kernel id the guest reports as (`6.1`, `6.12`). */
  readonly kernel: string;
  readonly plan: KernelPlan;
  /** Each bench object's file name in /lab/extra. */
  readonly objects: Readonly<Record<keyof BenchObjects, string>>;
  /** The taprio measurement, or null to skip it. */
  readonly taprio: TaprioPlan | null;
}

/** What taprio measures in a guest. */
export interface TaprioPlan {
  /** Records per talker. */
  readonly count: number;
  /**
   * Cycle scales, one measurement each: 1 is the 40 us cycle; under TCG its windows are narrower
   * than the emulated timers' jitter, so a stretched cycle (TAPRIO_TCG_SCALE) shows the gating.
   */
  readonly scales: readonly number[];
}

/** What the guest scenario writes as its result. */
export interface GuestResult {
  readonly outcome: KernelOutcome;
  /** One taprio measurement per scale asked for. */
  readonly taprio: TaprioMeasurement[];
  /** Why a taprio measurement failed, if one did. */
  readonly taprioError: string | null;
}
