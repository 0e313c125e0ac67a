/**
 * @module
 * Shared-library closures of host binaries, read from `ldd`, so a binary can be copied into the
 * initramfs or the 9p share together with the libraries and the dynamic loader it needs.
 *
 * @example
 * ```ts
 * import { parseLdd } from "./ldd.ts";
 * const r = parseLdd("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x2)\n");
 * console.log(r.libs.get("libc.so.6"), r.loader);
 * ```
 */
import { run } from "./util.ts";

/** What `ldd` reported for one or more binaries. */
export interface LddResult {
  /** soname -> resolved host path. */
  readonly libs: Map<string, string>;
  /** The dynamic loader's path (e.g. /lib64/ld-linux-x86-64.so.2), if the binary is dynamic. */
  readonly loader: string | undefined;
}

/** Parses `ldd` output; a library reported as "not found" is an error. */
export function parseLdd(text: string, what = "binary"): LddResult {
  const libs = new Map<string, string>();
  let loader: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("linux-vdso.so") || line.startsWith("linux-gate.so")) continue;
    if (/^(statically linked|not a dynamic executable)$/.test(line)) continue;
    let m = /^(\S+) => not found$/.exec(line);
    if (m) throw new Error(`${what}: library ${m[1]} not found`);
    m = /^(\S+) => (\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (m) {
      libs.set(m[1]!, m[2]!);
      continue;
    }
    m = /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (m) {
      loader = m[1]!;
      continue;
    }
    if (line.endsWith(":")) continue; // "path:" headers when several files are given
    throw new Error(`${what}: cannot parse ldd line: ${line}`);
  }
  return { libs, loader };
}

/** The merged closure of several host binaries or libraries. */
export async function lddClosure(paths: readonly string[]): Promise<LddResult> {
  const libs = new Map<string, string>();
  let loader: string | undefined;
  for (const path of paths) {
    const r = parseLdd(await run("ldd", [path]), path);
    for (const [k, v] of r.libs) libs.set(k, v);
    loader ??= r.loader;
  }
  return { libs, loader };
}
