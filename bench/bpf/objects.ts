/**
 * The benchmark's own BPF objects, built and checked with every other object of the repository
 * (bpf/objects.ts):
 *
 * - `empty.bpf.o`: `bench_empty`, the floor program;
 * - `costs.bpf.o`: the tsn-proxy core included verbatim, plus `bench_save_restore` (saver then
 *   restorer on the same packet, for a restorer hit inside BPF_PROG_TEST_RUN) and
 *   `bench_lru_cycle` (one LRU-hash update + delete, the floor of hash-based designs);
 * - `gate.bpf.o`: `gate_far` (tc ingress at the far end) and `gate_xmit`
 *   (tp_btf/net_dev_start_xmit on the NIC), receive/transmit times folded into the taprio cycle
 *   (bench/taprio.ts).
 *
 * costs.bpf.o includes the core's sources, so a core change rebuilds it (`deno task gen`) and
 * `deno task check:gen` fails until it is committed.
 *
 * @module
 */
import { objectPath } from "@tsn-proxy/bpf";

/** The benchmark's objects, by role. */
export interface BenchObjects {
  /** bench_empty. */
  readonly empty: string;
  /** The core + bench_save_restore + bench_lru_cycle. */
  readonly costs: string;
  /** gate_far + gate_xmit: packets per taprio gate. */
  readonly gate: string;
}

/** Program names in the bench objects. */
export const BENCH_PROGRAMS = {
  empty: "bench_empty",
  saveRestore: "bench_save_restore",
  saverTagged: "bench_saver_tagged",
  restorerTagged: "bench_restorer_tagged",
  lruCycle: "bench_lru_cycle",
  missSameBucket: "bench_miss_same_bucket",
  missNewBucket: "bench_miss_new_bucket",
  originParse: "bench_origin_parse",
  originInPlace: "bench_origin_in_place",
  originConntrack: "bench_origin_conntrack",
  gateFar: "gate_far",
  gateXmit: "gate_xmit",
} as const;

/**
 * The committed objects (bench/bpf/obj/, built with the pinned toolchain by `deno task build:bpf`
 * like every object of bpf/objects.ts; `deno task check:gen` fails when one is stale).
 */
export const BENCH_OBJECTS: BenchObjects = {
  empty: objectPath("bench/bpf/obj/empty.bpf.o"),
  costs: objectPath("bench/bpf/obj/costs.bpf.o"),
  gate: objectPath("bench/bpf/obj/gate.bpf.o"),
};
