import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import results61 from "@tsn-proxy/lab/testdata/results-6.1.json" with { type: "json" };
import results612 from "@tsn-proxy/lab/testdata/results-6.12.json" with { type: "json" };
import { UsageError } from "@tsn-proxy/cli/args";
import { demoCommand, taprioCommand } from "./demo.ts";
import {
  formatTaprio,
  LabError,
  parseTaprio,
  resultOfFailedRun,
  TAPRIO_STEPS,
  TAPRIO_STRATEGIES,
  type TaprioDemoResult,
  taprioVerdict,
} from "./demo_taprio.ts";
import { Progress } from "@tsn-proxy/cli/progress";

/** The recorded vm-taprio result object of a kernel (lab/vm/testdata). */
function recorded(all: readonly unknown[]): Record<string, unknown> {
  const r = all.find((x) => (x as { scenario?: string }).scenario === "vm-taprio");
  ok(r, "recorded vm-taprio result");
  return structuredClone(r) as Record<string, unknown>;
}

function demoResult(data: unknown, strategies: readonly string[]): TaprioDemoResult {
  return {
    kernel: {
      id: "6.12",
      package: "linux-image-6.12.117+deb12-amd64",
      release: "6.12.117+deb12-amd64",
    },
    accel: "tcg",
    ...parseTaprio(data, strategies),
    timings: { totalMs: 1 },
  };
}

Deno.test("parseTaprio() reads the recorded per-class counts of both kernels", () => {
  for (const all of [results61, results612]) {
    const r = parseTaprio(recorded(all), TAPRIO_STRATEGIES);
    equal(r.packetsPerPod, 100);
    deepEqual(r.without.classes, { TC0: 0, TC1: 0, TC2: 0, TC3: 301 });
    deepEqual(r.with.map((x) => x.strategy), ["skb-addr", "skb-data"]);
    for (const run of r.with) {
      deepEqual(run.classes, { TC0: 0, TC1: 100, TC2: 100, TC3: 101 });
      equal(run.restored, 200);
      deepEqual(run.pods["a-prio1"], { packets: 100, prioRight: 100 });
    }
    equal(r.without.restored, null);
    deepEqual(r.without.pods["b-prio2"], { packets: 100, prioRight: 0 });
    deepEqual(r.failures, []);
  }
});

Deno.test("formatTaprio() shows both strategies side by side, labelled, with a verdict", () => {
  const text = formatTaprio(demoResult(recorded(results612), TAPRIO_STRATEGIES));
  match(
    text,
    /taprio class +gate +without tsn-proxy +with tsn-proxy \(skb-addr\) +with tsn-proxy \(skb-data\)/,
  );
  match(text, /TC0 \(100:1\) +unused.* +0 +0 +0$/m);
  match(text, /TC1 \(100:2\) +prio 1: .* +0 +100 +100$/m);
  match(text, /TC2 \(100:3\) +prio 2: .* +0 +100 +100$/m);
  match(text, /TC3 \(100:4\) +best effort .* +301 +101 +101$/m);
  match(text, /kernel 6\.12\.117\+deb12-amd64/);
  match(text, /restored: skb-addr 200, skb-data 200/);
  match(
    text,
    /^verdict: without tsn-proxy all 200 time-sensitive packets fell into best effort \(TC3\); with tsn-proxy \(skb-addr, skb-data\) every one passed its own gate/m,
  );
  ok(text.split("\n").every((l) => l === l.trimEnd()), "no trailing blanks");
});

Deno.test("formatTaprio() shows only the strategy asked for", () => {
  const text = formatTaprio(demoResult(recorded(results61), ["skb-data"]));
  match(text, /without tsn-proxy +with tsn-proxy \(skb-data\)$/m);
  ok(!text.includes("skb-addr"), text);
  match(text, /TC1 \(100:2\) .* +0 +100$/m);
});

