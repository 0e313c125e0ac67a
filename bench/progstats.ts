/**
 * bpf_stats: the kernel's per-program run time and run count (`struct bpf_prog_info.run_time_ns`,
 * `.run_cnt`), counted only while stats are enabled. The project's binding (`BpfProgram.info()`)
 * decodes only type, id, tag and name, so this module calls `bpf_obj_get_info_by_fd` itself and
 * decodes the two fields (offsets checked against the running kernel's BTF: 192 and 200 in the
 * 232-byte struct of 6.18; stable uapi since 5.1).
 *
 * Stats are switched on with `bpf_enable_stats(BPF_STATS_RUN_TIME)`, which is what the sysctl
 * `kernel.bpf_stats_enabled` does, but reference-counted and tied to a file descriptor: the kernel
 * switches them off when the last holder closes it, also when the benchmark dies, and a holder
 * never turns off someone else's stats.
 *
 * @module
 */

/** Offsets in `struct bpf_prog_info` (include/uapi/linux/bpf.h). */
export const PROG_INFO_OFFSETS = { id: 4, runTimeNs: 192, runCnt: 200, recursionMisses: 208 };
/** Bytes passed for `struct bpf_prog_info` (the kernel zero-checks any tail it does not know). */
export const PROG_INFO_LEN = 232;
/** `enum bpf_stats_type`: BPF_STATS_RUN_TIME. */
const BPF_STATS_RUN_TIME = 0;

/** A program's run statistics. */
export interface RunStats {
  /** The kernel's program id. */
  id: number;
  /** Nanoseconds spent in the program while stats were on. */
  runTimeNs: bigint;
  /** Runs counted while stats were on. */
  runCnt: bigint;
}

/** Decodes id, run_time_ns and run_cnt from the bytes of a `struct bpf_prog_info`. */
export function decodeRunStats(raw: Uint8Array): RunStats {
  if (raw.length < PROG_INFO_OFFSETS.runCnt + 8) throw new RangeError("bpf_prog_info too short");
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    id: v.getUint32(PROG_INFO_OFFSETS.id, true),
    runTimeNs: v.getBigUint64(PROG_INFO_OFFSETS.runTimeNs, true),
    runCnt: v.getBigUint64(PROG_INFO_OFFSETS.runCnt, true),
  };
}

/** ns per run between two snapshots of the same program; null when it did not run. */
export function nsPerRun(before: RunStats, after: RunStats): number | null {
  const runs = after.runCnt - before.runCnt;
  if (runs <= 0n) return null;
  return Number(after.runTimeNs - before.runTimeNs) / Number(runs);
}

const SYMBOLS = {
  bpf_obj_get_info_by_fd: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  bpf_enable_stats: { parameters: ["i32"], result: "i32" },
  bpf_obj_get: { parameters: ["buffer"], result: "i32" },
} as const;
const LIBC = { close: { parameters: ["i32"], result: "i32" } } as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let libc: Deno.DynamicLibrary<typeof LIBC> | undefined;

function libbpf(): Deno.DynamicLibrary<typeof SYMBOLS> {
  lib ??= Deno.dlopen("libbpf.so.1", SYMBOLS);
  return lib;
}

function closeFd(fd: number): void {
  libc ??= Deno.dlopen("libc.so.6", LIBC);
  libc.symbols.close(fd);
}

/** Run statistics of the program behind `fd`. */
export function runStatsOfFd(fd: number): RunStats {
  const buf = new Uint8Array(PROG_INFO_LEN);
  const len = new Uint32Array([PROG_INFO_LEN]);
  const r = libbpf().symbols.bpf_obj_get_info_by_fd(fd, buf, len);
  if (r < 0) throw new Error(`bpf_obj_get_info_by_fd(${fd}): ${r}`);
  return decodeRunStats(buf);
}

/** Run statistics of a program pinned at `path`. */
export function runStatsOfPin(path: string): RunStats {
  const fd = libbpf().symbols.bpf_obj_get(new TextEncoder().encode(path + "\0"));
  if (fd < 0) throw new Error(`bpf_obj_get(${path}): ${fd}`);
  try {
    return runStatsOfFd(fd);
  } finally {
    closeFd(fd);
  }
}

/** bpf_stats switched on for as long as this object lives (until `close()`). */
export class StatsSession {
  #fd: number;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Enables run-time stats (needs CAP_SYS_ADMIN); throws when the kernel refuses. */
  static enable(): StatsSession {
    const fd = libbpf().symbols.bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0) throw new Error(`bpf_enable_stats: ${fd}`);
    return new StatsSession(fd);
  }

  /** Drops this holder's reference. Idempotent. */
  close(): void {
    if (this.#fd >= 0) closeFd(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
