/**
 * The kernel's CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns()`, so userspace can
 * tell the age of a timestamp a BPF program wrote.
 *
 * @example
 * ```ts
 * import { monotonicNs } from "./clock.ts";
 * const before = monotonicNs();
 * console.log(monotonicNs() - before >= 0n);
 * ```
 */
import { libc } from "./ffi.ts";
import { libcInt } from "./call.ts";

const CLOCK_MONOTONIC = 1;

/** Nanoseconds of CLOCK_MONOTONIC (struct timespec: i64 seconds, i64 nanoseconds). */
export function monotonicNs(): bigint {
  const ts = new BigInt64Array(2);
  const bytes = new Uint8Array(ts.buffer);
  libcInt("clock_gettime", () => libc().clock_gettime(CLOCK_MONOTONIC, bytes));
  return BigInt.asUintN(64, ts[0]! * 1_000_000_000n + ts[1]!);
}
