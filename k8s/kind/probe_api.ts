/**
 * What the kind e2e's driver and its probe (./probe.ts, one per node) say to each other: GET
 * requests through the API server's pod proxy, arguments as one base64url path segment (the
 * generated client escapes a query string), answers as plain JSON (no bigint).
 *
 * @example
 * ```ts
 * import { checkSetup, decodeSegment, setupPath } from "./probe_api.ts";
 * const path = setupPath({ taprio: true, observer: true, talkers: [] });
 * console.log(checkSetup(decodeSegment(path.split("/")[1]!)).taprio); // true
 * ```
 *
 * @module
 */

/** One talker as the probe must expect it (observer key, receiver). */
export interface ProbeTalker {
  readonly name: string;
  readonly port: number;
  readonly podId: number;
  readonly priority: number;
  readonly protocol: "udp" | "tcp";
}

/** `/setup`: create tsn0 + ext (always), taprio, observer and receivers (when asked). */
export interface SetupSpec {
  readonly taprio: boolean;
  readonly observer: boolean;
  readonly talkers: readonly ProbeTalker[];
}

/** The observer's counters of one port, JSON-safe (no bigint). */
export type ObserverCounters = Readonly<Record<string, number>>;

/** `/collect`: everything measured on the node after the talkers finished. */
export interface CollectResult {
  /** Observer counters per port. */
  readonly observer: Readonly<Record<string, ObserverCounters>>;
  /** Records each receiver got, per port. */
  readonly received: Readonly<Record<string, number>>;
  /** `tc -s qdisc show dev tsn0` and `tc -s class show dev tsn0`. */
  readonly tcQdisc: string;
  readonly tcClass: string;
  /** The agent's /metrics, or null when no agent answers on the node. */
  readonly metrics: string | null;
  readonly kernel: string;
}

/** `/node-state`: what tsn-proxy left on the node. */
export interface NodeState {
  /** CNI config files and their text. */
  readonly confFiles: Readonly<Record<string, string>>;
  /** /opt/cni/bin/tsn-proxy exists. */
  readonly plugin: boolean;
  /** /sys/fs/bpf/tsn-proxy exists. */
  readonly pins: boolean;
  /** Names of the BPF programs on tsn0's tc/TCX hooks (`bpftool net`), when the probe looked. */
  readonly tcPrograms?: readonly string[];
}

/** base64url of a JSON value: safe as one path segment through the API server's pod proxy. */
export function encodeSegment(v: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(v));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The inverse of {@link encodeSegment}. */
export function decodeSegment(s: string): unknown {
  const b64 = s.replaceAll("-", "+").replaceAll("_", "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

/** The proxy path of a /setup request. */
export function setupPath(s: SetupSpec): string {
  return `setup/${encodeSegment(s)}`;
}

/** Validates a /setup spec (throws on anything malformed). */
export function checkSetup(v: unknown): SetupSpec {
  const s = v as SetupSpec;
  if (typeof s?.taprio !== "boolean" || typeof s.observer !== "boolean") {
    throw new Error("setup: taprio and observer must be booleans");
  }
  if (!Array.isArray(s.talkers)) throw new Error("setup: talkers must be a list");
  for (const t of s.talkers) {
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
      throw new Error(`setup: bad port ${t.port}`);
    }
  }
  return s;
}

/** The proxy path of a /collect request: records each receiver should get before the read. */
export function collectPath(expect: Readonly<Record<string, number>>): string {
  return `collect/${encodeSegment(expect)}`;
}
