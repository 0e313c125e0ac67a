/**
 * `deno task check:gen`: rebuilds every BPF object and its bindings into a scratch tree and fails
 * when any committed file differs, so a stale object or binding can never land.
 *
 * @example
 * ```ts ignore
 * import { staleGenerated } from "./check_gen.ts";
 * console.log(await staleGenerated()); // [] when everything is fresh
 * ```
 */
import { join } from "node:path";
import { buildObjects } from "./build.ts";
import { generateBindings } from "./gen.ts";
import { BPF_OBJECTS } from "./objects.ts";
import { repoRoot } from "./repo.ts";

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b).catch(() => undefined)]);
  return y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Repository-relative paths of committed objects/bindings that differ from a fresh build. */
export async function staleGenerated(): Promise<string[]> {
  const scratch = await Deno.makeTempDir({ prefix: "tsn-check-gen-" });
  try {
    // clang runs from the repository root either way, so only the outputs move.
    const outDir = scratch;
    await buildObjects(outDir);
    await generateBindings(outDir, outDir);
    const stale: string[] = [];
    for (const obj of BPF_OBJECTS) {
      for (const rel of [obj.object, ...(obj.bindings ? [obj.bindings] : [])]) {
        if (!(await sameBytes(join(outDir, rel), join(repoRoot(), rel)))) stale.push(rel);
      }
    }
    return stale;
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args.length) {
    console.log(
      "usage: deno task check:gen\n\nRebuilds the BPF objects and bindings into a " +
        "scratch dir and fails when a committed one differs (no options).",
    );
    Deno.exit(Deno.args.includes("--help") || Deno.args.includes("-h") ? 0 : 2);
  }
  const stale = await staleGenerated();
  if (stale.length) {
    console.error(
      `stale generated files (run 'deno task gen' and commit):\n  ${stale.join("\n  ")}`,
    );
    Deno.exit(1);
  }
  console.log(`generated files are fresh (${BPF_OBJECTS.length} objects and bindings)`);
}
