/**
 * @module
 * Capture of libbpf's log (its own messages and the verifier log it forwards) through
 * `libbpf_set_print` + a `Deno.UnsafeCallback` that formats each `va_list` with libc's `vsnprintf`.
 *
 * The print function is process-global in libbpf but a callback belongs to one isolate (thread).
 * So the callback is installed only for the duration of a captured call (`withLibbpfLog`,
 * `captureLog`), and libbpf's print function is set back to NULL (silent) afterwards: libbpf never
 * holds a pointer to a callback of an isolate that may have ended. One callback per isolate, created
 * on first use and reused; `disposeLog()` closes it.
 *
 * Several isolates in one process (workers, `deno test --parallel`) would otherwise swap the print
 * function under each other's feet and lose or misroute lines. Captured calls are therefore
 * serialized process-wide by an open-file-description lock (F_OFD_SETLKW) on the byte at offset
 * <pid> of /dev/null: each isolate opens its own description, so isolates of one process exclude
 * each other, other processes lock other bytes, and nothing is left behind (released on close or
 * exit). If the lock cannot be taken, capture goes on without it (best effort).
 */

import { errno, libbpf, libc, onLibbpfOpen } from "./ffi.ts";

/**
 * libbpf's `enum libbpf_print_level`, lowest number = most important.
 *
 * @example
 * ```ts
 * import type { LibbpfLogLevel } from "./log.ts";
 * const level: LibbpfLogLevel = "debug";
 * ```
 */
export type LibbpfLogLevel = "warn" | "info" | "debug";

const LEVELS: readonly LibbpfLogLevel[] = ["warn", "info", "debug"];

/**
 * A bounded ring of complete log lines with a monotonic sequence number, so callers can take a
 * mark before a call and read what was logged after it. Chunks without a trailing newline are
 * held until the next chunk or `flush()`.
 *
 * @example
 * ```ts
 * import { LogRing } from "./log.ts";
 * const ring = new LogRing(100);
 * const mark = ring.seq;
 * ring.write("libbpf: a\nlibbpf: b\n");
 * ring.since(mark); // ["libbpf: a", "libbpf: b"]
 * ```
 */
export class LogRing {
  /** The most lines kept. */
  readonly capacity: number;
  #lines: string[] = [];
  #base = 0; // sequence number of #lines[0]
  #pending = "";

