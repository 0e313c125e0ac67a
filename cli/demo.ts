/**
 * `tsnproxy demo`: the main job on one machine. A simulated Kubernetes node in network namespaces
 * (pods on a bridge, MASQUERADE out of a NIC veth to an external "TSN bridge"), two time-sensitive
 * pods (priorities 1 and 2, TAI txtimes) and a best-effort pod. The same traffic runs twice,
 * without and with tsn-proxy, and the table shows what the NIC saw per pod.
 *
 *   --strategy NAME   skb-addr (default) or skb-data
 *   --duration S      seconds of traffic per run (default 2)
 *   --json            machine-readable result on stdout
 *
 * Cleans up on exit and on Ctrl-C.
 *
 * @example
 * ```sh
 * sudo ./dev demo --strategy skb-data
 * ```
 */
import { parseArgs } from "node:util";
import { deleteNetns, listNetns, netns } from "@tsn-proxy/e2e";
import { type AttachedProxy, attachProxy } from "../e2e/proxy.ts";
import { runScenario, type TalkerRow, type TalkerSpec } from "../e2e/scenario.ts";
import { getStrategy, UnknownStrategyError } from "@tsn-proxy/strategies";
import { parseUint, UsageError } from "./args.ts";

const RATE_PER_S = 250;

/** The demo's pods: what each application sets on its socket. */
export const DEMO_PODS = [
  { pod: "tsa-prio1", priority: 1, clock: "tai", optIn: true },
  { pod: "tsa-prio2", priority: 2, clock: "tai", optIn: true },
  { pod: "best-effort", priority: 0, clock: "none", optIn: false },
] as const;

/** One pod's outcome in one run. */
export interface DemoCell {
  readonly packets: number;
  readonly prioRight: number;
  readonly prioZero: number;
  readonly prioWrong: number;
  readonly txtimeRight: number;
}

/** The demo's result. */
export interface DemoResult {
  readonly strategy: string;
  readonly packetsPerPod: number;
  readonly pods: ReadonlyArray<
    {
      pod: string;
      priority: number;
      clock: string;
      optIn: boolean;
      without: DemoCell;
      with: DemoCell;
    }
  >;
  readonly counters: Record<string, string>;
}

function cell(r: TalkerRow): DemoCell {
  return {
    packets: r.packets,
    prioRight: r.prioRight,
    prioZero: r.prioZero,
    prioWrong: r.prioWrong,
    txtimeRight: r.txtimeRight,
  };
}

function progress(msg: string): void {
  console.error(`  ▸ ${msg}`);
}

async function cleanupPrefix(prefix: string): Promise<void> {
  for (const name of await listNetns(prefix)) await deleteNetns(netns(name)).catch(() => {});
  await Deno.remove(`/sys/fs/bpf/${prefix}`, { recursive: true }).catch(() => {});
}

/** Runs the demo; the table (or JSON) goes to stdout, progress to stderr. */
export async function runDemo(strategy: string, seconds: number): Promise<DemoResult> {
  const count = Math.min(10_000, Math.max(1, Math.round(seconds * RATE_PER_S)));
  const talkers: TalkerSpec[] = DEMO_PODS.map((p) => ({
    pod: p.pod,
    protocol: "udp",
    tool: "txtime",
    clock: p.clock,
    priority: p.priority,
    count,
    intervalUs: Math.round(1e6 / RATE_PER_S),
    name: p.pod,
  }));
  const prefix = `tsndemo${Deno.pid.toString(16)}`;
  let proxy: AttachedProxy | undefined;
  const onSignal = () => {
    console.error("\n  interrupted: cleaning up");
    try {
      proxy?.down();
    } catch { /* the namespaces go next anyway */ }
    cleanupPrefix(prefix).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    progress(`run 1/2: ${count} packets per pod WITHOUT tsn-proxy`);
    const without = await runScenario({ kind: "bridge-nat", talkers, prefix: `${prefix}a` });
    progress(`run 2/2: the same WITH tsn-proxy (${strategy})`);
    let counters: Record<string, string> = {};
    const withProxy = await runScenario({
      kind: "bridge-nat",
      talkers,
      prefix: `${prefix}b`,
      hooks: {
        beforeTraffic(topo) {
          progress("loading the datapath, restorer on nic0, savers on opted-in pods");
          proxy = attachProxy(topo, {
            strategy,
            optedIn: DEMO_PODS.filter((p) => p.optIn).map((p) => p.pod),
          });
        },
        afterTraffic() {
          counters = Object.fromEntries(
            Object.entries(proxy!.stats().counters).map(([k, v]) => [k, String(v)]),
          );
          proxy!.down();
          proxy = undefined;
        },
      },
    });
    const row = (rows: TalkerRow[], pod: string) => {
      const r = rows.find((x) => x.talker === pod);
      if (!r) throw new Error(`no result for ${pod}`);
      return cell(r);
    };
    return {
      strategy,
      packetsPerPod: count,
      pods: DEMO_PODS.map((p) => ({
        pod: p.pod,
        priority: p.priority,
        clock: p.clock,
        optIn: p.optIn,
        without: row(without.rows, p.pod),
        with: row(withProxy.rows, p.pod),
      })),
      counters,
    };
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanupPrefix(prefix);
  }
}

