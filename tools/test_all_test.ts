import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { countTests, failureDigest } from "./test_all.ts";

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

Deno.test("failureDigest() keeps the failed tests' names and the end of stderr", () => {
  const stdout = [
    "running 2 tests from ./a_test.ts",
    "one ... ok (1ms)",
    "two ... FAILED (2ms)",
    "",
    " ERRORS ",
    "two => ./a_test.ts:3:6",
    "error: AssertionError: 1 == 2",
    "",
    " FAILURES ",
    "",
    "two => ./a_test.ts:3:6",
    "",
    "FAILED | 1 passed | 1 failed (5ms)",
  ].join("\n");
  const stderr = Array.from({ length: 9 }, (_, i) => `line ${i}`).join("\n") + "\n";
  assertEquals(failureDigest(stdout, stderr), [
    "two => ./a_test.ts:3:6",
    "line 3",
    "line 4",
    "line 5",
    "line 6",
    "line 7",
    "line 8",
  ]);
  assertEquals(failureDigest("", "stale generated files:\n  x.o\n"), [
    "stale generated files:",
    "  x.o",
  ]);
});
