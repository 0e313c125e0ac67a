/**
 * The plugin's result: the previous plugin's result, passed through unchanged. Runtimes (libcni)
 * already hand `prevResult` in the config's version, so conversion is the rare case; when it is
 * needed it is the one difference between the 0.3/0.4 and 1.x formats: the `version` ("4"/"6") of
 * each entry in `ips`, which 1.0.0 removed.
 *
 * @example
 * ```ts
 * import { passThrough } from "./result.ts";
 * const out = passThrough({ cniVersion: "1.0.0", ips: [] }, "1.0.0");
 * console.log(JSON.stringify(out));
 * ```
 */
import { CniError, compareVersions, ErrorCode } from "./spec.ts";

function major1(v: string): boolean {
  return compareVersions(v, "1.0.0") >= 0;
}

/**
 * `prev` in `cniVersion`: the very same object when it already is (or names no version), else a
 * converted copy. Code 1 when `prev` names a version older than 0.3.0 (no chained results then).
 */
export function passThrough(
  prev: Readonly<Record<string, unknown>>,
  cniVersion: string,
): Record<string, unknown> {
  const from = prev.cniVersion;
  if (from === undefined) return { cniVersion, ...prev };
  if (typeof from !== "string" || compareVersions(from, "0.3.0") < 0) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      "cannot convert prevResult",
      `prevResult version ${JSON.stringify(from)} predates 0.3.0`,
    );
  }
  if (from === cniVersion) return prev as Record<string, unknown>;
  const out: Record<string, unknown> = structuredClone(prev) as Record<string, unknown>;
  out.cniVersion = cniVersion;
  const ips = Array.isArray(out.ips) ? out.ips as Record<string, unknown>[] : [];
  if (major1(from) && !major1(cniVersion)) {
    for (const ip of ips) {
      if (typeof ip.address === "string" && ip.version === undefined) {
        ip.version = ip.address.includes(":") ? "6" : "4";
      }
    }
  } else if (!major1(from) && major1(cniVersion)) {
    for (const ip of ips) delete ip.version;
  }
  return out;
}
