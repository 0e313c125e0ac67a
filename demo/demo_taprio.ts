/**
 * `tsnproxy demo --taprio`: the demo's story on a kernel that has taprio. The host kernel has none,
 * so this boots a kernel-lab guest (Debian's stock 6.12 or 6.1 under QEMU, `@tsn-proxy/lab`) and
 * runs the lab's `vm-taprio` scenario in it: nic0 gets a 4-class taprio (40 us cycle; priority 1 →
 * TC1, 2 → TC2, everything else → TC3, best effort; TC0 unused), pods a (prio 1) and b (prio 2)
 * opt in, pod c is best effort; the same traffic runs without tsn-proxy and with each strategy,
 * and the per-class packet counts of taprio's children show where the packets went.
 *
 * @example
 * ```ts ignore
 * import { formatTaprio, runTaprioDemo } from "./demo_taprio.ts";
 * console.log(formatTaprio(await runTaprioDemo({ kernel: "6.12", strategies: ["skb-addr"] })));
 * ```
 */
import {
  type KernelId,
  KERNELS,
  LabError,
  type LabResult,
  runLab,
  VM_REPO_PATHS,
} from "@tsn-proxy/lab";
import { Progress } from "@tsn-proxy/cli/progress";

/** The lab scenario this runs. */
const TAPRIO_SCENARIO = "vm-taprio";
/** The strategies the scenario always runs, in its order. */
export const TAPRIO_STRATEGIES = ["skb-addr", "skb-data"] as const;

/** vm-taprio's classes (lab/vm/checks.ts TAPRIO: class 100:N is TC N-1's child qdisc). */
const TAPRIO_CLASSES = [
  { tc: "TC0", cls: "100:1", gate: "unused (no priority maps to it)" },
  { tc: "TC1", cls: "100:2", gate: "prio 1: open 0-10 us of 40" },
  { tc: "TC2", cls: "100:3", gate: "prio 2: open 10-20 us of 40" },
  { tc: "TC3", cls: "100:4", gate: "best effort (prio 0, 3-15): 20-40 us" },
] as const;

/** vm-taprio's talkers: pod, priority, the class it belongs to. */
export const TAPRIO_PODS = [
  { talker: "a-prio1", priority: 1, tc: "TC1", optIn: true },
  { talker: "b-prio2", priority: 2, tc: "TC2", optIn: true },
  { talker: "c-best-effort", priority: 0, tc: "TC3", optIn: false },
] as const;

/** One run of the scenario (without the proxy, or with one strategy). */
export interface TaprioRun {
  /** null: without tsn-proxy. */
  readonly strategy: string | null;
  /** Packets per class, `TC0`..`TC3`. */
  readonly classes: Readonly<Record<string, number>>;
  /** Per talker: packets the NIC saw, and with the priority the application set. */
  readonly pods: Readonly<Record<string, { readonly packets: number; readonly prioRight: number }>>;
  /** Restored by the datapath (null without the proxy). */
  readonly restored: number | null;
}

/** `tsnproxy demo --taprio`'s result (also its `--json` output). */
export interface TaprioDemoResult {
  readonly kernel: {
    readonly id: string;
    readonly package: string;
    readonly release: string;
  };
  readonly accel: string;
  /** Records per pod per run. */
  readonly packetsPerPod: number;
  /** The strategies shown, in order. */
  readonly strategies: readonly string[];
  readonly without: TaprioRun;
  readonly with: readonly TaprioRun[];
  /** The guest's own checks that failed (lab/vm/checks.ts checkTaprio); empty on a good run. */
  readonly failures: readonly string[];
  /** Host wall time, ms. */
  readonly timings: Readonly<Record<string, number>>;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`vm-taprio result: ${what}`);
  return v;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`vm-taprio result: ${what} is not an object`);
  }
  return v as Record<string, unknown>;
}