function describe(c: DemoCell, expected: number, clock: string): string {
  let prio: string;
  if (c.prioRight === c.packets) prio = `prio ${expected} on all ${c.packets}`;
  else if (c.prioZero === c.packets) prio = `prio 0 on all ${c.packets} (lost)`;
  else prio = `prio ${expected} on ${c.prioRight}/${c.packets}, 0 on ${c.prioZero}`;
  const wrong = c.prioWrong ? `, ${c.prioWrong} WRONG` : "";
  const tx = clock === "none" ? "" : `, txtime intact ${c.txtimeRight}/${c.packets}`;
  return prio + wrong + tx;
}

/** Whether a kernel release keeps typed (TAI) tstamps across netns crossings: 6.11 and later. */
export function txtimeKeptByKernel(release: string): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  return major > 6 || (major === 6 && minor >= 11);
}

/** The side-by-side table. */
export function formatDemo(r: DemoResult): string {
  const head = [
    "pod",
    "app sets",
    "NIC saw without tsn-proxy",
    `NIC saw with tsn-proxy (${r.strategy})`,
  ];
  const rows = r.pods.map((p) => [
    `${p.pod}${p.optIn ? "" : " (not opted in)"}`,
    `SO_PRIORITY ${p.priority}${p.clock === "none" ? "" : `, ${p.clock.toUpperCase()} txtime`}`,
    describe(p.without, p.priority, p.clock),
    describe(p.with, p.priority, p.clock),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  const c = r.counters;
  return [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `datapath counters: saved ${c.saved}, restored ${c.restored}, missed ${c.missed} ` +
    `(node traffic and pods that did not opt in), rejected ${c.rejectedFingerprint} by fingerprint, ` +
    `${c.rejectedStale} stale`,
    `kernel ${Deno.osRelease()}: ${
      txtimeKeptByKernel(Deno.osRelease())
        ? "keeps TAI txtimes across the veth (6.11+); the proxy leaves them as they are"
        : "clears TAI txtimes across the veth (before 6.11); the proxy restores them"
    }`,
  ].join("\n");
}

/** Entry point of `tsnproxy demo`. */
export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      strategy: { type: "string", default: "skb-addr" },
      duration: { type: "string", default: "2" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  try {
    getStrategy(values.strategy);
  } catch (e) {
    if (e instanceof UnknownStrategyError) throw new UsageError(e.message);
    throw e;
  }
  const seconds = parseUint("duration", values.duration, 1, 30);
  if (Deno.uid?.() !== 0) throw new UsageError("the demo needs root (network namespaces, BPF)");
  console.error(
    `tsn-proxy demo: a simulated node (bridge + MASQUERADE to a TSN NIC), ${seconds}s runs`,
  );
  const result = await runDemo(values.strategy, seconds);
  console.log(values.json ? JSON.stringify(result, null, 2) : formatDemo(result));
  return 0;
}
