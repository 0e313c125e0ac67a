import { equal, throws } from "node:assert/strict";
import { DEFAULT_TXTIME_HORIZON_MS, maxPriorityFor, parsePolicy, txtimeFor } from "./policy.ts";

Deno.test("maxPriorityFor() uses the namespace's maximum, else the default", () => {
  const p = parsePolicy({ defaultMaxPriority: 1, namespaces: { cell: 5, free: "unlimited" } });
  equal(maxPriorityFor(p, "cell"), 5);
  equal(maxPriorityFor(p, "free"), null);
  equal(maxPriorityFor(p, "other"), 1);
  equal(maxPriorityFor(p, undefined), 1);
  equal(maxPriorityFor(p, "constructor"), 1, "no prototype keys");
});

Deno.test("parsePolicy() fails closed: no section, no value, empty value mean priority 0", () => {
  for (const section of [undefined, null]) {
    const none = parsePolicy(section);
    equal(maxPriorityFor(none, "x"), 0, "no policy section (an emptied ConfigMap)");
    equal(maxPriorityFor(none, undefined), 0);
    equal(none.configured, false);
  }
  const p = parsePolicy({ namespaces: { "kube-system": null, cell: "", free: "unlimited" } });
  equal(maxPriorityFor(p, "kube-system"), 0, "`kube-system:` with no value");
  equal(maxPriorityFor(p, "cell"), 0, "an empty string");
  equal(maxPriorityFor(p, "other"), 0, "no defaultMaxPriority");
  equal(maxPriorityFor(p, "free"), null, "only the word unlimited lifts the clamp");
  equal(maxPriorityFor(parsePolicy({}), "x"), 0, "an empty section");
  equal(maxPriorityFor(parsePolicy({ defaultMaxPriority: null }), "x"), 0);
  throws(() => parsePolicy({ defaultMaxPriority: "Unlimited" }), /defaultMaxPriority/);
  throws(() => parsePolicy({ namespaces: { cell: "none" } }), /namespaces\.cell/);
});

Deno.test("parsePolicy() refuses bad values", () => {
  throws(() => parsePolicy({ defaultMaxPriority: -1 }), /defaultMaxPriority/);
  throws(() => parsePolicy({ namespaces: { "Bad_NS": 1 } }), /namespaces\.Bad_NS/);
  throws(() => parsePolicy({ namespaces: [] }), /namespaces/);
});

Deno.test("parsePolicy() reads the txtime rules: deny list, horizon (default 10 s, or none)", () => {
  const p = parsePolicy({ denyTxtime: ["guest"], txtimeHorizonMs: 250 });
  equal(txtimeFor(p, "guest").allowed, false);
  equal(txtimeFor(p, "cell").allowed, true);
  equal(txtimeFor(p, undefined).allowed, true, "the deny list names namespaces");
  equal(txtimeFor(p, "cell").horizonNs, 250_000_000n);
  equal(parsePolicy({}).txtimeHorizonMs, DEFAULT_TXTIME_HORIZON_MS);
  equal(parsePolicy(undefined).txtimeHorizonMs, DEFAULT_TXTIME_HORIZON_MS);
  equal(txtimeFor(parsePolicy({ txtimeHorizonMs: "none" }), "x").horizonNs, 0n);
  throws(() => parsePolicy({ denyTxtime: "guest" }), /denyTxtime: must be a list/);
  throws(() => parsePolicy({ denyTxtime: ["Guest"] }), /denyTxtime\[0\]/);
  throws(() => parsePolicy({ txtimeHorizonMs: 0 }), /txtimeHorizonMs/);
  throws(() => parsePolicy({ txtimeHorizonMs: "unlimited" }), /txtimeHorizonMs/);
});
