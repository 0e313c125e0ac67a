/**
 * `deno task build:bpf`: compiles every object of {@link BPF_OBJECTS} with the pinned clang.
 * `buildObjects(outDir)` builds into another tree (check:gen compares the two).
 *
 * @example
 * ```ts ignore
 * import { buildObjects } from "./build.ts";
 * await buildObjects(); // writes every object of bpf/objects.ts (core, observer, tamper, bench, lab)
 * ```
 */
import { dirname, join } from "node:path";
import { BPF_OBJECTS } from "./objects.ts";
import { CLANG, CLANG_MAJOR, clangArgs, LLVM_STRIP } from "./toolchain.ts";
import { run } from "./_run.ts";
import { repoRoot } from "./repo.ts";

/** Fails unless the installed clang is the pinned major version. */
async function checkClang(): Promise<void> {
  const version = await run(CLANG, ["--version"]).catch((e: unknown) => {
    throw new Error(
      `${CLANG} not found: install it with 'apt-get install clang-19 llvm-19' (${e})`,
    );
  });
  const major = Number(/version (\d+)\./.exec(version)?.[1]);
  if (major !== CLANG_MAJOR) {
    throw new Error(`${CLANG} reports major ${major}, want ${CLANG_MAJOR}`);
  }
}

/** Compiles every object; with `outDir` the outputs go under it instead of the repository. */
export async function buildObjects(outDir = repoRoot()): Promise<string[]> {
  await checkClang();
  const built: string[] = [];
  for (const obj of BPF_OBJECTS) {
    const out = join(outDir, obj.object);
    await Deno.mkdir(dirname(out), { recursive: true });
    await run(CLANG, clangArgs(obj, out));
    await run(LLVM_STRIP, ["-g", out]);
    built.push(out);
  }
  return built;
}

if (import.meta.main) {
  if (Deno.args.length) {
    console.log(
      "usage: deno task build:bpf\n\nCompiles every BPF object of bpf/objects.ts " +
        "with the pinned clang-19 (no options).",
    );
    Deno.exit(Deno.args.includes("--help") || Deno.args.includes("-h") ? 0 : 2);
  }
  for (const out of await buildObjects()) console.log(`built ${out}`);
}
