import { equal } from "node:assert/strict";
import { readPod } from "./pod.ts";

const ann = (v: string) => ({ "tsn-proxy.io/enabled": v });

Deno.test("readPod() lets the pod annotation win over CNI_ARGS, both ways", () => {
  const on = { TSN_PROXY_ENABLED: "true" }, off = { TSN_PROXY_ENABLED: "false" };
  equal(readPod(on, ann("false")).optIn.decision, "no", "annotation false beats CNI_ARGS true");
  equal(readPod(off, ann("true")).optIn.decision, "yes", "annotation true beats CNI_ARGS false");
  equal(readPod(on, {}).optIn.decision, "yes", "CNI_ARGS speaks when the annotation is absent");
  equal(readPod(off, undefined).optIn.decision, "no");
  equal(readPod({}, {}).optIn.decision, "no", "annotations passed, none ours");
  equal(readPod({}, undefined).optIn.decision, "unknown");
  equal(readPod(off, ann("false"), "all").optIn.decision, "yes", "optIn=all covers every pod");
});

Deno.test("readPod() reads the same values everywhere; a bad value is a no that names it", () => {
  for (const v of ["true", "True", "YES", "1"]) {
    equal(readPod({}, ann(v)).optIn.decision, "yes", v);
    equal(readPod({ TSN_PROXY_ENABLED: v }, undefined).optIn.decision, "yes", v);
  }
  for (const v of ["false", "no", "0", "", "enabled", "true "]) {
    equal(readPod({ TSN_PROXY_ENABLED: "true" }, ann(v)).optIn.decision, "no", JSON.stringify(v));
  }
  equal(readPod({}, ann("on")).optIn.source.includes('invalid value "on"'), true);
});

Deno.test("readPod() keeps only valid namespace and pod names (others meet the default)", () => {
  const p = readPod({ K8S_POD_NAMESPACE: "cell-1", K8S_POD_NAME: "talker-0.a" }, undefined);
  equal(p.namespace, "cell-1");
  equal(p.name, "talker-0.a");
  for (const ns of ["", "Kube-System", "kube-system ", "a/b", "-x", "x".repeat(64)]) {
    equal(readPod({ K8S_POD_NAMESPACE: ns }, undefined).namespace, undefined, JSON.stringify(ns));
  }
});
