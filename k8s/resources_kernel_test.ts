/**
 * The DaemonSet's requests and limits rest on a measurement (k8s/README.md "Resources"); this
 * measures again, shorter, and fails when the agent no longer fits them: steady RSS within the
 * memory request, peak RSS within 80 % of the memory limit, idle CPU within the CPU request.
 */
import { ok } from "node:assert/strict";
import { requireKernelTests } from "@tsn-proxy/sim/require_root";
import { AGENT_RESOURCES } from "./manifest.ts";
import { formatMeasurement, measureAgent } from "./measure_agent.ts";

function mib(q: string): number {
  const m = /^(\d+)Mi$/.exec(q);
  if (!m) throw new Error(`not a Mi quantity: ${q}`);
  return Number(m[1]);
}

function millicores(q: string): number {
  return q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

Deno.test("the agent fits the DaemonSet's requests and limits (pod churn with API lookups)", async () => {
  requireKernelTests();
  const m = await measureAgent({ pods: 24, idleSeconds: 10, concurrency: 4 });
  console.log(formatMeasurement(m));
  const request = mib(AGENT_RESOURCES.requests.memory);
  const limit = mib(AGENT_RESOURCES.limits.memory);
  ok(
    m.idleAfter.rssEndMiB <= request,
    `steady RSS ${m.idleAfter.rssEndMiB} MiB > request ${request} MiB`,
  );
  ok(m.peakRssMiB <= 0.8 * limit, `peak RSS ${m.peakRssMiB} MiB > 80 % of limit ${limit} MiB`);
  const cpu = millicores(AGENT_RESOURCES.requests.cpu);
  ok(m.idle.millicores <= cpu, `idle CPU ${m.idle.millicores} m > request ${cpu} m`);
  ok(m.churn.cpuMsPerPod < 100, `${m.churn.cpuMsPerPod} ms CPU per pod`);
});
