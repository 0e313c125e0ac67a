/**
 * Compiles the benchmark's own BPF objects at bench time, with the project's pinned clang and
 * flags (`@tsn-proxy/bpf` clangArgs), into a directory the caller owns and removes:
 *
 * - `empty.bpf.o`: `bench_empty`, the floor program;
 * - `costs.bpf.o`: the tsn-proxy core included verbatim, plus `bench_save_restore` (saver then
 *   restorer on the same packet, for a restorer hit inside BPF_PROG_TEST_RUN) and
 *   `bench_lru_cycle` (one LRU-hash update + delete, the floor of hash-based designs);
 * - `gate.bpf.o`: `gate_far` (tc ingress at the far end) and `gate_xmit`
 *   (tp_btf/net_dev_start_xmit on the NIC), receive/transmit times folded into the taprio cycle
 *   (bench/taprio.ts).
 *
 * Nothing is committed: the objects always match the core sources of the checkout.
 *
 * @module
 */
import { join } from "node:path";
import { CLANG, clangArgs } from "@tsn-proxy/bpf";

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

/** The repository root (this file lives in bench/bpf/). */
export function repoRoot(): string {
  return new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
}

async function compile(source: string, out: string): Promise<void> {
  const args = clangArgs({ source, includes: ["bpf/include"] }, out);
  const r = await new Deno.Command(CLANG, {
    args,
    cwd: repoRoot(),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new Error(
      `${CLANG} ${args.join(" ")} failed:\n${new TextDecoder().decode(r.stderr).trim()}`,
    );
  }
}

/** Compiles every object into `outDir` (absolute); returns their paths. */
export async function buildBenchObjects(outDir: string): Promise<BenchObjects> {
  await Deno.mkdir(outDir, { recursive: true });
  const objs: BenchObjects = {
    empty: join(outDir, "empty.bpf.o"),
    costs: join(outDir, "costs.bpf.o"),
    gate: join(outDir, "gate.bpf.o"),
  };
  await compile("bench/bpf/empty.bpf.c", objs.empty);
  await compile("bench/bpf/costs.bpf.c", objs.costs);
  await compile("bench/bpf/gate.bpf.c", objs.gate);
  return objs;
}
