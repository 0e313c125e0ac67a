/**
 * The kind e2e's results: the probe's counters and the talker pods' logs become the VM suite's
 * taprio result (lab/vm/results.ts `TaprioResult`, rows shaped like sim/scenario.ts's), which
 * `checkTaprio` (lab/vm/checks.ts) judges exactly as it judges the VM run; the agent's metrics
 * get checks of their own ({@link checkAgentMetrics}).
 *
 * @example
 * ```ts
 * import { parseMetrics } from "./results.ts";
 * const m = parseMetrics('tsnproxy_attachments 2\ntsnproxy_ready 1\n');
 * console.log(m.value("tsnproxy_attachments")); // 2
 * ```
 *
 * @module
 */
import { checkTaprio, minRestored } from "@tsn-proxy/lab/checks";
import {
  parseClassStats,
  parseQdiscStats,
  type ProxyOut,
  type TalkerOut,
  type TaprioResult,
  type VmKernel,
} from "@tsn-proxy/lab/results";
import type { ResolvedTalker } from "@tsn-proxy/sim/scenario";
import { RECORD_SIZE } from "@tsn-proxy/sim/talkers/record";
import type { CollectResult, ObserverCounters } from "./probe_api.ts";
import type { TalkerOutput } from "./talker.ts";

/** The last JSON line a talker pod printed. */
export function parseTalkerLog(log: string): TalkerOutput {
  const lines = log.trim().split("\n").filter((l) => l.startsWith("{"));
  const last = lines.at(-1);
  if (!last) throw new Error(`talker printed no result line:\n${log.slice(-2000)}`);
  const o = JSON.parse(last) as TalkerOutput;
  if (typeof o.sent !== "number" || typeof o.errors !== "number") {
    throw new Error(`not a talker result: ${last}`);
  }
  return o;
}

/** A parsed Prometheus text exposition. */
export interface Metrics {
  /**
   * The value of `name` over the samples carrying these labels (others may be there too; several
   * matching samples are summed); undefined when none matches.
   */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
  /** Every sample of a metric with its labels. */
  samples(name: string): Array<{ labels: Record<string, string>; value: number }>;
}

/** Parses the agent's /metrics (Prometheus text format 0.0.4). */
export function parseMetrics(text: string): Metrics {
  const all: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    all.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const samples = (name: string) => all.filter((s) => s.name === name);
  return {
    samples,
    value(name, labels = {}) {
      const hits = samples(name).filter((s) =>
        Object.entries(labels).every(([k, v]) => s.labels[k] === v)
      );
      return hits.length ? hits.reduce((sum, s) => sum + s.value, 0) : undefined;
    },
  };
}

/** The datapath's view from the agent's metrics, shaped as the VM suite's `ProxyOut`. */
export function proxyOutFromMetrics(text: string, strategy: string): ProxyOut {
  const m = parseMetrics(text);
  const counters: Record<string, number> = {};
  for (const s of m.samples("tsnproxy_datapath_packets_total")) {
    if (s.labels.counter) counters[s.labels.counter] = s.value;
  }
  return {
    strategy,
    trackers: m.samples("tsnproxy_datapath_tracker_attached").map((s) => ({
      program: s.labels.program ?? "?",
      state: s.value === 1 ? "attached" : "unavailable",
    })),
    restorers: [],
    counters,
    records: m.value("tsnproxy_datapath_records") ?? 0,
  };
}

/** A talker's row from the observer's counters (the mapping of sim/scenario.ts runScenario). */
export function talkerOut(
  t: ResolvedTalker,
  c: ObserverCounters | undefined,
  sent: number,
  received: number,
): TalkerOut {
  const n = (k: string) => c?.[k] ?? 0;
  return {
    talker: t.name,
    sent,
    received,
    seen: t.protocol === "udp" ? n("records") : Math.floor(n("payloadBytes") / RECORD_SIZE),
    packets: n("packets"),
    prioRight: n("prioRight"),
    prioZero: n("prioZero"),
    prioWrong: n("prioWrong"),
    txtimeRight: n("txtimeRight"),
    txtimeMissing: n("txtimeMissing"),
    txtimeWrong: n("txtimeWrong"),
    typeWrong: n("typeWrong"),
    invented: n("tstampInvented"),
    lastType: n("lastTstampType"),
  };
}

/** One kind run in the VM suite's taprio shape. */
export type TaprioRun = TaprioResult["runs"][number];

