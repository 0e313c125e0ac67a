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
  /** Generated TypeScript bindings (committed), relative to the repository root; none: absent. */
  readonly bindings?: string;
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
  {
    source: "sim/bpf/tamper.bpf.c",
    object: "sim/bpf/obj/tamper.bpf.o",
    includes: ["bpf/include", "sim/bpf"],
  },
  // The benchmark's floor program, the core with its cost probes, and the taprio gate counters.
  ...["empty", "costs", "gate"].map((name) => ({
    source: `bench/bpf/${name}.bpf.c`,
    object: `bench/bpf/obj/${name}.bpf.o`,
    includes: ["bpf/include"],
  })),
  // The lab's own probes: fexit loads in the guest, the VLAN PCP on the wire, the sk_buff's path,
  // a netkit CNI's programs.
  ...["fexit_skb_clone", "vlan_pcp", "skb_path", "netkit_cni"].map((name) => ({
    source: `lab/bpf/${name}.bpf.c`,
    object: `lab/bpf/obj/${name}.bpf.o`,
    includes: ["bpf/include"],
  })),
];

/**
 * The absolute path of a committed object of {@link BPF_OBJECTS}, by its repository path.
 *
 * @example
 * ```ts
 * import { objectPath } from "./objects.ts";
 * console.log(objectPath("bench/bpf/obj/gate.bpf.o"));
 * ```
 */
export function objectPath(object: string): string {
  if (!BPF_OBJECTS.some((o) => o.object === object)) {
    throw new Error(`${object} is not an object of bpf/objects.ts`);
  }
  return new URL(`../${object}`, import.meta.url).pathname;
}
