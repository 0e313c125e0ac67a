/**
 * The agent's log: one line per event on stderr, as plain text (`tsnproxy agent: ...`, the
 * default) or as JSON lines (`logFormat: json`) for log shippers. Every decision that matters
 * carries an `event` name and its facts as fields, so a JSON line can be filtered without parsing
 * the message: `pod.attached`, `pod.skipped`, `pod.refused`, `pod.attach_failed`, `pod.detached`,
 * `policy.clamp`, `conf.rewrite`, `conf.removed`, `conf.conflict`, `conf.state`,
 * `datapath.loaded`, `datapath.adopted`, `datapath.up_failed`, `tracker.unavailable`, ...
 *
 * A {@link Log} is a plain function: callers that only have a message pass no fields, so the
 * handler and reconciler keep working with any `(msg) => void`.
 *
 * @example
 * ```ts
 * import { createLog } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLog("json", (line) => lines.push(line), () => new Date(0));
 * log("attached c1-eth0", { event: "pod.attached", id: "c1-eth0", maxPriority: 5 });
 * console.log(lines[0]);
 * // {"time":"1970-01-01T00:00:00.000Z","level":"info","event":"pod.attached","msg":"attached c1-eth0","id":"c1-eth0","maxPriority":5}
 * ```
 */

/** Severity of a line. */
export type LogLevel = "info" | "warn" | "error";

/**
 * What a caught value says: an Error's message, anything else as a string (what logs and CNI
 * error answers carry).
 *
 * @example
 * ```ts
 * errorMessage(new Error("no such interface")); // "no such interface"
 * errorMessage(7); // "7"
 * ```
 */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Facts of one event: `event` names it; `level` defaults to info (or warn for "WARNING ..."). */
export interface LogFields {
  readonly event?: string;
  readonly level?: LogLevel;
  readonly [key: string]: unknown;
}

/** The agent's logging function. */
export type Log = (msg: string, fields?: LogFields) => void;

/** Output formats. */
export const LOG_FORMATS = ["text", "json"] as const;

/** An output format. */
export type LogFormat = typeof LOG_FORMATS[number];

function levelOf(msg: string, fields: LogFields | undefined): LogLevel {
  if (fields?.level) return fields.level;
  return /^(\S+: )?WARNING\b/.test(msg) ? "warn" : "info";
}

/** JSON.stringify that writes bigints as numbers and errors as their message. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_, v) => {
    if (typeof v === "bigint") return Number(v);
    if (v instanceof Error) return v.message;
    return v;
  });
}

/** Renders one JSON line (without the newline); fields never override time, level or msg. */
export function jsonLine(msg: string, fields: LogFields | undefined, now: Date): string {
  const { event, level: _level, ...rest } = fields ?? {};
  const out: Record<string, unknown> = { time: now.toISOString(), level: levelOf(msg, fields) };
  if (event !== undefined) out.event = event;
  out.msg = msg;
  for (const [k, v] of Object.entries(rest)) {
    if (!(k in out) && v !== undefined) out[k] = v;
  }
  return toJson(out);
}

/** A log writing lines through `write` (default: stderr). */
export function createLog(
  format: LogFormat,
  write: (line: string) => void = (line) => console.error(line),
  clock: () => Date = () => new Date(),
): Log {
  if (format === "json") return (msg, fields) => write(jsonLine(msg, fields, clock()));
  return (msg) => write(`tsnproxy agent: ${msg}`);
}
