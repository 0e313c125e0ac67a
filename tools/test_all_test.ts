import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { countTests } from "./test_all.ts";

Deno.test("countTests() sums Deno summaries and go test results", () => {
  const out = [
    "\x1b[0m\x1b[32mok\x1b[0m | 3 passed | 0 failed \x1b[0m\x1b[38;5;245m(20ms)\x1b[0m",
    "FAILED | 2 passed (1 step) | 1 failed | 1 ignored (5s)",
    "    --- PASS: TestGolden (0.01s)",
    "--- FAIL: TestNaming (0.00s)",
  ].join("\n");
  assertEquals(countTests(out), { passed: 6, failed: 2 });
});

Deno.test("countTests() finds nothing in unrelated output", () => {
  assertEquals(countTests("passed the salt | 3 failed\nok"), { passed: 0, failed: 0 });
});
