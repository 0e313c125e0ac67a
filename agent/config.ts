/**
 * The node agent's configuration file (YAML or JSON; see agent/README.md), validated with errors
 * that name the field. Unknown keys are errors too: a typo must not silently fall back to a
 * default.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const cfg = parseConfig("restoreOn: [eth1]\npolicy:\n  defaultMaxPriority: 3\n", "agent.yaml");
 * console.log(cfg.strategy, cfg.cni.confDir, cfg.policy.defaultMaxPriority);
 * ```
 */
import { parseDocument } from "yaml";
import { isIfname } from "@tsn-proxy/bpf/datapath";
import { join } from "node:path";
import { LOG_FORMATS, type LogFormat } from "./log.ts";
import { parsePolicy, type Policy } from "./policy.ts";

/** A configuration error; its message names the field. */
export class ConfigError extends Error {
  constructor(readonly field: string, problem: string, file = "") {
    super(`${file ? `${file}: ` : ""}${field}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** The validated configuration. */
export interface AgentConfig {
  /** Strategy name (validated against the registry when the agent starts). */
  readonly strategy: string;
  /**
   * TSN interfaces of the node that get a restorer: valid Linux interface names; one that does not
   * exist yet gets its restorer when it appears.
   */
  readonly restoreOn: readonly string[];
  /** Record age bound in ms. */
  readonly maxAgeMs: number;
  /** Load the optional kfree/consume cleanup tracers. */
  readonly cleanup: boolean;
  /** How often the restorers are checked against the TSN interfaces (re-created ones), in ms. */
  readonly restorerCheckIntervalMs: number;
  readonly cni: {
    /** The runtime's CNI config dir. */
    readonly confDir: string;
    /** The runtime's CNI plugin dir. */
    readonly binDir: string;
    /** Where the built plugin to install is (default: $TSN_PROXY_PLUGIN_DIR). */
    readonly pluginDir: string;
    /** Written into the conf entry: `annotation` or `all`. */
    readonly optIn: "annotation" | "all";
    /** Minimum time between two rewrites of one conf file, in ms. */
    readonly minRewriteIntervalMs: number;
    /**
     * Longest interval between rewrites when something keeps removing the entry, in ms (never
     * below minRewriteIntervalMs). Short on purpose: while the entry is missing, new opted-in pods
     * start without a saver.
     */
    readonly maxRewriteBackoffMs: number;
    /** A periodic re-check, in ms (watches get lost when a directory is replaced). */
    readonly resyncIntervalMs: number;
  };
  /** The datapath's own bpffs directory. */
  readonly bpffs: string;
  /** Where the agent keeps datapath.json and attachments.json. */
  readonly stateDir: string;
  /** The plugin <-> agent socket. */
  readonly socketPath: string;
  /** `host:port`, `unix:/path`, or "" for no metrics server. */
  readonly metricsAddress: string;
  readonly kubernetes: {
    /** Look pods up in the API when the runtime passed no annotations. */
    readonly enabled: boolean;
    /** A kubeconfig file; empty: in-cluster config. */
    readonly kubeconfig: string;
  };
  /** The namespace priority policy. */
  readonly policy: Policy;
  /**
   * A file with a `policy:` section (the policy ConfigMap's `policy.yaml`) the running agent
   * re-reads every {@link POLICY_CHECK_INTERVAL_MS}: a change re-clamps running savers in place.
   * "" (default): the policy above is fixed for the agent's life.
   */
  readonly policyFile: string;
  /** `text` (default) or `json`: one JSON object per line, one line per decision. */
  readonly logFormat: LogFormat;
  readonly txtime: {
    /**
     * Refuse to restore txtimes while the node's clock is unsynchronised (adjtimex: TIME_ERROR or
     * STA_UNSYNC; with maxPtpOffsetNs also ptp4l's offset). Priorities are restored regardless.
     */
    readonly requireSyncedClock: boolean;
    /** Largest |ptp4l master offset| (ns) that counts as synchronised; 0: ptp4l not consulted. */
    readonly maxPtpOffsetNs: number;
  };
  readonly clock: {
    /** How often the clock is judged (metrics, and the switch with requireSyncedClock), in ms. */
    readonly checkIntervalMs: number;
    /** The host's /proc, where linuxptp's daemons are looked for (hostPID, or a hostPath mount). */
    readonly procRoot: string;
  };
}

/** Defaults of every optional field. */
export const DEFAULTS = {
  strategy: "skb-addr",
  maxAgeMs: 100,
  confDir: "/etc/cni/net.d",
  binDir: "/opt/cni/bin",
  bpffs: "/sys/fs/bpf/tsn-proxy",
  stateDir: "/var/run/tsn-proxy",
  metricsAddress: "127.0.0.1:9402",
  minRewriteIntervalMs: 1000,
  maxRewriteBackoffMs: 1500,
  resyncIntervalMs: 30_000,
  restorerCheckIntervalMs: 1000,
  clockCheckIntervalMs: 5000,
  procRoot: "/proc",
} as const;

type Obj = Record<string, unknown>;

/** A key as it appears in an error: plain when it is a plain word, else JSON-quoted (e.g. ""). */
export function fieldName(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(readonly file: string) {}

  err(field: string, problem: string): ConfigError {
    return new ConfigError(field, problem, this.file);
  }

  object(v: unknown, field: string): Obj {
    if (v === undefined || v === null) return {};
    if (!isObject(v)) throw this.err(field, "must be a mapping");
    return v;
  }

  known(o: Obj, prefix: string, keys: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) {
        throw this.err(`${prefix}${fieldName(k)}`, `unknown field (known: ${keys.join(", ")})`);
      }
    }
  }

  string(v: unknown, field: string, def: string): string {
    if (v === undefined || v === null) return def;
    if (typeof v !== "string") throw this.err(field, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  path(v: unknown, field: string, def: string): string {
    const s = this.string(v, field, def);
    if (!s.startsWith("/")) throw this.err(field, `must be an absolute path, got "${s}"`);
    return s.length > 1 ? s.replace(/\/+$/, "") : s;
  }

  int(v: unknown, field: string, def: number, min: number, max: number): number {
    if (v === undefined || v === null) return def;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw this.err(field, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  bool(v: unknown, field: string, def: boolean): boolean {
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") {
      throw this.err(field, `must be true or false, got ${JSON.stringify(v)}`);
    }
    return v;
  }
}

const TOP_KEYS = [
  "strategy",
  "restoreOn",
  "maxAgeMs",
  "cleanup",
  "restorerCheckIntervalMs",
  "cni",
  "bpffs",
  "stateDir",
  "socketPath",
  "metricsAddress",
  "kubernetes",
  "policy",
  "policyFile",
  "logFormat",
  "txtime",
  "clock",
] as const;

/** How often the agent re-reads `policyFile`. */
export const POLICY_CHECK_INTERVAL_MS = 2000;

/**
 * Parses a policy file: a YAML document whose only key is `policy` (as the policy ConfigMap
 * carries it). An empty document is a policy file emptied by mistake: no section, so every pod is
 * clamped to 0 (see policy.ts).
 */
export function parsePolicyFile(text: string, file = "policy file"): Policy {
  const doc = parseYaml(text, file);
  const r = new Reader(file);
  if (doc !== null && doc !== undefined && !isObject(doc)) {
    throw r.err("(document)", "must be a mapping with a policy key");
  }
  const o = (doc ?? {}) as Obj;
  r.known(o, "", ["policy"]);
  return parsePolicy(o.policy, (field, problem) => r.err(`policy.${field}`, problem));
}

/**
 * One YAML (or JSON) document as plain values. Warnings (an unresolved tag such as `!x`) fail it
 * too, instead of being printed on stderr while the value is taken as a plain string.
 */
function parseYaml(text: string, file: string): unknown {
  try {
    const parsed = parseDocument(text, { logLevel: "silent" });
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem) throw problem;
    return parsed.toJS();
  } catch (e) {
    throw new ConfigError("(document)", `not valid YAML/JSON: ${(e as Error).message}`, file);
  }
}

/** Parses and validates a config text (YAML, of which JSON is a subset). */
export function parseConfig(
  text: string,
  file = "config",
  env: Readonly<Record<string, string | undefined>> = {},
): AgentConfig {
  const doc = parseYaml(text, file);
  const r = new Reader(file);
  if (!isObject(doc)) throw r.err("(document)", "must be a mapping of fields");
  r.known(doc, "", TOP_KEYS);

  const restoreOn = doc.restoreOn;
  if (!Array.isArray(restoreOn) || restoreOn.length === 0) {
    throw r.err("restoreOn", "must list at least one TSN interface, e.g. [eth1]");
  }
  // An invalid name is a config error, refused before anything is attached; a valid name whose
  // interface does not exist (yet) is not: the agent runs without its restorer until it appears.
  restoreOn.forEach((n, i) => {
    if (typeof n !== "string" || !isIfname(n)) {
      throw r.err(
        `restoreOn[${i}]`,
        `not an interface name: ${JSON.stringify(n)} (1-15 bytes, no '/', ':' or spaces, ` +
          `not "." or "..")`,
      );
    }
  });
  if (new Set(restoreOn).size !== restoreOn.length) throw r.err("restoreOn", "lists a name twice");

  const cni = r.object(doc.cni, "cni");
  r.known(cni, "cni.", [
    "confDir",
    "binDir",
    "pluginDir",
    "optIn",
    "minRewriteIntervalMs",
    "maxRewriteBackoffMs",
    "resyncIntervalMs",
  ]);
  const optIn = r.string(cni.optIn, "cni.optIn", "annotation");
  if (optIn !== "annotation" && optIn !== "all") {
    throw r.err("cni.optIn", `must be "annotation" or "all", got "${optIn}"`);
  }
  const pluginDirDefault = env.TSN_PROXY_PLUGIN_DIR ?? "";
  const pluginDir = cni.pluginDir === undefined && pluginDirDefault === ""
    ? ""
    : r.path(cni.pluginDir, "cni.pluginDir", pluginDirDefault);

  const k8s = r.object(doc.kubernetes, "kubernetes");
  r.known(k8s, "kubernetes.", ["enabled", "kubeconfig"]);
  const kubeconfig = k8s.kubeconfig === undefined || k8s.kubeconfig === ""
    ? ""
    : r.path(k8s.kubeconfig, "kubernetes.kubeconfig", "");

  const stateDir = r.path(doc.stateDir, "stateDir", DEFAULTS.stateDir);
  const metricsAddress = r.string(doc.metricsAddress, "metricsAddress", DEFAULTS.metricsAddress);
  if (metricsAddress !== "" && !metricsAddress.startsWith("unix:/")) {
    const m = /^(.*):(\d+)$/.exec(metricsAddress);
    if (!m || Number(m[2]) > 65535) {
      throw r.err("metricsAddress", `must be host:port, unix:/path or "", got "${metricsAddress}"`);
    }
  }
  const bpffs = r.path(doc.bpffs, "bpffs", DEFAULTS.bpffs);
  const logFormat = r.string(doc.logFormat, "logFormat", "text");
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw r.err("logFormat", `must be one of ${LOG_FORMATS.join(", ")}, got "${logFormat}"`);
  }
  if (bpffs === "/sys/fs/bpf") throw r.err("bpffs", "must be a directory below the bpffs root");
  const minRewriteIntervalMs = r.int(
    cni.minRewriteIntervalMs,
    "cni.minRewriteIntervalMs",
    DEFAULTS.minRewriteIntervalMs,
    10,
    600_000,
  );
  const maxRewriteBackoffMs = r.int(
    cni.maxRewriteBackoffMs,
    "cni.maxRewriteBackoffMs",
    Math.max(DEFAULTS.maxRewriteBackoffMs, minRewriteIntervalMs),
    10,
    600_000,
  );
  if (maxRewriteBackoffMs < minRewriteIntervalMs) {
    throw r.err(
      "cni.maxRewriteBackoffMs",
      `must not be below cni.minRewriteIntervalMs (${minRewriteIntervalMs}), got ${maxRewriteBackoffMs}`,
    );
  }

  const txtime = r.object(doc.txtime, "txtime");
  r.known(txtime, "txtime.", ["requireSyncedClock", "maxPtpOffsetNs"]);
  const clock = r.object(doc.clock, "clock");
  r.known(clock, "clock.", ["checkIntervalMs", "procRoot"]);

  return {
    strategy: r.string(doc.strategy, "strategy", DEFAULTS.strategy),
    restoreOn: restoreOn as string[],
    maxAgeMs: r.int(doc.maxAgeMs, "maxAgeMs", DEFAULTS.maxAgeMs, 1, 60_000),
    cleanup: r.bool(doc.cleanup, "cleanup", false),
    restorerCheckIntervalMs: r.int(
      doc.restorerCheckIntervalMs,
      "restorerCheckIntervalMs",
      DEFAULTS.restorerCheckIntervalMs,
      100,
      600_000,
    ),
    cni: {
      confDir: r.path(cni.confDir, "cni.confDir", DEFAULTS.confDir),
      binDir: r.path(cni.binDir, "cni.binDir", DEFAULTS.binDir),
      pluginDir,
      optIn,
      minRewriteIntervalMs,
      maxRewriteBackoffMs,
      resyncIntervalMs: r.int(
        cni.resyncIntervalMs,
        "cni.resyncIntervalMs",
        DEFAULTS.resyncIntervalMs,
        100,
        3_600_000,
      ),
    },
    bpffs,
    stateDir,
    socketPath: r.path(doc.socketPath, "socketPath", join(stateDir, "cni.sock")),
    metricsAddress,
    kubernetes: { enabled: r.bool(k8s.enabled, "kubernetes.enabled", true), kubeconfig },
    policy: parsePolicy(doc.policy, (field, problem) => r.err(`policy.${field}`, problem)),
    policyFile: doc.policyFile === undefined || doc.policyFile === ""
      ? ""
      : r.path(doc.policyFile, "policyFile", ""),
    logFormat: logFormat as LogFormat,
    txtime: {
      requireSyncedClock: r.bool(txtime.requireSyncedClock, "txtime.requireSyncedClock", false),
      maxPtpOffsetNs: r.int(txtime.maxPtpOffsetNs, "txtime.maxPtpOffsetNs", 0, 0, 1_000_000_000),
    },
    clock: {
      checkIntervalMs: r.int(
        clock.checkIntervalMs,
        "clock.checkIntervalMs",
        DEFAULTS.clockCheckIntervalMs,
        100,
        600_000,
      ),
      procRoot: r.path(clock.procRoot, "clock.procRoot", DEFAULTS.procRoot),
    },
  };
}

/** Reads and parses a config file. */
export async function loadConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): Promise<AgentConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError("(file)", `cannot read: ${(e as Error).message}`, path);
  }
  return parseConfig(text, path, env);
}

/** The datapath state file of a config. */
export function stateFileOf(cfg: AgentConfig): string {
  return join(cfg.stateDir, "datapath.json");
}

/** The attachment index file of a config. */
export function indexFileOf(cfg: AgentConfig): string {
  return join(cfg.stateDir, "attachments.json");
}

/** Where the reconciler keeps the primary's own bytes until uninstall gives them back. */
export function confOriginalsDirOf(cfg: AgentConfig): string {
  return join(cfg.stateDir, "conf-originals");
}
