/**
 * @module
 * `BpfError`: a failed libbpf/libc call with its errno, the errno's name and the tail of the libbpf
 * log (verifier output included) emitted during the call. Pure: no FFI here.
 */

/**
 * Linux x86-64 errno numbers by name (the ones BPF, netlink and file calls return), plus libbpf's.
 *
 * @example
 * ```ts
 * import { ERRNO } from "./errors.ts";
 * ERRNO.EPERM; // 1
 * ```
 */
export const ERRNO: Readonly<Record<string, number>> = Object.freeze({
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  ENODATA: 61,
  ETIME: 62,
  ENOLINK: 67,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EBADFD: 77,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENOBUFS: 105,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EALREADY: 114,
  EINPROGRESS: 115,
  ESTALE: 116,
  EDQUOT: 122,
  ECANCELED: 125,
  EKEYREJECTED: 129,
  /** Kernel-internal, but leaks out of the BPF syscall (e.g. an unsupported helper or attach). */
  ENOTSUPP: 524,
  LIBBPF_ERRNO__LIBELF: 4000,
  LIBBPF_ERRNO__FORMAT: 4001,
  LIBBPF_ERRNO__KVERSION: 4002,
  LIBBPF_ERRNO__ENDIAN: 4003,
  LIBBPF_ERRNO__INTERNAL: 4004,
  LIBBPF_ERRNO__RELOC: 4005,
  LIBBPF_ERRNO__LOAD: 4006,
  LIBBPF_ERRNO__VERIFY: 4007,
  LIBBPF_ERRNO__PROG2BIG: 4008,
  LIBBPF_ERRNO__KVER: 4009,
  LIBBPF_ERRNO__PROGTYPE: 4010,
  LIBBPF_ERRNO__WRNGPID: 4011,
  LIBBPF_ERRNO__INVSEQ: 4012,
  LIBBPF_ERRNO__NLPARSE: 4013,
});

const NAMES = new Map<number, string>(Object.entries(ERRNO).map(([name, n]) => [n, name]));

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EINTR: "Interrupted system call",
  EIO: "Input/output error",
  E2BIG: "Argument list too long",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EFAULT: "Bad address",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  EXDEV: "Invalid cross-device link",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  EMFILE: "Too many open files",
  ENOSPC: "No space left on device",
  ERANGE: "Numerical result out of range",
  ENAMETOOLONG: "File name too long",
  ENOSYS: "Function not implemented",
  ENOTEMPTY: "Directory not empty",
  ELOOP: "Too many levels of symbolic links",
  ENODATA: "No data available",
  EPROTO: "Protocol error",
  EOVERFLOW: "Value too large for defined data type",
  EMSGSIZE: "Message too long",
  EOPNOTSUPP: "Operation not supported",
  ENOBUFS: "No buffer space available",
  ETIMEDOUT: "Connection timed out",
  ENOTSUPP: "Operation not supported (kernel ENOTSUPP)",
  LIBBPF_ERRNO__LIBELF: "Something wrong in libelf",
  LIBBPF_ERRNO__FORMAT: "BPF object format invalid",
  LIBBPF_ERRNO__KVERSION: "'version' section incorrect or lost",
  LIBBPF_ERRNO__ENDIAN: "Endian mismatch",
  LIBBPF_ERRNO__INTERNAL: "Internal error in libbpf",
  LIBBPF_ERRNO__RELOC: "Relocation failed",
  LIBBPF_ERRNO__LOAD: "Load program failure for unknown reason",
  LIBBPF_ERRNO__VERIFY: "Kernel verifier blocks program loading",
  LIBBPF_ERRNO__PROG2BIG: "Program too big",
  LIBBPF_ERRNO__KVER: "Incorrect kernel version",
  LIBBPF_ERRNO__PROGTYPE: "Kernel doesn't support this program type",
  LIBBPF_ERRNO__WRNGPID: "Wrong pid in netlink message",
  LIBBPF_ERRNO__INVSEQ: "Invalid netlink sequence",
  LIBBPF_ERRNO__NLPARSE: "Incorrect netlink message parsing",
};

