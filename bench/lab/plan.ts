/**
 * What the host hands a lab guest for one benchmark run: the kernel plan, the names of the bench
 * objects compiled on the host, and the taprio measurement. Both sides import it, so the file
 * names and the shape cannot drift apart.
 *
 * @module
 */
import type { BenchObjects } from "../bpf/build.ts";
import type { KernelOutcome, KernelPlan } from "../kernel_run.ts";

/** The plan's name in the guest's /lab/extra. */
export const PLAN_FILE = "bench-plan.json";

/** The guest scenario, relative to the repository root. */
export const GUEST_SCENARIO = "bench/lab/guest.ts";

/** Repository paths the guest scenario imports. */
export const GUEST_REPO_PATHS: readonly string[] = ["bench", "bpf", "e2e", "strategies"];

/** The plan file's content. */
export interface GuestPlan {
  /** The lab kernel id the guest reports as (`6.1`, `6.12`). */
  readonly kernel: string;
  readonly plan: KernelPlan;
  /** Each bench object's file name in /lab/extra. */
  readonly objects: Readonly<Record<keyof BenchObjects, string>>;
  /** Records per taprio talker, or null to skip taprio. */
  readonly taprioCount: number | null;
}

/** What the guest scenario writes as its result. */
export interface GuestResult {
  readonly outcome: KernelOutcome;
  /** The taprio measurement (null when not asked for). */
  readonly taprio: unknown;
  /** Why the taprio measurement failed, if it did. */
  readonly taprioError: string | null;
}