/** Reads one run of a vm-taprio result object (lab/vm/results.ts TaprioResult). */
function parseRun(raw: unknown): TaprioRun {
  const r = obj(raw, "run");
  const strategy = r.strategy === null ? null : String(r.strategy);
  const label = `run ${strategy ?? "no proxy"}`;
  if (typeof r.error === "string") throw new Error(`vm-taprio ${label} failed: ${r.error}`);
  const cls = obj(r.classes, `${label} classes`);
  const classes = Object.fromEntries(
    TAPRIO_CLASSES.map((c) => [c.tc, num(cls[c.cls] ?? 0, `${label} class ${c.cls}`)]),
  );
  const rows = Array.isArray(r.rows) ? r.rows.map((x) => obj(x, `${label} row`)) : [];
  const pods = Object.fromEntries(TAPRIO_PODS.map((p) => {
    const row = rows.find((x) => x.talker === p.talker);
    if (!row) throw new Error(`vm-taprio result: ${label} has no row for ${p.talker}`);
    return [p.talker, {
      packets: num(row.packets, `${label} ${p.talker} packets`),
      prioRight: num(row.prioRight, `${label} ${p.talker} prioRight`),
    }];
  }));
  const proxy = r.proxy === null || r.proxy === undefined ? null : obj(r.proxy, `${label} proxy`);
  const restored = proxy ? num(obj(proxy.counters, "counters").restored, "restored") : null;
  return { strategy, classes, pods, restored };
}

/**
 * The demo's view of a vm-taprio result object: the run without the proxy and the runs of the
 * given strategies (in that order).
 */
export function parseTaprio(
  data: unknown,
  strategies: readonly string[],
): Pick<TaprioDemoResult, "packetsPerPod" | "strategies" | "without" | "with" | "failures"> {
  const d = obj(data, "result");
  if (d.scenario !== TAPRIO_SCENARIO) {
    throw new Error(`expected a ${TAPRIO_SCENARIO} result, got ${String(d.scenario)}`);
  }
  const runs = (Array.isArray(d.runs) ? d.runs : []).map(parseRun);
  const find = (s: string | null) => {
    const run = runs.find((r) => r.strategy === s);
    if (!run) throw new Error(`vm-taprio result has no run ${s ?? "without the proxy"}`);
    return run;
  };
  return {
    packetsPerPod: num(d.count, "count"),
    strategies: [...strategies],
    without: find(null),
    with: strategies.map(find),
    failures: Array.isArray(d.failures) ? d.failures.map(String) : [],
  };
}

/** Whether a run with the proxy put every time-sensitive packet through its own gate. */
function restoredAll(r: TaprioDemoResult, run: TaprioRun): boolean {
  const n = r.packetsPerPod;
  return TAPRIO_PODS.every((p) =>
    !p.optIn || (run.classes[p.tc] === n && run.pods[p.talker]?.prioRight === n)
  );
}

/** The one-line verdict. */
export function taprioVerdict(r: TaprioDemoResult): string {
  const n = r.packetsPerPod;
  const ts = TAPRIO_PODS.filter((p) => p.optIn);
  const lostWithout = ts.every((p) => r.without.classes[p.tc] === 0);
  const good = r.with.filter((run) => restoredAll(r, run)).map((run) => run.strategy);
  const bad = r.with.filter((run) => !restoredAll(r, run)).map((run) => run.strategy);
  const classes = ts.map((p) => `prio ${p.priority} → ${p.tc}`).join(", ");
  if (lostWithout && bad.length === 0 && r.failures.length === 0) {
    return `verdict: without tsn-proxy all ${ts.length * n} time-sensitive packets fell into ` +
      `best effort (TC3); with tsn-proxy (${good.join(", ")}) every one passed its own gate ` +
      `(${classes}).`;
  }
  const why = [
    ...(lostWithout ? [] : ["priorities survived without the proxy (unexpected)"]),
    ...bad.map((s) => `${s} did not put every time-sensitive packet through its gate`),
    ...r.failures.map((f) => `check failed: ${f}`),
  ];
  return `verdict: UNEXPECTED: ${why.join("; ")}`;
}

