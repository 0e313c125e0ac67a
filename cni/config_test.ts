import { deepEqual, equal } from "node:assert/strict";
import { localOptIn, parseNetConf } from "./config.ts";
import { CniError } from "./spec.ts";
import type { CniCommand } from "./env.ts";

const conf = (o: Record<string, unknown>) =>
  JSON.stringify({ cniVersion: "1.0.0", name: "k8s", type: "tsn-proxy", prevResult: {}, ...o });

function code(text: string, cmd: CniCommand = "ADD"): number {
  try {
    parseNetConf(text, cmd);
  } catch (e) {
    if (e instanceof CniError) return e.code;
    throw e;
  }
  return 0;
}

Deno.test("parseNetConf() maps each malformation to the spec's code", () => {
  equal(code("{not json"), 6);
  equal(code("[1]"), 7);
  equal(code(conf({ cniVersion: "0.2.0" })), 1);
  equal(code(conf({ cniVersion: undefined })), 1);
  equal(code(conf({ name: "" })), 7);
  equal(code(conf({ prevResult: undefined })), 7);
  equal(code(conf({ prevResult: undefined }), "DEL"), 0);
  equal(code(conf({ socketPath: "relative.sock" })), 2);
  equal(code(conf({ optIn: "maybe" })), 2);
  equal(code(conf({ agentTimeoutMs: 5 })), 2);
  equal(code(conf({ runtimeConfig: [] })), 7);
});

Deno.test("parseNetConf() allows CHECK from 0.4.0, STATUS and GC from 1.1.0", () => {
  equal(code(conf({ cniVersion: "0.3.1" }), "CHECK"), 1);
  equal(code(conf({ cniVersion: "0.4.0" }), "CHECK"), 0);
  equal(code(conf({}), "STATUS"), 1);
  equal(code(conf({ cniVersion: "1.1.0", prevResult: undefined }), "STATUS"), 0);
  const gc = parseNetConf(
    conf({
      cniVersion: "1.1.0",
      "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
    }),
    "GC",
  );
  deepEqual(gc.validAttachments, [{ containerID: "c1", ifname: "eth0" }]);
  equal(code(conf({ cniVersion: "1.1.0", "cni.dev/valid-attachments": [{}] }), "GC"), 7);
});

Deno.test("localOptIn() reads the annotation, CNI_ARGS and optIn=all", () => {
  const withAnn = (a: Record<string, string>) =>
    parseNetConf(
      conf({ runtimeConfig: { "io.kubernetes.cri.pod-annotations": a } }),
      "ADD",
    );
  equal(localOptIn(withAnn({ "tsn-proxy.io/enabled": "true" }), {}).decision, "yes");
  equal(localOptIn(withAnn({ "tsn-proxy.io/enabled": "false" }), {}).decision, "no");
  equal(localOptIn(withAnn({ other: "x" }), {}).decision, "no", "annotations passed, none ours");
  const plain = parseNetConf(conf({}), "ADD");
  equal(localOptIn(plain, {}).decision, "unknown");
  equal(localOptIn(plain, { TSN_PROXY_ENABLED: "true" }).decision, "yes");
  equal(localOptIn(plain, { TSN_PROXY_ENABLED: "false" }).decision, "no");
  equal(localOptIn(parseNetConf(conf({ optIn: "all" }), "ADD"), {}).decision, "yes");
});
