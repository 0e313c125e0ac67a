import { ok } from "node:assert/strict";
import { monotonicNs } from "./clock.ts";

Deno.test("monotonicNs() advances with wall time and never goes back", async () => {
  const a = monotonicNs();
  await new Promise((r) => setTimeout(r, 20));
  const b = monotonicNs();
  ok(b - a >= 15_000_000n, `${b - a} ns for a 20 ms sleep`);
  ok(b - a < 5_000_000_000n, `${b - a} ns for a 20 ms sleep`);
});
