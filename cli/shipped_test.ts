import { equal } from "node:assert/strict";
import { shipped } from "./shipped.ts";

Deno.test("shipped() dispatches agent, status and doctor and refuses anything else", async () => {
  const err = console.error;
  const out: string[] = [];
  console.error = (s: string) => out.push(s);
  try {
    equal(await shipped(["demo"]), 2, "the demo is not shipped");
    equal(await shipped([]), 2);
    equal(await shipped(["doctor", "--strategy", "skb-hash"]), 2, "usage errors exit 2");
    equal(await shipped(["status", "--bpffs", "relative"]), 2);
    equal(await shipped(["--config"]), 2, "a bare flag goes to the agent (missing value)");
  } finally {
    console.error = err;
  }
});
