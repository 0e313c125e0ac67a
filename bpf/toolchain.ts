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

/**
 * Where kernel tests find BPF objects compiled elsewhere, on a machine without clang (the lab's
 * guests: lab/guest_tests_vm_kernel_test.ts compiles them on the host and hands them over).
 */
export const PREBUILT_BPF_ENV = "TSN_PREBUILT_BPF_DIR";

/**
 * The prebuilt copy of object `name` when {@link PREBUILT_BPF_ENV} names a folder, else null
 * (compile it here). A folder without it is an error, not a reason to skip.
 *
 * @example
 * ```ts
 * import { prebuiltBpf } from "./toolchain.ts";
 * prebuiltBpf("bad_bounds.bpf.o"); // null unless TSN_PREBUILT_BPF_DIR is set
 * ```
 */
export function prebuiltBpf(name: string): string | null {
  const dir = Deno.env.get(PREBUILT_BPF_ENV);
  if (!dir) return null;
  const path = `${dir}/${name}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${PREBUILT_BPF_ENV}=${dir} has no ${name}`);
  }
  return path;
}
