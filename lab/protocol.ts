/**
 * @module
 * The serial protocol between a lab guest and the host. The guest writes ordinary console text;
 * every line meant for the host contains `TSNLAB ` followed by one JSON object, the rest of the
 * line. Events, in the order a good boot prints them:
 *
 * ```text
 * TSNLAB {"event":"init","release":R,"version":V,"uptime":S}   /init started (kernel uname)
 * TSNLAB {"event":"ready","modules":N,"uptime":S}              modules loaded, share mounted
 * TSNLAB {"event":"start","scenario":NAME}                     per scenario, in order:
 * TSNLAB {"event":"result","scenario":NAME,"data":{...}}         its result object (if written)
 * TSNLAB {"event":"end","scenario":NAME,"exit":N,"ms":N}         its exit status and duration
 * TSNLAB {"done":true,"failed":N}                              the runner finished every scenario
 * TSNLAB {"event":"exit","code":N}                             the runner's exit status
 * TSNLAB {"event":"error","stage":S,"message":M}               /init gave up (then powers off)
 * ```
 *
 * A run passes only when `done` arrived, no `error` did, and every requested scenario has a start,
 * a result object and an end with exit 0. Text between a scenario's start and end is its output.
 *
 * @example
 * ```ts
 * import { SerialParser } from "./protocol.ts";
 * const p = new SerialParser();
 * p.push('TSNLAB {"event":"start","scenario":"x"}\nhello\nTSNLAB {"event":"end","scenario":"x","exit":0,"ms":1}\n');
 * console.log(p.summary().scenarios[0]?.output); // ["hello"]
 * ```
 */

/** The marker that starts a protocol object on a serial line. */
export const MARKER = "TSNLAB ";

/** One protocol object. */
export type LabEvent =
  | {
    readonly event: "init";
    readonly release: string;
    readonly version: string;
    readonly uptime: number;
  }
  | { readonly event: "ready"; readonly modules: number; readonly uptime: number }
  | { readonly event: "start"; readonly scenario: string }
  | { readonly event: "result"; readonly scenario: string; readonly data: unknown }
  | { readonly event: "end"; readonly scenario: string; readonly exit: number; readonly ms: number }
  | { readonly event: "exit"; readonly code: number }
  | { readonly event: "error"; readonly stage: string; readonly message: string }
  | { readonly event: "done"; readonly failed: number };

/** One scenario as the guest reported it. */
export interface ScenarioResult {
  readonly name: string;
  /** Its exit status; undefined when no end line arrived. */
  readonly exit: number | undefined;
  /** Guest-side duration. */
  readonly ms: number | undefined;
  /** Its result object; undefined when it wrote none. */
  readonly data: unknown;
  /** Console lines printed between its start and end. */
  readonly output: readonly string[];
  /** Exit 0 with a result object. */
  readonly ok: boolean;
}

/** Everything parsed from one boot's serial output. */
export interface RunSummary {
  readonly init: Extract<LabEvent, { event: "init" }> | undefined;
  readonly ready: Extract<LabEvent, { event: "ready" }> | undefined;
  readonly scenarios: readonly ScenarioResult[];
  readonly done: boolean;
  readonly errors: readonly Extract<LabEvent, { event: "error" }>[];
  /** TSNLAB lines that were not valid protocol objects. */
  readonly malformed: readonly string[];
}

// CSI/OSC escape sequences (SeaBIOS and the kernel clear the screen on the serial console).
// deno-lint-ignore no-control-regex
const ANSI = /\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[ -/]*[0-~])/g;

