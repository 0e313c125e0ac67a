/**
 * Human-readable `tsnproxy datapath stats`.
 *
 * @example
 * ```ts ignore
 * import { formatStats } from "./datapath_format.ts";
 * console.log(formatStats(Datapath.open({ stateFile }).stats()));
 * ```
 */
import type { DatapathStats } from "@tsn-proxy/bpf/datapath";

/** Renders a stats snapshot as aligned text. */
export function formatStats(s: DatapathStats): string {
  const lines = [
    `strategy      ${s.state.strategy} (key mode ${s.config.keyMode}, max age ${
      Number(s.config.maxAgeNs) / 1e6
    } ms)`,
    `records       ${s.records} live, ${s.staleRecords} stale (refused), capacity ${s.recordsMax}`,
    `trackers      ${
      s.state.trackers.map((t) => `${t.program}: ${t.state}${t.reason ? ` (${t.reason})` : ""}`)
        .join("; ") || "none"
    }`,
    `restorers     ${
      [
        ...s.state.restorers.map((r) => `${r.ifname} (${r.mode.kind})`),
        ...(s.state.pendingRestorers ?? []).map((n) => `${n} (PENDING: no such interface yet)`),
      ].join(", ") || "none"
    }`,
    `pods          ${s.state.pods.map((p) => `${p.id} (${p.ifname})`).join(", ") || "none"}`,
    "counters",
    ...Object.entries(s.counters).map(([k, v]) => `  ${k.padEnd(22)} ${v}`),
  ];
  if (s.missingPins.length) lines.push(`MISSING PINS  ${s.missingPins.join(", ")}`);
  return lines.join("\n");
}