/** Builds a run from what the probe collected and what the talker pods printed. */
export function taprioRun(o: {
  label: string;
  ms: number;
  strategy: string | null;
  talkers: readonly ResolvedTalker[];
  sent: Readonly<Record<string, number>>;
  collected: CollectResult;
}): TaprioRun {
  const qdiscs = parseQdiscStats(o.collected.tcQdisc);
  const root = qdiscs.find((q) => q.parent === "root");
  const handle = root ? root.handle.replace(/:$/, "") : "";
  const classes = Object.fromEntries(
    qdiscs.filter((q) => handle && q.parent.startsWith(`${handle}:`)).map((q) => [
      q.parent,
      q.sentPackets,
    ]),
  );
  const rows = o.talkers.map((t) =>
    talkerOut(
      t,
      o.collected.observer[String(t.port)],
      o.sent[t.name] ?? 0,
      o.collected.received[String(t.port)] ?? 0,
    )
  );
  const proxy = o.strategy !== null && o.collected.metrics !== null
    ? proxyOutFromMetrics(o.collected.metrics, o.strategy)
    : null;
  return {
    label: o.label,
    ms: o.ms,
    rows,
    proxy,
    strategy: o.strategy,
    classes,
    classShow: parseClassStats(o.collected.tcClass),
    qdiscs,
  };
}

/** The VM suite's taprio verdict on the kind runs (empty: passed). */
export function judgeTaprio(runs: readonly TaprioRun[], count: number, kernel: string): string[] {
  return checkTaprio({
    scenario: "vm-taprio",
    // checkTaprio has no kernel-dependent expectation; the field only labels the result.
    kernel: kernel as VmKernel,
    count,
    runs,
  });
}

/** A talker's packets at the TSN interface, as the observer after the restorer saw them. */
export interface Observed {
  readonly talker: string;
  readonly packets: number;
  /** Packets that left with the talker's own priority (opted in: restored). */
  readonly restored: number;
  /** Packets that left with a priority or txtime that was not the talker's. */
  readonly wrong: number;
  /** Opted-in packets that left without their priority. */
  readonly missed: number;
}

/** restored / wrong / missed of one row; `optedIn` says whether restoring was expected. */
export function observed(row: TaprioRun["rows"][number], optedIn: boolean): Observed {
  const wrong = row.prioWrong + row.txtimeWrong + row.typeWrong + row.invented;
  return {
    talker: row.talker,
    packets: row.packets,
    restored: optedIn ? row.prioRight : 0,
    wrong,
    missed: optedIn ? row.packets - row.prioRight - row.prioWrong : 0,
  };
}

/**
 * The verdict without taprio: every record arrived, nothing is ever wrong, and with the proxy
 * every packet of an opted-in talker leaves with its priority (skb-data: at least the share the
 * VM suite asks, {@link minRestored}); talkers in `lossy` (a path the strategy documents as lossy)
 * need no share restored, but nothing wrong either.
 */
export function judgeObserved(
  runs: readonly TaprioRun[],
  optedIn: readonly string[],
  lossy: readonly string[] = [],
): string[] {
  const out: string[] = [];
  for (const run of runs) {
    for (const row of run.rows) {
      const o = observed(row, run.strategy !== null && optedIn.includes(row.talker));
      const at = `${run.label} ${row.talker}`;
      if (row.sent === 0) out.push(`${at}: nothing sent`);
      if (row.seen < row.sent) {
        out.push(`${at}: the observer saw ${row.seen} of ${row.sent} records`);
      }
      if (o.wrong) out.push(`${at}: ${o.wrong} packets left with metadata not their own`);
      if (run.strategy !== null && optedIn.includes(row.talker) && !lossy.includes(row.talker)) {
        const min = minRestored(run.strategy, o.packets);
        if (o.restored < min) {
          out.push(`${at}: restored ${o.restored}/${o.packets}, expected >= ${min}`);
        }
      }
    }
  }
  return out;
}

/** What the agent's metrics must say after the proxied run. */
export function checkAgentMetrics(
  text: string | null,
  o: { optedIn: number; count: number; strategy: string },
): string[] {
  if (text === null) return ["no agent answered on 127.0.0.1:9402 on the talkers' node"];
  const m = parseMetrics(text);
  const out: string[] = [];
  const eq = (what: string, got: number | undefined, want: number) => {
    if (got !== want) out.push(`metrics: ${what} is ${got}, expected ${want}`);
  };
  const atLeast = (what: string, got: number | undefined, want: number) => {
    if (got === undefined || got < want) {
      out.push(`metrics: ${what} is ${got}, expected >= ${want}`);
    }
  };
  eq("tsnproxy_ready", m.value("tsnproxy_ready"), 1);
  eq(
    'tsnproxy_cni_requests_total{command="ADD",result="ok"} (opted-in pods)',
    m.value("tsnproxy_cni_requests_total", { command: "ADD", result: "ok" }),
    o.optedIn,
  );
  const restored = m.value("tsnproxy_datapath_packets_total", { counter: "restored" });
  atLeast("restored packets", restored, o.optedIn * o.count);
  // No check that nothing was clamped: an opted-in pod's own kernel sends control packets at
  // TC_PRIO_CONTROL (7; IPv6 MLD and router solicitations at start), which the namespace's cap
  // rightly clamps (seen on the local node: 3). The clamp has its own talker (live.ts).
  const wrong = m.value("tsnproxy_datapath_packets_total", { counter: "errors" });
  if (wrong !== undefined && wrong !== 0) out.push(`metrics: datapath errors ${wrong}`);
  return out;
}
