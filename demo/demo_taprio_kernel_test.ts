/**
 * `tsnproxy demo --taprio --json` on 6.12, end to end: one QEMU boot of the kernel lab runs
 * vm-taprio; the per-class counts must say what lab/vm/checks.ts checkTaprio asserts: without
 * tsn-proxy every pod packet goes through best effort (TC3), with each strategy the priority-1 and
 * priority-2 pods' packets go through TC1 and TC2, and nothing through the unused TC0.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { spawn } from "@tsn-proxy/sim";
import { minRestored } from "@tsn-proxy/lab/checks";
import { TAPRIO_PODS, type TaprioDemoResult } from "./demo_taprio.ts";

// The CLI entry, as `deno task demo` runs it (the demo is its lazily loaded command).
const MAIN = fileURLToPath(import.meta.resolve("@tsn-proxy/cli/main"));

Deno.test("tsnproxy demo --taprio --json (6.12): best effort without, own gates with", async () => {
  const proc = spawn([Deno.execPath(), "run", "-A", MAIN, "demo", "--taprio", "--json"]);
  const status = await proc.wait(480_000);
  equal(status.code, 0, proc.stderr);
  for (const step of ["[1/5", "[3/5", "[4/5", "[5/5"]) {
    ok(proc.stderr.includes(step), `progress ${step}`);
  }
  const r = JSON.parse(proc.stdout) as TaprioDemoResult;
  equal(r.kernel.id, "6.12");
  ok(r.kernel.release.startsWith("6.12."), r.kernel.release);
  deepEqual(r.failures, []);
  const n = r.packetsPerPod;
  equal(n, 100);
  deepEqual(r.strategies, ["skb-addr", "skb-data"]);
  // The node's own frames (its ARP request) go through best effort too: fewer than 20.
  const w = r.without;
  deepEqual([w.classes.TC0, w.classes.TC1, w.classes.TC2], [0, 0, 0], "without: TC0-TC2");
  ok(w.classes.TC3! >= 3 * n && w.classes.TC3! < 3 * n + 20, `without: TC3 ${w.classes.TC3}`);
  equal(w.restored, null);
  for (const p of TAPRIO_PODS) {
    deepEqual(w.pods[p.talker], { packets: n, prioRight: p.optIn ? 0 : n }, `without ${p.talker}`);
  }
  deepEqual(r.with.map((x) => x.strategy), ["skb-addr", "skb-data"]);
  for (const run of r.with) {
    const s = run.strategy;
    equal(run.classes.TC0, 0, `${s}: TC0 unused`);
    // skb-data's key moves with the data buffer: it may lose a few (never misplace one).
    const min = minRestored(s ?? "", n);
    let restored = 0;
    for (const p of TAPRIO_PODS) {
      const pod = run.pods[p.talker]!;
      equal(pod.packets, n, `${s} ${p.talker}: packets`);
      if (p.optIn) {
        ok(pod.prioRight >= min, `${s} ${p.talker}: ${pod.prioRight} restored, want >= ${min}`);
        equal(run.classes[p.tc], pod.prioRight, `${s}: ${p.tc}`);
        restored += pod.prioRight;
      } else {
        equal(pod.prioRight, n, `${s} ${p.talker}: best effort stays 0`);
      }
    }
    // Best effort: pod c, the packets the strategy lost, and the node's own frames (< 20).
    const extra = run.classes.TC3! - (3 * n - restored);
    ok(extra >= 0 && extra < 20, `${s}: TC3 ${run.classes.TC3}`);
    equal(run.restored, restored, `${s}: restored`);
  }
});