/** Strips escape sequences and carriage returns from a console line. */
export function cleanLine(line: string): string {
  // deno-lint-ignore no-control-regex
  return line.replace(ANSI, "").replace(/\r/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === "string";
const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Checks a parsed object's shape; returns the event or a reason it is not one. */
export function toEvent(o: unknown): LabEvent | string {
  if (!isObj(o)) return "not an object";
  if (o["done"] === true) return { event: "done", failed: num(o["failed"]) ? o["failed"] : 0 };
  switch (o["event"]) {
    case "init":
      return str(o["release"]) && str(o["version"]) && num(o["uptime"])
        ? { event: "init", release: o["release"], version: o["version"], uptime: o["uptime"] }
        : "init needs release, version, uptime";
    case "ready":
      return num(o["modules"]) && num(o["uptime"])
        ? { event: "ready", modules: o["modules"], uptime: o["uptime"] }
        : "ready needs modules, uptime";
    case "start":
      return str(o["scenario"])
        ? { event: "start", scenario: o["scenario"] }
        : "start needs scenario";
    case "result":
      return str(o["scenario"]) && "data" in o
        ? { event: "result", scenario: o["scenario"], data: o["data"] }
        : "result needs scenario, data";
    case "end":
      return str(o["scenario"]) && num(o["exit"]) && num(o["ms"])
        ? { event: "end", scenario: o["scenario"], exit: o["exit"], ms: o["ms"] }
        : "end needs scenario, exit, ms";
    case "exit":
      return num(o["code"]) ? { event: "exit", code: o["code"] } : "exit needs code";
    case "error":
      return str(o["stage"]) && str(o["message"])
        ? { event: "error", stage: o["stage"], message: o["message"] }
        : "error needs stage, message";
    default:
      return `unknown event ${JSON.stringify(o["event"])}`;
  }
}

/**
 * Parses one cleaned console line: `undefined` for ordinary text, an event, or `{ malformed }`
 * for a TSNLAB line that is not a valid protocol object.
 */
export function parseLine(line: string): LabEvent | { readonly malformed: string } | undefined {
  const at = line.indexOf(`${MARKER}{`);
  if (at < 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.slice(at + MARKER.length));
  } catch (e) {
    return { malformed: `${line} (${e instanceof Error ? e.message : e})` };
  }
  const ev = toEvent(parsed);
  return typeof ev === "string" ? { malformed: `${line} (${ev})` } : ev;
}

interface MutableScenario {
  name: string;
  exit: number | undefined;
  ms: number | undefined;
  data: unknown;
  hasData: boolean;
  output: string[];
}

/** Incremental parser: feed it serial chunks, read the lines, events and summary at any time. */
export class SerialParser {
  /** Every complete, cleaned line so far. */
  readonly lines: string[] = [];
  /** Every event so far. */
  readonly events: LabEvent[] = [];
  readonly #malformed: string[] = [];
  readonly #scenarios: MutableScenario[] = [];
  #current: MutableScenario | undefined;
  #partial = "";

  /** Feeds decoded text; returns the events completed by it. */
  push(text: string): LabEvent[] {
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop() ?? "";
    const out: LabEvent[] = [];
    for (const raw of parts) {
      const ev = this.#line(raw);
      if (ev) out.push(ev);
    }
    return out;
  }

  /** Flushes a last line without a newline (at end of stream). */
  end(): LabEvent[] {
    if (!this.#partial) return [];
    const raw = this.#partial;
    this.#partial = "";
    const ev = this.#line(raw);
    return ev ? [ev] : [];
  }

  #line(raw: string): LabEvent | undefined {
    const line = cleanLine(raw);
    this.lines.push(line);
    const ev = parseLine(line);
    if (ev === undefined) {
      this.#current?.output.push(line);
      return undefined;
    }
    if ("malformed" in ev) {
      this.#malformed.push(ev.malformed);
      return undefined;
    }
    this.events.push(ev);
    switch (ev.event) {
      case "start":
        this.#current = {
          name: ev.scenario,
          exit: undefined,
          ms: undefined,
          data: undefined,
          hasData: false,
          output: [],
        };
        this.#scenarios.push(this.#current);
        break;
      case "result": {
        const s = this.#find(ev.scenario);
        if (s) {
          s.data = ev.data;
          s.hasData = true;
        }
        break;
      }
      case "end": {
        const s = this.#find(ev.scenario);
        if (s) {
          s.exit = ev.exit;
          s.ms = ev.ms;
        }
        if (this.#current?.name === ev.scenario) this.#current = undefined;
        break;
      }
    }
    return ev;
  }

  #find(name: string): MutableScenario | undefined {
    for (let i = this.#scenarios.length - 1; i >= 0; i--) {
      if (this.#scenarios[i]?.name === name) return this.#scenarios[i];
    }
    return undefined;
  }

  /** The run so far. */
  summary(): RunSummary {
    const pick = <K extends LabEvent["event"]>(k: K) =>
      this.events.find((e): e is Extract<LabEvent, { event: K }> => e.event === k);
    return {
      init: pick("init"),
      ready: pick("ready"),
      scenarios: this.#scenarios.map((s) => ({
        name: s.name,
        exit: s.exit,
        ms: s.ms,
        data: s.data,
        output: [...s.output],
        ok: s.exit === 0 && s.hasData && isObj(s.data),
      })),
      done: this.events.some((e) => e.event === "done"),
      errors: this.events.filter((e): e is Extract<LabEvent, { event: "error" }> =>
        e.event === "error"
      ),
      malformed: [...this.#malformed],
    };
  }
}

/**
 * Why a run does not pass, given the scenarios that were asked for: an empty list means it passed.
 * Never counts a missing piece as a pass.
 */
export function problems(summary: RunSummary, requested: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of summary.errors) out.push(`guest error at ${e.stage}: ${e.message}`);
  if (!summary.init) out.push("the guest's /init never reported (no init line)");
  for (const name of requested) {
    const s = summary.scenarios.find((x) => x.name === name);
    if (!s) out.push(`scenario ${name}: never started`);
    else if (s.exit === undefined) out.push(`scenario ${name}: no end line (crashed or hung)`);
    else if (s.exit !== 0) {
      out.push(`scenario ${name}: exit ${s.exit}${s.exit === 137 ? " (killed: timeout)" : ""}`);
    } else if (s.data === undefined) out.push(`scenario ${name}: wrote no result`);
    else if (!isObj(s.data)) out.push(`scenario ${name}: result is not a JSON object`);
  }
  for (const s of summary.scenarios) {
    if (!requested.includes(s.name)) out.push(`scenario ${s.name}: ran but was not requested`);
  }
  if (!summary.done) out.push('no final TSNLAB {"done":true} line');
  for (const m of summary.malformed) out.push(`malformed protocol line: ${m}`);
  return out;
}
