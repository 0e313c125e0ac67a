/**
 * The pinned BPF toolchain. Objects are committed, so a rebuild must give the same bytes: one clang
 * major version, fixed flags, relative paths, and DWARF stripped (it embeds the build directory;
 * BTF, which CO-RE and the codegen need, stays).
 *
 * @example
 * ```ts
 * import { clangArgs } from "./toolchain.ts";
 * console.log(clangArgs({ source: "a.bpf.c", includes: ["bpf/include"] }, "a.bpf.o").join(" "));
 * ```
 */
export const CLANG = "clang-19";
/** llvm-strip of the same LLVM release. */
export const LLVM_STRIP = "llvm-strip-19";
/** The clang major version every committed object was built with. */
export const CLANG_MAJOR = 19;

/** clang arguments for one object; paths are relative to the repository root. */
export function clangArgs(
  src: { readonly source: string; readonly includes: readonly string[] },
  out: string,
): string[] {
  return [
    "-g",
    "-O2",
    "-target",
    "bpf",
    "-D__TARGET_ARCH_x86",
    "-fdebug-compilation-dir=.",
    "-Wall",
    "-Werror",
    ...src.includes.map((dir) => `-I${dir}`),
    "-c",
    src.source,
    "-o",
    out,
  ];
}
