import { deepEqual, equal, ok } from "node:assert/strict";
import { CniError, compareVersions, ErrorCode, isSupportedVersion, versionInfo } from "./spec.ts";

Deno.test("versionInfo() echoes a supported input version and lists every version", () => {
  deepEqual(versionInfo("0.4.0"), {
    cniVersion: "0.4.0",
    supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
  });
  equal(versionInfo("0.2.0").cniVersion, "1.1.0");
  equal(versionInfo(undefined).cniVersion, "1.1.0");
});

Deno.test("CniError.toJSON() is the spec's error object", () => {
  const e = new CniError(ErrorCode.TryAgainLater, "agent down", "retry");
  deepEqual(e.toJSON("1.0.0"), {
    cniVersion: "1.0.0",
    code: 11,
    msg: "agent down",
    details: "retry",
  });
  deepEqual(new CniError(7, "bad").toJSON(), { cniVersion: "1.1.0", code: 7, msg: "bad" });
});

Deno.test("compareVersions() orders numerically", () => {
  ok(compareVersions("0.10.0", "0.4.0") > 0);
  ok(compareVersions("1.0.0", "1.1.0") < 0);
  equal(compareVersions("1.1.0", "1.1.0"), 0);
  ok(isSupportedVersion("0.3.1") && !isSupportedVersion("0.2.0") && !isSupportedVersion(1));
});
