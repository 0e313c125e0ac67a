import { equal, match } from "node:assert/strict";
import { main } from "./main.ts";

// The manifest command lives in k8s/ (k8s/command_test.ts tests it); this checks the CLI reaches it.
Deno.test("tsnproxy manifest is registered in the CLI and exits 2 on a bad strategy", async () => {
  const errors: string[] = [];
  const origError = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    equal(await main(["manifest", "--strategy", "nope"]), 2);
  } finally {
    console.error = origError;
  }
  match(errors.join("\n"), /unknown strategy "nope"/);
});
