/**
 * The README's demo command, end to end, as root: `deno task demo` (= `deno run -A cli/main.ts
 * demo`) must show priorities lost without tsn-proxy and restored with it, for every strategy,
 * leave nothing behind, and clean up when interrupted with Ctrl-C in the middle of a run.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { exists, leftovers, requireKernelTests, spawn } from "@tsn-proxy/sim";
import { type DemoResult, runDemo } from "./demo.ts";

// The CLI entry, as `deno task demo` runs it (the demo is its lazily loaded command).
const MAIN = fileURLToPath(import.meta.resolve("@tsn-proxy/cli/main"));

/** Everything a demo with this prefix could leave: netns, pins, temp dirs, processes. */
async function traces(prefix: string, distDir?: string): Promise<string[]> {
  const out = await leftovers(prefix);
  for await (const e of Deno.readDir(tmpDir())) {
    if (e.name.startsWith(prefix)) out.push(`${tmpDir()}/${e.name}`);
  }
  if (distDir && await exists(distDir)) out.push(distDir);
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).replaceAll("\0", " ");
      if (cmd.includes(prefix)) out.push(`process ${e.name}: ${cmd.slice(0, 400)}`);
    } catch { /* exited */ }
  }
  return out;
}

function tmpDir(): string {
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

function checkResult(r: DemoResult, strategy: string): void {
  equal(r.strategy, strategy);
  deepEqual(r.chains, { without: ["bridge"], with: ["bridge", "tsn-proxy"] });
  for (const p of r.pods) {
    for (const [run, c] of [["without", p.without], ["with", p.with]] as const) {
      equal(c.packets, r.packetsPerPod, `${p.pod} ${run}: every datagram seen at the NIC`);
      equal(c.prioWrong, 0, `${p.pod} ${run}: wrong priorities`);
      equal(c.txtimeWrong, 0, `${p.pod} ${run}: wrong or invented txtimes`);
    }
    if (p.optIn) {
      equal(p.without.prioRight, 0, `${p.pod}: priority survived without the proxy?`);
      equal(p.with.prioRight, p.with.packets, `${p.pod}: restored with the proxy`);
      ok(p.addMs?.["tsn-proxy"] !== undefined, `${p.pod}: went through the tsn-proxy plugin`);
    } else {
      equal(p.with.prioRight, p.with.packets, `${p.pod}: best effort stays priority 0`);
    }
    if (p.clock === "tai" && r.txtimeKeptByKernel) {
      equal(p.without.txtimeRight, p.without.packets, `${p.pod}: the kernel keeps TAI txtimes`);
      equal(p.with.txtimeRight, p.with.packets, `${p.pod}: the proxy left them intact`);
    }
  }
  const optedIn = r.pods.filter((p) => p.optIn).length;
  equal(Number(r.counters.restored), optedIn * r.packetsPerPod, "restored = opted-in datagrams");
  equal(Number(r.counters.rejectedFingerprint), 0);
  const attached = (r.agentEvents ?? []).filter((e) => e.event === "pod.attached");
  deepEqual(attached.map((e) => e.pod).sort(), ["tsa-prio1", "tsa-prio2"]);
  ok(attached.every((e) => e.maxPriority === 3), "the demo namespace's policy maximum");
}

Deno.test("tsnproxy demo --json (skb-addr): lost without, restored with, nothing left", async () => {
  requireKernelTests();
  const proc = spawn([Deno.execPath(), "run", "-A", MAIN, "demo", "--json", "--duration", "1"]);
  const status = await proc.wait(120_000);
  const stderr = proc.stderr;
  equal(status.code, 0, stderr);
  const prefix = /names: (tsndemo[0-9a-f]{4})-/.exec(stderr)?.[1];
  ok(prefix, stderr);
  const dist = /into (\S+tsn-dist-\S+)/.exec(stderr)?.[1];
  for (const step of ["[1/9", "[5/9", "[9/9"]) ok(stderr.includes(step), `progress ${step}`);
  checkResult(JSON.parse(proc.stdout) as DemoResult, "skb-addr");
  deepEqual(await traces(prefix, dist), []);
});

Deno.test("runDemo() with skb-data: lost without, restored with, nothing left", async () => {
  requireKernelTests();
  const prefix = `tsndemo${crypto.randomUUID().slice(0, 4)}`;
  const r = await runDemo({ strategy: "skb-data", seconds: 1, prefix });
  checkResult(r, "skb-data");
  deepEqual(r.trackers, [], "skb-data loads no tracker");
  deepEqual(await traces(prefix), []);
});

Deno.test("tsnproxy demo cleans up after Ctrl-C in the middle of the run with tsn-proxy", async () => {
  requireKernelTests();
  const proc = spawn([Deno.execPath(), "run", "-A", MAIN, "demo", "--duration", "10"]);
  let prefix: string | undefined;
  let dist: string | undefined;
  try {
    // Mid-run: the agent is up, savers attached, talkers and receivers running.
    await proc.waitForText("traffic WITH tsn-proxy (", 90_000);
    prefix = /names: (tsndemo[0-9a-f]{4})-/.exec(proc.stderr)?.[1];
    dist = /into (\S+tsn-dist-\S+)/.exec(proc.stderr)?.[1];
    ok(prefix && dist, proc.stderr);
    await new Promise((r) => setTimeout(r, 1500));
    const before = await traces(prefix, dist);
    ok(before.some((t) => t.endsWith(`${prefix}-tsa-prio1`)), `pods exist: ${before.join(", ")}`);
    ok(before.some((t) => t.includes("agent --config")), "the agent runs");
    Deno.kill(proc.pid, "SIGINT");
    const status = await proc.wait(60_000);
    equal(status.code, 130, proc.stderr);
    ok(proc.stderr.includes("cleaned up"), proc.stderr);
    equal(proc.stdout, "", "no table after an interrupt");
    deepEqual(await traces(prefix, dist), []);
  } finally {
    await proc.stop();
  }
});