/** The side-by-side table: per taprio class, packets without and with tsn-proxy, and a verdict. */
export function formatTaprio(r: TaprioDemoResult): string {
  const n = r.packetsPerPod;
  const head = [
    "taprio class",
    "gate",
    "without tsn-proxy",
    ...r.with.map((run) => `with tsn-proxy (${run.strategy})`),
  ];
  const rows = TAPRIO_CLASSES.map((c) => [
    `${c.tc} (${c.cls})`,
    c.gate,
    String(r.without.classes[c.tc] ?? 0),
    ...r.with.map((run) => String(run.classes[c.tc] ?? 0)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // Labels left-aligned, counts right-aligned under their headings.
  const line = (cells: string[], numeric: boolean) =>
    cells.map((c, i) => numeric && i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))
      .join("  ").trimEnd();
  const restored = r.with.map((run) => `${run.strategy} ${run.restored ?? 0}`).join(", ");
  return [
    `taprio on the node's NIC in a QEMU guest (${r.accel}), kernel ${r.kernel.release}`,
    `pods: a SO_PRIORITY 1 and b SO_PRIORITY 2 (opted in), c best effort; ${n} packets each per run`,
    "",
    line(head, false),
    line(widths.map((w) => "-".repeat(w)), false),
    ...rows.map((row) => line(row, true)),
    "",
    "packets per class from taprio's child qdiscs (TC3 also counts the node's own ARP frame);",
    `packets the datapath restored: ${restored}`,
    taprioVerdict(r),
  ].join("\n");
}

/** Options of {@link runTaprioDemo}. */
export interface TaprioDemoOptions {
  readonly kernel: KernelId;
  /** Strategies to show (the scenario always runs both). */
  readonly strategies: readonly string[];
  readonly progress?: Progress;
  /** Whole boot limit; default 420 s (TCG on a busy machine). */
  readonly timeoutMs?: number;
}

/** Steps of the progress display. */
export const TAPRIO_STEPS = 5;

/**
 * Boots the guest, runs vm-taprio and returns the parsed result. A failed guest (timeout, panic,
 * failed scenario) throws the lab's LabError, whose message ends with the serial tail.
 */
export async function runTaprioDemo(o: TaprioDemoOptions): Promise<TaprioDemoResult> {
  const progress = o.progress ?? new Progress(TAPRIO_STEPS, { quiet: true });
  const pin = KERNELS[o.kernel];
  progress.step(`preparing kernel ${o.kernel} (${pin.package}), the initramfs and the 9p share`);
  const t0 = performance.now();
  let booted = false;
  const onLine = (raw: string) => {
    const i = raw.indexOf("TSNLAB ");
    if (!booted) {
      booted = true;
      progress.step("QEMU started: booting the guest kernel (slow under TCG)");
    }
    if (i < 0) {
      const m = /^(taprio [\w-]+( proxy)?): (\d+ ms|FAILED.*)$/.exec(raw.trim());
      if (m) progress.note(`        ${m[1]}: ${m[3]}`);
      return;
    }
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(raw.slice(i + 7)) as Record<string, unknown>;
    } catch {
      return;
    }
    if (ev.event === "init") {
      progress.step(`guest kernel ${String(ev.release)} up: loading modules, mounting the share`);
    } else if (ev.event === "start") {
      progress.step(
        `${String(ev.scenario)}: taprio on nic0; traffic without tsn-proxy, then with ` +
          `${TAPRIO_STRATEGIES.join(", then ")}`,
      );
    } else if (ev.done === true || ev.event === "done") {
      progress.step("guest finished: powering off");
    }
  };
  const lab: LabResult = await runLab({
    kernel: o.kernel,
    scenarios: [TAPRIO_SCENARIO],
    repoPaths: VM_REPO_PATHS,
    timeoutMs: o.timeoutMs ?? 420_000,
    scenarioTimeoutMs: 300_000,
    onLine,
  });
  const data = lab.results.find((s) => s.name === TAPRIO_SCENARIO)?.data;
  return {
    kernel: { id: lab.kernel.id, package: lab.kernel.package, release: lab.kernel.uname.release },
    accel: lab.accel,
    ...parseTaprio(data, o.strategies),
    timings: {
      prepareMs: lab.timings.prepareMs,
      bootMs: lab.timings.bootMs,
      totalMs: Math.round(performance.now() - t0),
    },
  };
}

/**
 * The table's data from a failed run whose scenario still wrote its result (its own checks
 * failed, e.g. one strategy missed its gates): shown after the error so the counts are visible.
 */
export function resultOfFailedRun(
  e: LabError,
  strategies: readonly string[],
): TaprioDemoResult | undefined {
  const data = e.results.find((s) => s.name === TAPRIO_SCENARIO)?.data;
  if (data === undefined) return undefined;
  const pin = KERNELS[e.kernel];
  try {
    return {
      kernel: { id: e.kernel, package: pin.package, release: pin.release },
      accel: /, (\w+)\) failed:/.exec(e.message)?.[1] ?? "unknown",
      ...parseTaprio(data, strategies),
      timings: {},
    };
  } catch {
    return undefined;
  }
}

export { LabError };
