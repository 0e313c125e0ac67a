import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { countTests } from "./test_all.ts";

Deno.test("countTests() counts ignored and skipped tests as failed", () => {
  const out = [
    "ok | 4 passed | 0 failed | 2 ignored (1s)",
    "ok | 1 passed | 0 failed | 0 ignored | 3 filtered out (1s)",
    "--- SKIP: TestNeedsRoot (0.00s)",
  ].join("\n");
  assertEquals(countTests(out), { passed: 5, failed: 3, ignored: 3 });
});

Deno.test("countTests() sums Deno summaries and go test results", () => {
  const out = [
    "\x1b[0m\x1b[32mok\x1b[0m | 3 passed | 0 failed \x1b[0m\x1b[38;5;245m(20ms)\x1b[0m",
    "FAILED | 2 passed (1 step) | 1 failed | 1 ignored (5s)",
    "    --- PASS: TestGolden (0.01s)",
    "--- FAIL: TestNaming (0.00s)",
  ].join("\n");
  assertEquals(countTests(out), { passed: 6, failed: 3, ignored: 1 });
});

Deno.test("countTests() finds nothing in unrelated output", () => {
  assertEquals(countTests("passed the salt | 3 failed\nok"), { passed: 0, failed: 0, ignored: 0 });
});
