/**
 * @module
 * The VM suite's results as text: one line per run with, per talker, priorities restored of the
 * packets seen at the NIC (`prio R/P`), wrong ones, txtimes that arrived with their value
 * (`tx V/N`, `lost M` when cleared), and the datapath's own counters; plus each scenario's extra
 * numbers (PCP at the far side, taprio classes, etf sent/dropped).
 */
import type { ProxyOut, RunOut, TalkerOut, VmResult } from "./results.ts";

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Is this a VM suite result object? */
export function isVmResult(data: unknown): data is VmResult {
  if (typeof data !== "object" || data === null) return false;
  const s = (data as { scenario?: unknown }).scenario;
  return typeof s === "string" && s.startsWith("vm-") && "runs" in data;
}

/** One talker: `a-tai prio 100/100 tx 100/100`. */
function talkerCell(r: TalkerOut): string {
  const parts = [`${r.talker} prio ${r.prioRight}/${r.packets}`];
  if (r.prioWrong) parts.push(`WRONG ${r.prioWrong}`);
  const tx = r.txtimeRight;
  if (tx || r.txtimeMissing || r.txtimeWrong) {
    parts.push(`tx ${tx}/${r.seen}`);
    if (r.txtimeMissing) parts.push(`lost ${r.txtimeMissing}`);
    if (r.txtimeWrong) parts.push(`TX-WRONG ${r.txtimeWrong}`);
    parts.push(`type ${r.lastType}`);
  }
  if (r.invented) parts.push(`INVENTED ${r.invented}`);
  return parts.join(" ");
}

/** The datapath's counters that tell the story. */
function proxyCell(p: ProxyOut | null): string {
  if (!p) return "no proxy";
  const c = (k: string) => p.counters[k] ?? 0;
  const trackers = p.trackers.map((t) => `${t.program}:${t.state}`).join(",") || "none";
  return `restored ${c("restored")} missed ${c("missed")} rejected ${
    c("rejectedFingerprint") + c("rejectedOrigin") + c("rejectedStale")
  } clones ${c("clonesTracked")} left ${p.records} trackers ${trackers} (${
    p.restorers.map((r) => `${r.ifname}:${r.mode}`).join(",")
  })`;
}

function extras(run: RunOut): string {
  const r = run as RunOut & Record<string, unknown>;
  const out: string[] = [];
  if (r["pcp"]) {
    const pcp = r["pcp"] as Record<string, Record<string, number>>;
    out.push(
      "PCP@ext0 " +
        Object.entries(pcp).map(([t, m]) =>
          `${t}{${Object.entries(m).map(([k, v]) => `${k}:${v}`).join(",")}}`
        ).join(" "),
    );
  }
  if (r["classes"]) {
    const cls = r["classes"] as Record<string, number>;
    out.push(
      "classes " + Object.entries(cls).sort().map(([k, v]) => `${k}=${v}`).join(" "),
    );
  }
  if ("etf" in r) {
    const etf = r["etf"] as { sentPackets: number; dropped: number } | null;
    out.push(etf ? `etf sent ${etf.sentPackets} dropped ${etf.dropped}` : "etf missing");
  }
  if (r["peerSeen"]) {
    const seen = r["peerSeen"] as Record<string, { packets: number; withPriority: number }>;
    out.push(
      `netkit peer hook [${(r["peerOrder"] as string[]).join(" > ")}] cni ${r["cniPackets"]}: ` +
        Object.entries(seen).map(([t, v]) => `${t} prio ${v.withPriority}/${v.packets}`).join(" "),
    );
  }
  return out.join("; ");
}

/** The lines of one scenario's result. */
export function vmReport(res: VmResult): string[] {
  const lines = [`  ${res.scenario} (${res.kernel}, ${res.count} per talker):`];
  const runs: RunOut[] = [];
  if (res.scenario === "vm-datapath") runs.push(res.baseline);
  runs.push(...res.runs);
  for (const run of runs) {
    const ph = run.phases;
    const phases = ph
      ? ` = ${secs(ph.setupMs)} setup + ${secs(ph.trafficMs)} traffic + ${secs(ph.teardownMs)} down`
      : "";
    lines.push(`    ${run.label} [${secs(run.ms)}${phases}]: ${proxyCell(run.proxy)}`);
    if (run.error) lines.push(`      ERROR ${run.error.split("\n")[0]}`);
    if (run.rows.length) lines.push(`      ${run.rows.map(talkerCell).join(" | ")}`);
    const x = extras(run);
    if (x) lines.push(`      ${x}`);
  }
  if (res.scenario === "vm-datapath" && res.baseline.pod.length) {
    lines.push(`    at the pods' eth0: ${res.baseline.pod.map(talkerCell).join(" | ")}`);
  }
  for (const f of res.failures) lines.push(`    FAIL ${f}`);
  return lines;
}