  /** A ring keeping (at least) the last `capacity` lines. */
  constructor(capacity = 4000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity}`);
    this.capacity = capacity;
  }

  /** The sequence number the next committed line gets (a mark for {@link LogRing.since}). */
  get seq(): number {
    return this.#base + this.#lines.length;
  }

  /** Appends a chunk of text, splitting it into lines. */
  write(chunk: string): void {
    const parts = (this.#pending + chunk).split("\n");
    this.#pending = parts.pop() ?? "";
    for (const line of parts) this.#push(line);
  }

  /** Commits a pending partial line, if any. */
  flush(): void {
    if (this.#pending !== "") {
      const line = this.#pending;
      this.#pending = "";
      this.#push(line);
    }
  }

  /** Lines committed at or after `mark` that are still in the ring (pending text flushed first). */
  since(mark: number): string[] {
    this.flush();
    return this.#lines.slice(Math.max(0, mark - this.#base));
  }

  /** The last `n` lines. */
  tail(n: number): string[] {
    this.flush();
    return n <= 0 ? [] : this.#lines.slice(-n);
  }

  /** Drops every line (the sequence number keeps counting). */
  clear(): void {
    this.#base += this.#lines.length;
    this.#lines = [];
    this.#pending = "";
  }

  #push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.capacity * 2) {
      const drop = this.#lines.length - this.capacity;
      this.#lines = this.#lines.slice(drop);
      this.#base += drop;
    }
  }
}

/**
 * Options of {@link configureLog}.
 *
 * @example
 * ```ts
 * import type { LogOptions } from "./log.ts";
 * const opts: LogOptions = { level: "warn", echo: true };
 * ```
 */
export interface LogOptions {
  /** The least important level recorded (default "info"; "debug" is very chatty during loads). */
  level?: LibbpfLogLevel;
  /** Also write every recorded line to stderr (default false). */
  echo?: boolean;
}

const ring = new LogRing();
let maxLevel = 1; // info
let echo = false;
let callback:
  | Deno.UnsafeCallback<
    { readonly parameters: readonly ["i32", "pointer", "pointer"]; readonly result: "i32" }
  >
  | undefined;
let depth = 0;
const formatBuf = new Uint8Array(8192);
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Bytes of a `va_list` object the callback receives a pointer to. Copying them is what `va_copy`
 * does on these ABIs; it lets a long message (the verifier log) be formatted a second time into a
 * larger buffer. `undefined`: no retry, long messages are truncated.
 */
const VA_LIST_SIZE: number | undefined = Deno.build.arch === "x86_64"
  ? 24
  : Deno.build.arch === "aarch64"
  ? 32
  : undefined;
const MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * Sets the recorded level and stderr echo.
 *
 * @example
 * ```ts
 * import { configureLog } from "./log.ts";
 * configureLog({ level: "debug", echo: true });
 * ```
 */
export function configureLog(options: LogOptions): void {
  if (options.level !== undefined) maxLevel = LEVELS.indexOf(options.level);
  if (options.echo !== undefined) echo = options.echo;
}

function format(fmt: Deno.PointerObject, ap: Deno.PointerObject): string {
  const copy = VA_LIST_SIZE === undefined ? undefined : new Uint8Array(VA_LIST_SIZE);
  if (copy) new Deno.UnsafePointerView(ap).copyInto(copy);
  const n = libc().vsnprintf(formatBuf, BigInt(formatBuf.length), fmt, ap);
  if (n < 0) return "";
  if (n < formatBuf.length) return decoder.decode(formatBuf.subarray(0, n));
  if (copy && n < MAX_MESSAGE) {
    // A one-off buffer, so a huge verifier log does not keep a huge buffer alive.
    const big = new Uint8Array(n + 1);
    const m = libc().vsnprintf(big, BigInt(big.length), fmt, Deno.UnsafePointer.of(copy));
    if (m >= 0) return decoder.decode(big.subarray(0, Math.min(m, big.length - 1)));
  }
  return decoder.decode(formatBuf.subarray(0, formatBuf.length - 1)) + " [truncated]\n";
}

function onPrint(level: number, fmt: Deno.PointerValue, ap: Deno.PointerValue): number {
  if (level > maxLevel || fmt === null || ap === null) return 0;
  try {
    const text = format(fmt, ap);
    const mark = ring.seq;
    ring.write(text);
    if (echo) {
      for (const line of ring.since(mark)) Deno.stderr.writeSync(encoder.encode(line + "\n"));
    }
  } catch {
    // Never throw into C.
  }
  return 0;
}

function ensureCallback(): Deno.PointerObject {
  callback ??= new Deno.UnsafeCallback(
    { parameters: ["i32", "pointer", "pointer"], result: "i32" } as const,
    onPrint,
  );
  return callback.pointer;
}

/**
 * Runs `fn` (synchronous) with libbpf's print function pointed at this isolate's callback, then
 * sets it back to NULL. Nested calls install once. Internal building block of the binding.
 *
 * @example
 * ```ts
 * import { withLibbpfLog } from "./log.ts";
 * import { libbpf } from "./ffi.ts";
 * const cpus = withLibbpfLog(() => libbpf().libbpf_num_possible_cpus());
 * ```
 */
export function withLibbpfLog<T>(fn: () => T): T {
  if (depth === 0) {
    const lib = libbpf(); // first: opening runs the open hook, which takes the lock itself
    processLock(F_WRLCK);
    lib.libbpf_set_print(ensureCallback());
  }
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    if (depth === 0) {
      libbpf().libbpf_set_print(null);
      processLock(F_UNLCK);
    }
  }
}

const F_OFD_SETLKW = 38;
const F_WRLCK = 1;
const F_UNLCK = 2;
const O_RDWR_CLOEXEC = 0o2 | 0o2000000;
const EINTR = 4;
let lockFd: number | null | undefined; // null: locking unavailable

/** Takes (F_WRLCK) or releases (F_UNLCK) the per-process lock serializing captured calls. */
function processLock(type: number): void {
  if (lockFd === undefined) {
    const fd = libc().open(new TextEncoder().encode("/dev/null\0"), O_RDWR_CLOEXEC);
    lockFd = fd >= 0 ? fd : null;
  }
  if (lockFd === null) return;
  // struct flock (LP64): l_type i16 @0, l_whence i16 @2, l_start @8, l_len @16, l_pid @24 (0).
  const fl = new Uint8Array(32);
  const v = new DataView(fl.buffer);
  v.setInt16(0, type, true);
  v.setBigInt64(8, BigInt(libc().getpid()), true);
  v.setBigInt64(16, 1n, true);
  for (let tries = 0; tries < 100; tries++) {
    if (libc().fcntl(lockFd, F_OFD_SETLKW, fl) === 0) return;
    if (errno() !== EINTR) break;
  }
  if (type === F_WRLCK) {
    // Unsupported here: give up locking for this isolate rather than fail libbpf calls.
    libc().close(lockFd);
    lockFd = null;
  }
}

/**
 * A mark for {@link logSince}: the sequence number of the next log line.
 *
 * @example
 * ```ts
 * import { logMark, logSince } from "./log.ts";
 * const mark = logMark();
 * // ... libbpf calls ...
 * const lines = logSince(mark);
 * ```
 */
export function logMark(): number {
  return ring.seq;
}

/**
 * Lines logged since `mark` that are still in the ring.
 *
 * @example
 * ```ts
 * import { logMark, logSince } from "./log.ts";
 * const lines = logSince(logMark()); // []
 * ```
 */
export function logSince(mark: number): string[] {
  return ring.since(mark);
}

/**
 * The last `n` recorded libbpf log lines of this isolate.
 *
 * @example
 * ```ts
 * import { recentLog } from "./log.ts";
 * console.log(recentLog(20).join("\n"));
 * ```
 */
export function recentLog(n = 40): string[] {
  return ring.tail(n);
}

/**
 * Runs the synchronous `fn` with the libbpf log captured and returns its value with the lines
 * libbpf emitted meanwhile. Throws what `fn` throws; refuses functions that return a Promise
 * (the capture would end before the async work).
 *
 * @example
 * ```ts
 * import { captureLog } from "./log.ts";
 * import { BpfObject } from "./object.ts";
 * const { value: obj, lines } = captureLog(() => BpfObject.open("x.bpf.o"));
 * ```
 */
export function captureLog<T>(fn: () => T): { value: T; lines: string[] } {
  const mark = ring.seq;
  const value = withLibbpfLog(fn);
  if (value instanceof Promise) {
    value.catch(() => {});
    throw new TypeError("captureLog: fn returned a Promise; only synchronous calls are captured");
  }
  return { value, lines: ring.since(mark) };
}

/**
 * Closes this isolate's callback (after making sure libbpf no longer points at it) and clears the
 * ring. The next captured call creates a new callback. For tests and orderly shutdown.
 *
 * @example
 * ```ts
 * import { disposeLog } from "./log.ts";
 * disposeLog();
 * ```
 */
export function disposeLog(): void {
  if (depth !== 0) throw new Error("disposeLog: called during a captured libbpf call");
  // Outside captured calls libbpf never points at the callback, so it can simply be closed.
  callback?.close();
  callback = undefined;
  if (typeof lockFd === "number") libc().close(lockFd);
  lockFd = undefined;
  ring.clear();
}

// Outside captured calls libbpf stays silent (instead of its default stderr printer), so output
// does not depend on whether a captured call happened before.
onLibbpfOpen(() => {
  processLock(F_WRLCK); // another isolate may be inside a captured call
  libbpf().libbpf_set_print(null);
  processLock(F_UNLCK);
});
