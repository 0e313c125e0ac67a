/**
 * @module
 * Checked calls: turn libbpf's and libc's error conventions into `BpfError`s carrying the log.
 * libbpf 1.x (strict mode is the only mode) returns `-errno` from int functions and sets errno too;
 * pointer functions return NULL and set errno. libc returns -1 and sets errno.
 */

import { BpfError } from "./errors.ts";
import { errno, libbpf, libc } from "./ffi.ts";
import { logMark, logSince, withLibbpfLog } from "./log.ts";

/**
 * Options of the checked-call helpers.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "./call.ts";
 * const opts: CallOptions = { detail: "/sys/fs/bpf/x", log: false };
 * ```
 */
export interface CallOptions {
  /** Extra context for the error message (a path, a name). */
  detail?: string;
  /** Capture the libbpf log during the call (default true; off for plain syscall wrappers). */
  log?: boolean;
}

function run<T>(fn: () => T, log: boolean): { value: T; lines: () => string[] } {
  if (!log) return { value: fn(), lines: () => [] };
  const mark = logMark();
  const value = withLibbpfLog(fn);
  return { value, lines: () => logSince(mark) };
}

function errorOptions(detail: string | undefined, log: string[]) {
  return detail === undefined ? { log } : { log, detail };
}

/**
 * Calls a libbpf function returning `int` (>= 0 success, `-errno` failure) and throws a
 * {@link BpfError} with the log tail on failure. Returns the (non-negative) result.
 *
 * @example
 * ```ts
 * import { libbpfInt } from "./call.ts";
 * import { cString, libbpf } from "./ffi.ts";
 * const fd = libbpfInt("bpf_obj_get", () => libbpf().bpf_obj_get(cString("/sys/fs/bpf/x")));
 * ```
 */
export function libbpfInt(op: string, fn: () => number, options: CallOptions = {}): number {
  return libbpfIntOr(op, fn, [], options);
}

/**
 * Like {@link libbpfInt}, but a failure with one of the `allowed` errno values (or one the
 * `allowed` predicate accepts, given the errno and the log lines of the call) is returned as the
 * negative value instead of thrown, e.g. ENOENT from a map lookup.
 *
 * @example
 * ```ts
 * import { libbpfIntOr } from "./call.ts";
 * import { libbpf } from "./ffi.ts";
 * declare const fd: number;
 * const key = new Uint8Array(8), value = new Uint8Array(40);
 * const r = libbpfIntOr("bpf_map_lookup_elem", () =>
 *   libbpf().bpf_map_lookup_elem(fd, key, value), [2], { log: false });
 * const found = r >= 0;
 * ```
 */
export function libbpfIntOr(
  op: string,
  fn: () => number,
  allowed: readonly number[] | ((errno: number, log: string[]) => boolean),
  options: CallOptions = {},
): number {
  const { value, lines } = run(fn, options.log ?? true);
  if (value >= 0) return value;
  // libbpf 1.x returns -errno (so -1 is EPERM, not "see errno").
  const log = lines();
  const ok = typeof allowed === "function" ? allowed(-value, log) : allowed.includes(-value);
  if (ok) return value;
  throw new BpfError(op, -value, errorOptions(options.detail, log));
}

/**
 * Calls a libbpf function returning a pointer (NULL + errno on failure) and throws a
 * {@link BpfError} with the log tail on failure.
 *
 * @example
 * ```ts
 * import { libbpfPtr } from "./call.ts";
 * import { cString, libbpf } from "./ffi.ts";
 * const obj = libbpfPtr("bpf_object__open_file", () =>
 *   libbpf().bpf_object__open_file(cString("x.bpf.o"), null));
 * ```
 */
export function libbpfPtr(
  op: string,
  fn: () => Deno.PointerValue,
  options: CallOptions = {},
): Deno.PointerObject {
  const { value, lines } = run(fn, options.log ?? true);
  if (value === null) {
    const e = errno() || 22; // EINVAL if libbpf forgot to set errno
    throw new BpfError(op, e, errorOptions(options.detail, lines()));
  }
  return value;
}

/**
 * Calls a libc function returning `int` (-1 + errno on failure) and throws a {@link BpfError}.
 *
 * @example
 * ```ts
 * import { libcInt } from "./call.ts";
 * import { libc } from "./ffi.ts";
 * libcInt("close", () => libc().close(3));
 * ```
 */
export function libcInt(op: string, fn: () => number, options: CallOptions = {}): number {
  const value = fn();
  if (value < 0) {
    throw new BpfError(op, errno() || 1, errorOptions(options.detail, []));
  }
  return value;
}

/**
 * Closes a file descriptor; errors (EBADF) are ignored, since there is nothing to recover.
 *
 * @example
 * ```ts
 * import { closeFd } from "./call.ts";
 * closeFd(42);
 * ```
 */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/**
 * `bpf_obj_get_info_by_fd` into a zeroed buffer of `size` bytes; returns the bytes the kernel
 * filled (the kernel copies at most the size of its own struct and leaves the rest zero).
 *
 * @example
 * ```ts
 * import { objInfo } from "./call.ts";
 * declare const mapFd: number;
 * const raw = objInfo(mapFd, 128); // struct bpf_map_info
 * ```
 */
export function objInfo(fd: number, size: number): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(size);
  const len = new Uint32Array([size]);
  libbpfInt("bpf_obj_get_info_by_fd", () => libbpf().bpf_obj_get_info_by_fd(fd, buf, len), {
    log: false,
  });
  return buf;
}

/**
 * What a BPF file descriptor refers to.
 *
 * @example
 * ```ts
 * import type { BpfFdKind } from "./call.ts";
 * const kind: BpfFdKind = "map";
 * ```
 */
export type BpfFdKind = "map" | "prog" | "link" | "other";

/**
 * Tells maps, programs and links apart by the kernel's `/proc/self/fdinfo` text ("map_type:",
 * "prog_type:", "link_type:"), e.g. to reject a program pin opened as a map.
 *
 * @example
 * ```ts
 * import { fdKind } from "./call.ts";
 * declare const fd: number;
 * if (fdKind(fd) !== "map") throw new Error("not a map");
 * ```
 */
export function fdKind(fd: number): BpfFdKind {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
  } catch {
    return "other";
  }
  if (/^map_type:/m.test(text)) return "map";
  if (/^prog_type:/m.test(text)) return "prog";
  if (/^link_type:/m.test(text)) return "link";
  return "other";
}

/**
 * Throws a {@link BpfError} (EINVAL) unless `fd` is a BPF object of `kind`.
 *
 * @example
 * ```ts
 * import { expectFdKind } from "./call.ts";
 * declare const fd: number;
 * expectFdKind(fd, "link", "/sys/fs/bpf/tsn/link");
 * ```
 */
export function expectFdKind(fd: number, kind: BpfFdKind, what: string): void {
  const actual = fdKind(fd);
  if (actual !== kind) {
    throw new BpfError("bpf_obj_get", 22, { detail: `${what} is a ${actual}, not a ${kind}` });
  }
}
