import { equal, throws } from "node:assert/strict";
import { maxPriorityFor, parsePolicy } from "./policy.ts";

Deno.test("maxPriorityFor() uses the namespace's maximum, else the default", () => {
  const p = parsePolicy({ defaultMaxPriority: 1, namespaces: { cell: 5, free: "unlimited" } });
  equal(maxPriorityFor(p, "cell"), 5);
  equal(maxPriorityFor(p, "free"), null);
  equal(maxPriorityFor(p, "other"), 1);
  equal(maxPriorityFor(p, undefined), 1);
  equal(maxPriorityFor(p, "constructor"), 1, "no prototype keys");
});

Deno.test("parsePolicy() without a section clamps nothing; bad values are refused", () => {
  const none = parsePolicy(undefined);
  equal(maxPriorityFor(none, "x"), null);
  equal(none.configured, false);
  throws(() => parsePolicy({ defaultMaxPriority: -1 }), /defaultMaxPriority/);
  throws(() => parsePolicy({ namespaces: { "Bad_NS": 1 } }), /namespaces\.Bad_NS/);
  throws(() => parsePolicy({ namespaces: [] }), /namespaces/);
});
