/**
 * The BPF objects this repository builds, where their compiled objects and generated bindings live.
 * `deno task build:bpf`, `deno task gen` and `deno task check:gen` all walk this list.
 *
 * @example
 * ```ts
 * import { BPF_OBJECTS } from "./objects.ts";
 * console.log(BPF_OBJECTS.map((o) => o.object));
 * ```
 */
export interface BpfObjectSource {
  /** C source, relative to the repository root. */
  readonly source: string;
  /** Compiled object (committed), relative to the repository root. */
  readonly object: string;
  /** Generated TypeScript bindings (committed), relative to the repository root. */
  readonly bindings: string;
  /** Include directories passed to clang. */
  readonly includes: readonly string[];
}

/** Every object built by `deno task build:bpf`. */
export const BPF_OBJECTS: readonly BpfObjectSource[] = [
  {
    source: "bpf/src/tsn_core.bpf.c",
    object: "bpf/obj/tsn_core.bpf.o",
    bindings: "bpf/gen/tsn_core.ts",
    includes: ["bpf/include"],
  },
  {
    source: "sim/bpf/observer.bpf.c",
    object: "sim/bpf/obj/observer.bpf.o",
    bindings: "sim/bpf/gen/observer.ts",
    includes: ["bpf/include", "sim/bpf"],
  },
];
