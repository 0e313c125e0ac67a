/**
 * The demo's result and its side-by-side table: per pod what the application set and what the
 * node's NIC saw without and with tsn-proxy, then the datapath counters, the CNI chain and what
 * the kernel does with txtimes.
 *
 * @example
 * ```ts ignore
 * import { formatDemo } from "./demo_format.ts";
 * console.log(formatDemo(await runDemo({ strategy: "skb-addr", seconds: 2 })));
 * ```
 */

/** The demo's pods: what each application sets on its socket and whether it opts in. */
export const DEMO_PODS = [
  { pod: "tsa-prio1", priority: 1, clock: "tai", optIn: true },
  { pod: "tsa-prio2", priority: 2, clock: "tai", optIn: true },
  { pod: "best-effort", priority: 0, clock: "none", optIn: false },
] as const;

/** One pod's outcome at the NIC in one run. */
export interface DemoCell {
  /** Record datagrams the observer saw on the NIC. */
  readonly packets: number;
  /** ... with the priority the application set. */
  readonly prioRight: number;
  /** ... with priority 0. */
  readonly prioZero: number;
  /** ... with any other priority. */
  readonly prioWrong: number;
  /** ... whose txtime arrived with its value and clock type. */
  readonly txtimeRight: number;
  /** ... whose txtime was gone. */
  readonly txtimeMissing: number;
  /** ... with another txtime or clock type, or a tstamp nobody set. */
  readonly txtimeWrong: number;
  /** Records the far end received. */
  readonly received: number;
}

/** One pod of the demo. */
export interface DemoPod {
  readonly pod: string;
  readonly priority: number;
  readonly clock: string;
  readonly optIn: boolean;
  readonly without: DemoCell;
  readonly with: DemoCell;
  /** The CNI ADD of the run with tsn-proxy: ms per plugin of the chain. */
  readonly addMs?: Readonly<Record<string, number>>;
}

/** The demo's result (also its `--json` output). */
export interface DemoResult {
  readonly strategy: string;
  readonly kernel: string;
  /** The kernel keeps TAI txtimes across the veth (6.11+). */
  readonly txtimeKeptByKernel: boolean;
  readonly packetsPerPod: number;
  readonly pods: readonly DemoPod[];
  /** BPF counters after the run with tsn-proxy (decimal strings). */
  readonly counters: Readonly<Record<string, string>>;
  /** The CNI chain of each run, plugin types in order. */
  readonly chains?: { readonly without: readonly string[]; readonly with: readonly string[] };
  /** Tracker outcome at load. */
  readonly trackers?: ReadonlyArray<{ program: string; state: string; reason?: string }>;
  /** Restorers: interface and attach mode. */
  readonly restorers?: ReadonlyArray<{ ifname: string; mode: string }>;
  /** The agent's decisions (its JSON log lines with an event). */
  readonly agentEvents?: ReadonlyArray<Record<string, unknown>>;
  /** Wall time of the phases, ms. */
  readonly timings?: Readonly<Record<string, number>>;
}

/** Whether a kernel release keeps typed (TAI) tstamps across netns crossings: 6.11 and later. */
export function txtimeKeptByKernel(release: string): boolean {
  const [major = 0, minor = 0] = release.split(/[.-]/).map(Number);
  return major > 6 || (major === 6 && minor >= 11);
}

function describe(c: DemoCell, expected: number, clock: string): string {
  let prio: string;
  if (c.packets === 0) return "nothing reached the NIC";
  if (c.prioRight === c.packets) prio = `prio ${expected} on all ${c.packets}`;
  else if (c.prioZero === c.packets) prio = `prio 0 on all ${c.packets} (lost)`;
  else prio = `prio ${expected} on ${c.prioRight}/${c.packets}, 0 on ${c.prioZero}`;
  const wrong = c.prioWrong ? `, ${c.prioWrong} WRONG` : "";
  let tx = "";
  if (clock !== "none") {
    tx = `, txtime intact ${c.txtimeRight}/${c.packets}`;
    if (c.txtimeMissing) tx += ` (${c.txtimeMissing} lost)`;
  }
  const txWrong = c.txtimeWrong ? `, ${c.txtimeWrong} txtime WRONG` : "";
  return prio + wrong + tx + txWrong;
}

/** The side-by-side table and its footer. */
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
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const c = r.counters;
  const out = [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `datapath counters: saved ${c.saved}, restored ${c.restored}, missed ${c.missed} ` +
    `(node traffic and pods that did not opt in), rejected ${c.rejectedFingerprint} by fingerprint, ` +
    `${c.rejectedOrigin} by origin, ${c.rejectedStale} stale`,
  ];
  if (r.chains) {
    const added = r.pods.find((p) => p.optIn && p.addMs)?.addMs;
    const ms = added
      ? `; ADD of an opted-in pod: ${
        Object.entries(added).map(([k, v]) => `${k} ${Math.round(v)} ms`).join(", ")
      }`
      : "";
    out.push(
      `CNI chain: ${r.chains.without.join(" + ")}, then ${r.chains.with.join(" + ")} ` +
        `(entry placed by the agent, removed by its uninstall)${ms}`,
    );
  }
  if (r.trackers && r.restorers) {
    const refused = r.trackers.filter((t) => t.state !== "attached");
    out.push(
      `agent: restorer on ${r.restorers.map((x) => `${x.ifname} (${x.mode})`).join(", ")}` +
        (r.trackers.length === 0
          ? ", no tracker needed"
          : refused.length === 0
          ? `, tracker ${r.trackers.map((t) => t.program).join(", ")} attached`
          : `, tracker ${
            refused.map((t) => `${t.program} refused (${(t.reason ?? "").split(":")[0]})`).join(
              ", ",
            )
          }: clones reaching the NIC would lose their metadata`),
    );
  }
  out.push(
    `kernel ${r.kernel}: ${
      r.txtimeKeptByKernel
        ? "keeps TAI txtimes across the veth (6.11+); the proxy leaves them as they are"
        : "clears TAI txtimes across the veth (before 6.11); the proxy restores them"
    }`,
  );
  return out.join("\n");
}
