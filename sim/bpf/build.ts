/**
 * Builds the observer (observer.bpf.c -> obj/observer.bpf.o) with the project's pinned
 * toolchain and flags (bpf/toolchain.ts, bpf/objects.ts), so the result is byte-identical to
 * `deno task build:bpf`. `deno run -A sim/bpf/build.ts [--force]`.
 *
 * @module
 */

import { BPF_OBJECTS, CLANG, CLANG_MAJOR, clangArgs } from "@tsn-proxy/bpf";
import { exec } from "../process.ts";

/** The repository root. */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** The observer's source, relative to the repo root. */
export const OBSERVER_SRC = "sim/bpf/observer.bpf.c";

const entry = BPF_OBJECTS.find((o) => o.source === OBSERVER_SRC);
if (!entry) throw new Error(`${OBSERVER_SRC} is not in bpf/objects.ts`);
const OBSERVER = entry;

/** The observer's object, relative to the repo root. */
export const OBSERVER_OBJ: string = OBSERVER.object;
const INPUTS = [OBSERVER_SRC, "sim/bpf/observer.h", "bpf/include/vmlinux.h"];

async function mtime(rel: string): Promise<number> {
  try {
    return (await Deno.stat(`${REPO_ROOT}/${rel}`)).mtime?.getTime() ?? 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return -1;
    throw e;
  }
}

/**
 * Compiles the observer when the object is missing or older than a source (or when force);
 * returns the object's absolute path. The object is written to a temporary name and renamed, so
 * a concurrent reader never sees half a file.
 */
export async function buildObserver(force = false): Promise<string> {
  const out = `${REPO_ROOT}/${OBSERVER_OBJ}`;
  const objTime = await mtime(OBSERVER_OBJ);
  const srcTime = Math.max(...await Promise.all(INPUTS.map(mtime)));
  if (!force && objTime >= 0 && objTime >= srcTime) return out;
  const tmp = `${OBSERVER_OBJ}.${Deno.pid}.tmp`;
  await Deno.mkdir(`${REPO_ROOT}/${OBSERVER_OBJ.replace(/\/[^/]*$/, "")}`, { recursive: true });
  try {
    await exec([CLANG, ...clangArgs(OBSERVER, tmp)], { cwd: REPO_ROOT, timeoutMs: 60_000 });
    await exec([`llvm-strip-${CLANG_MAJOR}`, "-g", tmp], { cwd: REPO_ROOT });
    await Deno.rename(`${REPO_ROOT}/${tmp}`, out);
  } finally {
    await Deno.remove(`${REPO_ROOT}/${tmp}`).catch(() => {});
  }
  return out;
}

if (import.meta.main) {
  console.log(await buildObserver(Deno.args.includes("--force")));
}
