import { deepEqual } from "node:assert/strict";
import { join } from "node:path";
import { buildObjects, copyBpfSources } from "./build.ts";
import { BPF_OBJECTS } from "./objects.ts";
import { repoRoot } from "./repo.ts";

Deno.test("a checkout at a long path builds the committed objects byte for byte", async () => {
  // CI clones into a directory of its own choosing; the committed objects were built elsewhere.
  const scratch = await Deno.makeTempDir({ prefix: "tsn-build-test-" });
  try {
    const checkout = join(scratch, "a-checkout-whose-path-is-longer-than-the-developers-own");
    await copyBpfSources(repoRoot(), checkout);
    const out = join(scratch, "out");
    await buildObjects(out, checkout);
    const differ: string[] = [];
    for (const { object } of BPF_OBJECTS) {
      const [built, committed] = await Promise.all([
        Deno.readFile(join(out, object)),
        Deno.readFile(join(repoRoot(), object)),
      ]);
      if (built.length !== committed.length || built.some((b, i) => b !== committed[i])) {
        differ.push(object);
      }
    }
    deepEqual(differ, []);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
