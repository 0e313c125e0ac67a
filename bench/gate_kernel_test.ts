/**
 * The gate probe (bench/gate.ts, bench/bpf/gate.bpf.c) on the host kernel, which has no taprio:
 * gate_far at the far end's ingress of a bridge-nat topology counts every packet of a mapped
 * talker exactly once, in its own row, and nothing of a port it was not given; the fold uses
 * CLOCK_TAI. gate_xmit (tp_btf) is checked against the NIC's observer where the kernel lets it
 * attach. Root; everything is removed afterwards.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import {
  BIN,
  exec,
  leftovers,
  requireKernelTests,
  runScenario,
  type TalkerSpec,
  uniquePrefix,
} from "@tsn-proxy/sim";
import { buildBenchObjects } from "./bpf/build.ts";
import { attachGate, type GateProbe } from "./gate.ts";
import { FAR_PORT } from "./taprio.ts";

requireKernelTests();

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

const CLOCK_TAI = 11;

/** CLOCK_TAI now, in ns (the clock of bpf_ktime_get_tai_ns()). */
function taiNs(): bigint {
  const libc = Deno.dlopen("libc.so.6", {
    clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  });
  try {
    const ts = new BigInt64Array(2);
    equal(libc.symbols.clock_gettime(CLOCK_TAI, new Uint8Array(ts.buffer)), 0);
    return ts[0]! * 1_000_000_000n + ts[1]!;
  } finally {
    libc.close();
  }
}

/** The gate programs loaded anywhere on this machine. */
async function loadedGatePrograms(): Promise<string[]> {
  const out = await exec([BIN.bpftool, "-j", "prog", "show"]);
  return (JSON.parse(out.stdout) as { name?: string }[])
    .map((p) => p.name ?? "")
    .filter((n) => n === "gate_far" || n === "gate_xmit")
    .sort();
}

/**
 * Waits (bounded) until the loaded gate programs are `want` again: the kernel frees a program
 * after an RCU grace period (a tracing program's trampoline after an RCU-tasks one), not at close.
 */
async function gateProgramsSettle(want: readonly string[], timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let now = await loadedGatePrograms();
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    if (now.join() === want.join()) break;
    await new Promise((r) => setTimeout(r, 50));
    now = await loadedGatePrograms();
  }
  return now;
}

async function withObject(fn: (object: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsn-bench-gate-" });
  try {
    await fn((await buildBenchObjects(dir)).gate);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "attachGate() counts each mapped talker once in its row, and no other port",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withObject(async (object) => {
      const before = await loadedGatePrograms();
      const prefix = uniquePrefix();
      const talkers: TalkerSpec[] = [
        { pod: "a", protocol: "udp", tool: "txtime", priority: 1, count: 60, name: "a" },
        { pod: "b", protocol: "udp", tool: "socat", priority: 2, count: 40, name: "b" },
        // Its port is not given to the probe: it must not show up anywhere.
        { pod: "c", protocol: "udp", tool: "txtime", priority: 0, count: 25, name: "c" },
      ];
      let gate: GateProbe | undefined;
      const seen: Record<string, { far: number[]; nic: number[] }> = {};
      let totals = { far: -1, nic: -1 };
      let nicState = "";
      try {
        const { rows } = await runScenario({
          kind: "bridge-nat",
          prefix,
          talkers,
          hooks: {
            beforeTraffic(topo, ctx) {
              gate = attachGate({
                object,
                far: { ns: topo.ext.ns, ifname: FAR_PORT },
                nic: { ns: topo.node.ns, ifname: topo.node.nic },
                cycleNs: 40_000,
                binNs: 1_000,
                ports: ctx.talkers.slice(0, 2).map((t) => t.port),
              });
            },
            afterTraffic(_topo, ctx) {
              const g = gate!;
              for (const t of ctx.talkers.slice(0, 2)) {
                seen[t.name] = { far: g.bins("far", t.port), nic: g.bins("nic", t.port) };
              }
              totals = { far: g.total("far"), nic: g.total("nic") };
              nicState = g.nic;
              g.close();
            },
          },
        });
        const [a, b, c] = rows;
        deepStrictEqual([a?.received, b?.received, c?.received], [60, 40, 25], "received");
        for (const r of [a!, b!]) {
          const s = seen[r.talker]!;
          equal(s.far.length, 40, "bins");
          equal(sum(s.far), r.received, `${r.talker}: far-end histogram vs received`);
        }
        equal(totals.far, 100, "far end: every counted packet is a's or b's");
        if (nicState === "attached") {
          for (const r of [a!, b!]) {
            equal(sum(seen[r.talker]!.nic), r.packets, `${r.talker}: NIC histogram vs observer`);
          }
          equal(totals.nic, 100, "NIC: every counted packet is a's or b's");
        } else {
          ok(nicState.startsWith("unavailable: "), nicState);
          equal(totals.nic, 0);
        }
      } finally {
        (gate as GateProbe | undefined)?.close();
      }
      deepStrictEqual(await leftovers(prefix), []);
      console.log(`gate_xmit on this kernel: ${nicState}`);
      deepStrictEqual(await gateProgramsSettle(before), before, "gate programs left loaded");
    }),
});

Deno.test({
  name: "attachGate() folds CLOCK_TAI into the cycle",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withObject(async (object) => {
      // 256 bins of 10 ms: every packet sent between two TAI readings lands between their bins.
      const binNs = 10_000_000, cycleNs = 256 * binNs;
      const fold = (t: bigint) => Number((t % BigInt(cycleNs)) / BigInt(binNs));
      let gate: GateProbe | undefined;
      let bins: number[] = [];
      let t0 = 0n, t1 = 0n;
      try {
        const { rows } = await runScenario({
          kind: "bridge-nat",
          talkers: [{ pod: "a", protocol: "udp", tool: "txtime", priority: 0, count: 5 }],
          hooks: {
            beforeTraffic(topo, ctx) {
              gate = attachGate({
                object,
                far: { ns: topo.ext.ns, ifname: FAR_PORT },
                cycleNs,
                binNs,
                ports: [ctx.talkers[0]!.port],
              });
              t0 = taiNs();
            },
            afterTraffic(_topo, ctx) {
              t1 = taiNs();
              bins = gate!.bins("far", ctx.talkers[0]!.port);
              equal(gate!.nic, "not requested");
              gate!.close();
            },
          },
        });
        equal(sum(bins), rows[0]!.received);
        ok(rows[0]!.received === 5);
        ok(t1 - t0 < BigInt(cycleNs), `traffic took ${t1 - t0} ns, longer than the cycle`);
        const lo = fold(t0), span = (fold(t1) - lo + 256) % 256;
        for (const [i, n] of bins.entries()) {
          if (n) ok((i - lo + 256) % 256 <= span, `bin ${i} outside ${lo}..${lo + span}`);
        }
      } finally {
        (gate as GateProbe | undefined)?.close();
      }
    }),
});
