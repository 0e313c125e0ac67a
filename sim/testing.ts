/**
 * The assertions the simulator and e2e tests use, on top of `node:assert` (the registries offer no `@std/assert`
 * here). Kept tiny so swapping in `@std/assert` later is one import.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Deep, strict equality (bigint-aware); msg is prefixed to the diff. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

/** Truthiness. */
export function assertTrue(cond: unknown, msg = "assertion failed"): asserts cond {
  assert.ok(cond, msg);
}

/** fn must throw an instance of cls whose message contains includes (when given). */
export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  cls: new (...args: any[]) => Error = Error,
  includes?: string,
): void {
  let thrown: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    thrown = e;
  }
  assert.ok(threw, "expected a throw");
  assert.ok(thrown instanceof cls, `expected ${cls.name}, got ${String(thrown)}`);
  if (includes !== undefined) {
    assert.ok(
      (thrown as Error).message.includes(includes),
      `message "${(thrown as Error).message}" lacks "${includes}"`,
    );
  }
}
