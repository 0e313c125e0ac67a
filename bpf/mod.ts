/**
 * @module
 * The BPF side of tsn-proxy: the objects this repository builds and the tools that keep their
 * compiled objects and generated bindings fresh.
 */
export { BPF_OBJECTS, type BpfObjectSource, objectPath } from "./objects.ts";
export { repoRoot } from "./repo.ts";
export { CLANG, CLANG_MAJOR, clangArgs, PREBUILT_BPF_ENV, prebuiltBpf } from "./toolchain.ts";
