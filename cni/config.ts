/**
 * The network configuration a runtime hands the plugin on stdin: the standard keys, the chained
 * `prevResult`, `runtimeConfig` (pod annotations through the `io.kubernetes.cri.pod-annotations`
 * capability), GC's `cni.dev/valid-attachments`, and tsn-proxy's own keys. Errors carry the spec's
 * codes: 6 for JSON that does not decode, 1 for a version the plugin does not speak, 7 for a
 * malformed config, 2 for a tsn-proxy key with an unsupported value.
 *
 * @example
 * ```ts
 * import { parseNetConf } from "./config.ts";
 * const conf = parseNetConf('{"cniVersion":"1.0.0","name":"k8s","type":"tsn-proxy"}', "DEL");
 * console.log(conf.socketPath);
 * ```
 */
import type { CniCommand } from "./env.ts";
import { type LocalOptIn, type OptInMode, readPod } from "./pod.ts";
import { CniError, compareVersions, ErrorCode, isSupportedVersion } from "./spec.ts";

/** The capability key containerd and CRI-O use to pass pod annotations. */
export const ANNOTATIONS_CAPABILITY = "io.kubernetes.cri.pod-annotations";

/** Where the node agent listens unless the conf entry says otherwise. */
export const DEFAULT_SOCKET_PATH = "/var/run/tsn-proxy/cni.sock";

/** How long the plugin waits for the agent's answer by default. */
export const DEFAULT_AGENT_TIMEOUT_MS = 20_000;

/** One GC entry. */
export interface Attachment {
  readonly containerID: string;
  readonly ifname: string;
}

/** A parsed plugin config. */
export interface NetConf {
  /** The config's version: the output is in this version. */
  readonly cniVersion: string;
  /** The network's name. */
  readonly name: string;
  /** The plugin type (`tsn-proxy`). */
  readonly type: string;
  /** The previous plugin's result, untouched (absent on DEL of some runtimes, STATUS, GC). */
  readonly prevResult?: Record<string, unknown>;
  /** Pod annotations from the runtime, when it passes them. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** GC: the attachments that are still valid. */
  readonly validAttachments?: readonly Attachment[];
  /** The agent's socket. */
  readonly socketPath: string;
  /** How long to wait for the agent. */
  readonly agentTimeoutMs: number;
  /** `annotation` (default): pods opt in; `all`: every attachment of this network does. */
  readonly optIn: OptInMode;
  /** The whole config object, for the agent. */
  readonly raw: Readonly<Record<string, unknown>>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function invalid(msg: string, details = ""): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg, details);
}

function unsupported(key: string, value: unknown, why: string): CniError {
  return new CniError(
    ErrorCode.UnsupportedField,
    `unsupported field ${key}=${JSON.stringify(value)}`,
    why,
  );
}

/** Decodes stdin; code 6 when it is not JSON, 7 when it is not an object. */
export function decodeJson(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(
      ErrorCode.DecodingFailure,
      "cannot decode the network configuration",
      e instanceof Error ? e.message : String(e),
    );
  }
  if (!isObject(v)) throw invalid("the network configuration is not a JSON object");
  return v;
}

/** The config version of a decoded config; code 1 when it is missing or not supported. */
export function configVersion(raw: Record<string, unknown>): string {
  const v = raw.cniVersion;
  if (!isSupportedVersion(v)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      "incompatible CNI version",
      `config version ${JSON.stringify(v ?? null)}; plugin supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, ` +
        "1.1.0",
    );
  }
  return v;
}

function parseAnnotations(raw: Record<string, unknown>): Record<string, string> | undefined {
  const rc = raw.runtimeConfig;
  if (rc === undefined) return undefined;
  if (!isObject(rc)) throw invalid("runtimeConfig is not an object");
  const a = rc[ANNOTATIONS_CAPABILITY];
  if (a === undefined) return undefined;
  if (!isObject(a)) throw invalid(`runtimeConfig.${ANNOTATIONS_CAPABILITY} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) {
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

function parseValidAttachments(raw: Record<string, unknown>): Attachment[] | undefined {
  const list = raw["cni.dev/valid-attachments"];
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw invalid("cni.dev/valid-attachments is not a list");
  return list.map((a, i) => {
    if (!isObject(a) || typeof a.containerID !== "string" || typeof a.ifname !== "string") {
      throw invalid(`cni.dev/valid-attachments[${i}] needs string containerID and ifname`);
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}

/** Parses and validates the config of one command. */
export function parseNetConf(text: string, command: CniCommand): NetConf {
  const raw = decodeJson(text);
  const cniVersion = configVersion(raw);
  if (command === "CHECK" && compareVersions(cniVersion, "0.4.0") < 0) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `config version ${cniVersion} does not allow CHECK`,
      "CHECK needs cniVersion 0.4.0",
    );
  }
  if ((command === "STATUS" || command === "GC") && compareVersions(cniVersion, "1.1.0") < 0) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `config version ${cniVersion} does not allow ${command}`,
      `${command} needs cniVersion 1.1.0`,
    );
  }
  if (typeof raw.name !== "string" || raw.name === "") throw invalid("missing network name");
  if (typeof raw.type !== "string" || raw.type === "") throw invalid("missing plugin type");
  const prev = raw.prevResult;
  if (prev !== undefined && !isObject(prev)) throw invalid("prevResult is not an object");
  if ((command === "ADD" || command === "CHECK") && prev === undefined) {
    throw invalid(
      "missing prevResult",
      "tsn-proxy is a chained plugin: put it after the interface plugin in a .conflist",
    );
  }
  const socketPath = raw.socketPath ?? DEFAULT_SOCKET_PATH;
  if (typeof socketPath !== "string" || !socketPath.startsWith("/")) {
    throw unsupported("socketPath", raw.socketPath, "must be an absolute path");
  }
  const timeout = raw.agentTimeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
  if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 100) {
    throw unsupported("agentTimeoutMs", raw.agentTimeoutMs, "must be an integer >= 100");
  }
  const optIn = raw.optIn ?? "annotation";
  if (optIn !== "annotation" && optIn !== "all") {
    throw unsupported("optIn", raw.optIn, 'must be "annotation" or "all"');
  }
  const annotations = parseAnnotations(raw);
  const validAttachments = parseValidAttachments(raw);
  return {
    cniVersion,
    name: raw.name,
    type: raw.type,
    ...(prev === undefined ? {} : { prevResult: prev }),
    ...(annotations === undefined ? {} : { annotations }),
    ...(validAttachments === undefined ? {} : { validAttachments }),
    socketPath,
    agentTimeoutMs: timeout,
    optIn,
    raw,
  };
}

/**
 * The opt-in from what the runtime passed (see {@link readPod} for the order of the sources);
 * "unknown" when none of them speaks: the agent then asks the Kubernetes API.
 */
export function localOptIn(conf: NetConf, args: Readonly<Record<string, string>>): LocalOptIn {
  return readPod(args, conf.annotations, conf.optIn).optIn;
}