Deno.test("taprioVerdict() says UNEXPECTED when a strategy missed its gates", () => {
  const data = recorded(results612);
  const runs = data.runs as { strategy: string | null; classes: Record<string, number> }[];
  runs.find((r) => r.strategy === "skb-data")!.classes["100:2"] = 40;
  const v = taprioVerdict(demoResult(data, TAPRIO_STRATEGIES));
  match(v, /^verdict: UNEXPECTED: skb-data did not put every time-sensitive packet through/);
  match(taprioVerdict(demoResult(data, ["skb-addr"])), /every one passed its own gate/);
});

Deno.test("parseTaprio() refuses other scenarios, failed runs and missing runs", () => {
  throws(() => parseTaprio({ scenario: "vm-etf", runs: [] }, []), /expected a vm-taprio result/);
  const data = recorded(results612);
  (data.runs as Record<string, unknown>[])[1]!.error = "boom";
  throws(() => parseTaprio(data, ["skb-addr"]), /vm-taprio run skb-addr failed: boom/);
  const one = recorded(results612);
  one.runs = (one.runs as { strategy: string | null }[]).filter((r) => r.strategy !== "skb-data");
  throws(() => parseTaprio(one, ["skb-data"]), /no run skb-data/);
  throws(() => parseTaprio(undefined, []), /not an object/);
});

Deno.test("demo --taprio: bad options are usage errors before anything boots", async () => {
  await rejects(demoCommand(["--taprio", "--kernel", "5.10"]), UsageError);
  await rejects(demoCommand(["--taprio", "--strategy", "nope"]), UsageError);
  await rejects(demoCommand(["--taprio", "--duration", "3"]), UsageError);
  await rejects(demoCommand(["--kernel", "6.1"]), /--kernel needs --taprio/);
});

Deno.test("demo --taprio: a failed guest prints the lab's error with the serial tail, exit 1", async () => {
  const lines: string[] = [];
  const progress = new Progress(TAPRIO_STEPS, { write: (s) => lines.push(s), tty: false });
  const err = new LabError(
    "lab 6.12 (linux-image-6.12.117+deb12-amd64 6.12.117-1~deb12u1, tcg) failed:\n" +
      "  - timed out after 420 s (QEMU killed)\n--- last 60 serial lines ---\n" +
      "[   12.3] Kernel panic - not syncing\n--- end of serial log ---",
    "6.12",
    ["timed out after 420 s (QEMU killed)"],
    "",
    [],
  );
  const code = await taprioCommand("6.12", "skb-addr", false, () => Promise.reject(err), progress);
  equal(code, 1);
  const text = lines.join("");
  match(text, /the guest run failed\nlab 6\.12 .* failed:\n {2}- timed out after 420 s/);
  match(text, /last 60 serial lines ---\n\[ +12\.3\] Kernel panic/);
});

Deno.test("resultOfFailedRun() keeps the counts of a run whose checks failed", () => {
  const data = recorded(results612);
  const runs = data.runs as { strategy: string | null; classes: Record<string, number> }[];
  Object.assign(runs.find((r) => r.strategy === "skb-data")!.classes, { "100:3": 0, "100:4": 201 });
  data.failures = ["taprio skb-data b-prio2: priorities restored >= 97/100 (0)"];
  const scenario = { name: "vm-taprio", exit: 1, ms: 1, data, output: [], ok: false };
  const err = new LabError(
    "lab 6.12 (x, tcg) failed:\n  - scenario vm-taprio: exit 1",
    "6.12",
    [
      "scenario vm-taprio: exit 1",
    ],
    "",
    [scenario],
  );
  const r = resultOfFailedRun(err, TAPRIO_STRATEGIES);
  ok(r);
  equal(r.accel, "tcg");
  const text = formatTaprio(r);
  match(text, /TC2 \(100:3\) .* +0 +100 +0$/m);
  match(text, /verdict: UNEXPECTED: skb-data did not .*; check failed: taprio skb-data b-prio2/);
  equal(resultOfFailedRun(new LabError("x", "6.12", [], "", []), TAPRIO_STRATEGIES), undefined);
});
