/**
 * The parts of the CNI specification (1.1.0) that tsn-proxy's plugin speaks: the versions it
 * accepts, the well-known error codes, and the error object a plugin prints on failure.
 *
 * @example
 * ```ts
 * import { CniError, ErrorCode } from "./spec.ts";
 * const e = new CniError(ErrorCode.InvalidNetworkConfig, "missing name");
 * console.log(JSON.stringify(e.toJSON("1.1.0")));
 * ```
 */

/** The version the plugin speaks natively. */
export const CNI_VERSION = "1.1.0";

/** Every config version the plugin accepts, oldest first. */
export const SUPPORTED_VERSIONS: readonly string[] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/** The plugin's type name (the `type` of its conflist entry and its file name in the bin dir). */
export const PLUGIN_TYPE = "tsn-proxy";

/** Well-known error codes of the spec; codes >= 100 are ours. */
export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  ContainerUnknown: 3,
  InvalidEnv: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  /** The node agent answered with something the plugin does not understand. */
  AgentProtocol: 100,
  /** CHECK: the pod opted in but its saver is missing or damaged. */
  AttachmentMissing: 101,
  /** The agent failed to attach or detach (kernel error, policy error). */
  AgentFailure: 102,
  /** The agent refused the caller: not root in the node's user namespace. */
  CallerRefused: 103,
  /** Anything unexpected inside the plugin. */
  Internal: 999,
} as const;

/** A spec error: printed as `{"cniVersion","code","msg","details"}` with a non-zero exit. */
export class CniError extends Error {
  /**
   * @param code a code of {@link ErrorCode} (or >= 100)
   * @param msg a short message
   * @param details a longer explanation
   */
  constructor(readonly code: number, readonly msg: string, readonly details = "") {
    super(details ? `${msg}: ${details}` : msg);
    this.name = "CniError";
  }

  /** The spec's error object in `cniVersion`. */
  toJSON(cniVersion: string = CNI_VERSION): {
    cniVersion: string;
    code: number;
    msg: string;
    details?: string;
  } {
    return {
      cniVersion,
      code: this.code,
      msg: this.msg,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** True for a version string the plugin accepts. */
export function isSupportedVersion(v: unknown): v is string {
  return typeof v === "string" && SUPPORTED_VERSIONS.includes(v);
}

/** Compares two dotted versions numerically: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number), pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The answer to VERSION: the input's version when supported, else the native one. */
export function versionInfo(inputVersion?: string): {
  cniVersion: string;
  supportedVersions: string[];
} {
  return {
    cniVersion: isSupportedVersion(inputVersion) ? inputVersion : CNI_VERSION,
    supportedVersions: [...SUPPORTED_VERSIONS],
  };
}
