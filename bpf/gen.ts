/**
 * `deno task gen`: builds the bpf2ts code generator (tools/bpf2ts, Go + cilium/ebpf) and writes the
 * TypeScript bindings of every compiled object of {@link BPF_OBJECTS}.
 *
 * @example
 * ```ts ignore
 * import { generateBindings } from "./gen.ts";
 * await generateBindings(); // rewrites bpf/gen/*.ts from bpf/obj/*.bpf.o
 * ```
 */
import { dirname, join } from "node:path";
import { BPF_OBJECTS } from "./objects.ts";
import { run } from "./_run.ts";
import { repoRoot } from "./repo.ts";

/** Builds tools/bpf2ts into .cache/bin and returns the binary's path. */
async function buildBpf2ts(): Promise<string> {
  const bin = join(repoRoot(), ".cache/bin/bpf2ts");
  await run("go", ["build", "-o", bin, "."], join(repoRoot(), "tools/bpf2ts"));
  return bin;
}

/**
 * Generates bindings from the objects under `objectRoot` into `outDir` (both default to the
 * repository). The object path written into the bindings is always the repository-relative one.
 */
export async function generateBindings(objectRoot = repoRoot(), outDir = repoRoot()) {
  const bin = await buildBpf2ts();
  const written: string[] = [];
  for (const obj of BPF_OBJECTS) {
    if (!obj.bindings) continue;
    const out = join(outDir, obj.bindings);
    await Deno.mkdir(dirname(out), { recursive: true });
    await run(bin, ["-object", obj.object, "-out", out], objectRoot);
    written.push(out);
  }
  return written;
}

if (import.meta.main) {
  if (Deno.args.length) {
    console.log(
      "usage: deno task gen\n\nWrites the TypeScript bindings of the compiled BPF " +
        "objects with bpf2ts (no options; `deno task gen` builds the objects first).",
    );
    Deno.exit(Deno.args.includes("--help") || Deno.args.includes("-h") ? 0 : 2);
  }
  for (const out of await generateBindings()) console.log(`generated ${out}`);
}
