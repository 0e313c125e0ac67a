/**
 * Lab guest scenario of the benchmark (run by lab/guest/run.sh inside a 6.1 or 6.12 guest): reads
 * the plan the host put in /lab/extra, measures it with a HostRunner on the guest's kernel (the
 * same code the host bench runs) and writes a {@link GuestResult}. Progress goes to stdout, which
 * the host streams from the serial console.
 *
 * @module
 */
import { GUEST_EXTRA } from "@tsn-proxy/lab/share";
import { writeResult } from "@tsn-proxy/lab/guest/result";
import type { BenchObjects } from "../bpf/build.ts";
import { HostRunner } from "../host_runner.ts";
import { measureKernel } from "../kernel_run.ts";
import { measureTaprio, type TaprioMeasurement } from "../taprio.ts";
import { type GuestPlan, type GuestResult, PLAN_FILE } from "./plan.ts";

const log = (line: string) => console.log(`bench: ${line}`);
const given = JSON.parse(await Deno.readTextFile(`${GUEST_EXTRA}/${PLAN_FILE}`)) as GuestPlan;
const objects = Object.fromEntries(
  Object.entries(given.objects).map(([role, name]) => [role, `${GUEST_EXTRA}/${name}`]),
) as unknown as BenchObjects;
const runner = HostRunner.fromObjects(
  objects,
  { id: given.kernel, release: Deno.osRelease(), runner: "lab" },
  log,
);
const outcome = await measureKernel(runner, given.plan, log);
const taprio: TaprioMeasurement[] = [];
let taprioError: string | null = null;
for (const cycleScale of given.taprio?.scales ?? []) {
  try {
    taprio.push(
      await measureTaprio({
        gateObject: objects.gate,
        strategies: given.plan.strategies,
        store: given.plan.store,
        count: given.taprio!.count,
        cycleScale,
        log,
      }),
    );
  } catch (e) {
    taprioError = `cycle x${cycleScale}: ${e instanceof Error ? e.message : String(e)}`;
    log(`taprio failed: ${taprioError}`);
  }
}
const result: GuestResult = { outcome, taprio, taprioError };
await writeResult({ ...result });
