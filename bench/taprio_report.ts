/**
 * @module
 * The report's taprio section: per-class packet counters without and with the proxy, the fraction
 * of each talker's packets inside its own class's gate window, and the packets-per-gate picture
 * (svg.ts gateSvg).
 */
import { gateSvg } from "./svg.ts";
import type { GateWindow, TaprioArm, TaprioMeasurement } from "./taprio.ts";

function pct(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : `${(v * 100).toFixed(0)} %`;
}

function us(ns: number): string {
  const v = ns / 1000;
  return Number.isInteger(v) ? `${v}` : v.toFixed(1);
}

function windowsOf(tc: number, windows: readonly GateWindow[]): string {
  const own = windows.filter((w) => w.tc === tc);
  return own.length ? own.map((w) => `${us(w.startNs)}-${us(w.endNs)} us`).join(", ") : "none";
}

/** `100:3` → `TC2` (taprio's class N is traffic class N-1's queue). */
function tcOfClass(cls: string): string {
  const n = Number(cls.split(":")[1]);
  return Number.isInteger(n) && n >= 1 ? `TC${n - 1}` : "?";
}

function firstLine(s: string): string {
  return (s.split("\n")[0] ?? "").replace(/\|/g, "\\|").slice(0, 160);
}

/**
 * The packets-per-gate picture of a measurement: one panel per arm.
 *
 * @example
 * ```ts ignore
 * import { taprioSvg } from "./taprio_report.ts";
 * await Deno.writeTextFile("taprio-6.12.svg", taprioSvg(measurement));
 * ```
 */
export function taprioSvg(m: TaprioMeasurement): string {
  const hook = m.arms.find((a) => !a.error)?.hook ?? "far";
  const where = hook === "nic" ? "left the NIC (net_dev_start_xmit)" : "reached the far end";
  return gateSvg(m.arms, {
    title: `Packets per gate: taprio, ${us(m.cycleNs)} us cycle, kernel ${m.kernel}`,
    note: `CLOCK_TAI time each packet ${where}, mod the cycle, in ${us(m.binNs)} us bins`,
  });
}

/**
 * The taprio section of the report as markdown: setup, packets per class per arm, in-own-window
 * fractions (the NIC's transmit, the far end's ingress in parentheses) and, when `svg` is given,
 * the picture embedded from that path.
 *
 * @example
 * ```ts ignore
 * import { taprioMarkdown, taprioSvg } from "./taprio_report.ts";
 * await Deno.writeTextFile(`${out}/taprio-6.12.svg`, taprioSvg(m));
 * const md = taprioMarkdown(m, { svg: "taprio-6.12.svg", heading: "###" });
 * ```
 */
export function taprioMarkdown(
  m: TaprioMeasurement,
  opts: { svg?: string; heading?: string } = {},
): string {
  const h = opts.heading ?? "###";
  const ok = m.arms.filter((a) => !a.error);
  const hook = ok[0]?.hook ?? "far";
  const talkers = ok[0]?.talkers ?? [];
  const windows = m.windows.map((w) => `TC${w.tc} ${us(w.startNs)}-${us(w.endNs)} us`);
  const lines = [
    `${h} taprio: packets per gate (kernel ${m.kernel}, ${us(m.cycleNs)} us cycle)`,
    "",
    `node1's NIC is a 4-queue veth with taprio (software mode, CLOCK_TAI, base-time 0, ` +
    `${us(m.cycleNs)} us cycle: ${windows.join(", ")}); priority 1 → TC1, 2 → TC2, the rest ` +
    `→ TC3 (best effort). Pods a (priority 1) and b (priority 2) opted in, c did not; ` +
    `${m.count} records each, bridge-nat${m.store ? `, store ${m.store}` : ""}. The gate probe ` +
    `folds the CLOCK_TAI time at which each packet ` +
    (hook === "nic"
      ? "left the NIC (`net_dev_start_xmit`, right after taprio's dequeue)"
      : "reached the far end") +
    ` into the cycle, in ${us(m.binNs)} us bins. ${m.arms.length} arms, ` +
    `${(m.ms / 1000).toFixed(0)} s.`,
    "",
  ];
  const classes = [...new Set(ok.flatMap((a) => Object.keys(a.classes)))].sort();
  lines.push(
    `| arm | ${classes.map((c) => `${c} (${tcOfClass(c)})`).join(" | ")} |`,
    `| --- | ${classes.map(() => "---:").join(" | ")} |`,
  );
  for (const a of m.arms) {
    lines.push(
      a.error
        ? `| ${a.label} | failed: ${firstLine(a.error)} |`
        : `| ${a.label} | ${classes.map((c) => a.classes[c] ?? 0).join(" | ")} |`,
    );
  }
  lines.push(
    "",
    `Packets inside their own class's window, ${
      hook === "nic"
        ? "at the NIC's transmit (at the far end's ingress in parentheses)"
        : "at the far end's ingress"
    }:`,
    "",
    `| arm | ${
      talkers.map((t) => `${t.talker} (TC${t.tc}, ${windowsOf(t.tc, m.windows)})`).join(" | ")
    } |`,
    `| --- | ${talkers.map(() => "---:").join(" | ")} |`,
  );
  for (const a of m.arms) {
    if (a.error) {
      lines.push(`| ${a.label} | failed |`);
      continue;
    }
    const cells = talkers.map((t) => {
      const own = pct(a.inOwnWindow[t.talker]);
      return a.hook === "nic" ? `${own} (${pct(a.farInOwnWindow[t.talker])})` : own;
    });
    lines.push(`| ${a.label} | ${cells.join(" | ")} |`);
  }
  const lost = ok.flatMap((a: TaprioArm) =>
    a.talkers.filter((t) => t.received < t.sent).map((t) =>
      `${a.label} ${t.talker} ${t.received}/${t.sent}`
    )
  );
  if (lost.length) lines.push("", `Received less than sent: ${lost.join("; ")}.`);
  if (opts.svg) lines.push("", `![packets per gate, kernel ${m.kernel}](${opts.svg})`);
  lines.push("");
  return lines.join("\n");
}
