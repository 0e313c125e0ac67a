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

/**
 * Copies the C sources and headers of every directory that {@link BPF_OBJECTS} compiles from or
 * includes, from the tree at `from` to the same relative paths under `to`.
 */
export async function copyBpfSources(from: string, to: string): Promise<void> {
  const dirs = new Set(BPF_OBJECTS.flatMap((o) => [dirname(o.source), ...o.includes]));
  for (const dir of dirs) {
    await Deno.mkdir(join(to, dir), { recursive: true });
    for await (const e of Deno.readDir(join(from, dir))) {
      if (e.isFile && /\.[ch]$/.test(e.name)) {
        await Deno.copyFile(join(from, dir, e.name), join(to, dir, e.name));
      }
    }
  }
}

/**
 * clang-19 orders an object's BTF forward declarations (FWD) by where their debug-info nodes land
 * in its memory, and that moves with the length of the working directory's path: costs.bpf.c built
 * in /tmp/b and in /check/work/main gave two objects (FWD bpf_sock and bpf_flow_keys swapped), so
 * check:gen failed on a CI clone. Every build therefore compiles a copy of the sources staged at
 * a path of one length, whatever the checkout's path.
 */
let stages = 0;
function stagePath(): string {
  const n = String(stages++ % 10000).padStart(4, "0");
  return `/tmp/tsn-proxy-bpf-build-${String(Deno.pid).padStart(10, "0")}-${n}`;
}

/**
 * Compiles every object; with `outDir` the outputs go under it instead of the repository, with
 * `sourceRoot` the sources come from another copy of the repository's tree.
 */
export async function buildObjects(
  outDir = repoRoot(),
  sourceRoot = repoRoot(),
): Promise<string[]> {
  await checkClang();
  const stage = stagePath();
  await Deno.remove(stage, { recursive: true }).catch(() => {});
  try {
    await copyBpfSources(sourceRoot, stage);
    const built: string[] = [];
    for (const obj of BPF_OBJECTS) {
      await Deno.mkdir(join(stage, dirname(obj.object)), { recursive: true });
      await run(CLANG, clangArgs(obj, obj.object), stage);
      await run(LLVM_STRIP, ["-g", obj.object], stage);
      const out = join(outDir, obj.object);
      await Deno.mkdir(dirname(out), { recursive: true });
      await Deno.copyFile(join(stage, obj.object), out);
      built.push(out);
    }
    return built;
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
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