/**
 * How many log lines a `BpfError` keeps and prints.
 *
 * @example
 * ```ts
 * import { BpfError, ERROR_LOG_LINES } from "./errors.ts";
 * declare const lines: string[];
 * new BpfError("x", 1, { log: lines }).log.length <= ERROR_LOG_LINES; // true
 * ```
 */
export const ERROR_LOG_LINES = 40;

/**
 * The symbolic name of an errno value ("EPERM"); `"ERRNO_<n>"` for numbers not in {@link ERRNO}.
 * Accepts negative values (libbpf's `-errno` returns).
 *
 * @example
 * ```ts
 * import { errnoName } from "./errors.ts";
 * errnoName(1); // "EPERM"
 * errnoName(-2); // "ENOENT"
 * ```
 */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return NAMES.get(n) ?? `ERRNO_${n}`;
}

/**
 * The errno number of a symbolic name, or `undefined`.
 *
 * @example
 * ```ts
 * import { errnoNumber } from "./errors.ts";
 * errnoNumber("EEXIST"); // 17
 * ```
 */
export function errnoNumber(name: string): number | undefined {
  return Object.hasOwn(ERRNO, name) ? ERRNO[name] : undefined;
}

/**
 * A short English description of an errno value (glibc's wording where known).
 *
 * @example
 * ```ts
 * import { describeErrno } from "./errors.ts";
 * describeErrno(13); // "Permission denied"
 * ```
 */
export function describeErrno(errno: number): string {
  const name = errnoName(errno);
  return DESCRIPTIONS[name] ?? name;
}

/**
 * Options of the {@link BpfError} constructor.
 *
 * @example
 * ```ts
 * import type { BpfErrorOptions } from "./errors.ts";
 * const opts: BpfErrorOptions = { detail: "x.bpf.o", log: ["libbpf: ..."] };
 * ```
 */
export interface BpfErrorOptions {
  /** Log lines emitted by libbpf during the call; only the last {@link ERROR_LOG_LINES} are kept. */
  log?: readonly string[];
  /** Extra context for the message (a path, a program name). */
  detail?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A failed libbpf (or libc) call.
 *
 * @example
 * ```ts
 * import { BpfError } from "./errors.ts";
 * const e = new BpfError("bpf_object__load", 1, { log: ["libbpf: prog 'x': failed"] });
 * e.code; // "EPERM"
 * e.message; // "bpf_object__load: EPERM (Operation not permitted)\n--- libbpf log ..."
 * ```
 */
export class BpfError extends Error {
  /** Always "BpfError". */
  override readonly name = "BpfError";
  /** The failed call, e.g. "bpf_object__load". */
  readonly op: string;
  /** The positive errno value. */
  readonly errno: number;
  /** The errno's symbolic name, e.g. "EPERM". */
  readonly code: string;
  /** The tail of the libbpf log emitted during the call (verifier output included). */
  readonly log: readonly string[];

  /** `errno` may be negative (libbpf's return convention); it is stored positive. */
  constructor(op: string, errno: number, options: BpfErrorOptions = {}) {
    const n = Math.abs(errno);
    const log = (options.log ?? []).slice(-ERROR_LOG_LINES);
    const code = errnoName(n);
    let message = `${op}: ${code} (${describeErrno(n)})`;
    if (options.detail !== undefined) message += `: ${options.detail}`;
    if (log.length > 0) {
      message += `\n--- libbpf log (last ${log.length} lines) ---\n${log.join("\n")}`;
    }
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.op = op;
    this.errno = n;
    this.code = code;
    this.log = Object.freeze(log);
  }
}

/**
 * Whether `e` is a {@link BpfError}, optionally with one of the given codes.
 *
 * @example
 * ```ts
 * import { BpfError, isBpfError } from "./errors.ts";
 * isBpfError(new BpfError("bpf_obj_get", 2), "ENOENT"); // true
 * ```
 */
export function isBpfError(e: unknown, ...codes: string[]): e is BpfError {
  return e instanceof BpfError && (codes.length === 0 || codes.includes(e.code));
}
