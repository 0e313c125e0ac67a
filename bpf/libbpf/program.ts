/**
 * @module
 * `BpfProgram`: a loaded BPF program (from a `BpfObject` or a bpffs pin): pin it, read its kernel
 * info, and run it on a test packet with `BPF_PROG_TEST_RUN`.
 */

import { closeFd, expectFdKind, libbpfInt, objInfo } from "./call.ts";
import { BpfError } from "./errors.ts";
import { cString, libbpf, readCString } from "./ffi.ts";
import { decodeCharArray } from "./map.ts";

/**
 * `sizeof(struct bpf_test_run_opts)` in libbpf 1.1.2 (checked against the header by a test).
 *
 * @example
 * ```ts
 * import { encodeTestRunOpts, TEST_RUN_OPTS_SIZE } from "./program.ts";
 * encodeTestRunOpts({}).length === TEST_RUN_OPTS_SIZE; // true
 * ```
 */
export const TEST_RUN_OPTS_SIZE = 80;

/**
 * Field offsets of `struct bpf_test_run_opts` (libbpf 1.1.2, x86-64).
 *
 * @example
 * ```ts
 * import { TEST_RUN_OPTS_OFFSETS } from "./program.ts";
 * TEST_RUN_OPTS_OFFSETS.retval; // 56
 * ```
 */
export const TEST_RUN_OPTS_OFFSETS = {
  sz: 0,
  data_in: 8,
  data_out: 16,
  data_size_in: 24,
  data_size_out: 28,
  ctx_in: 32,
  ctx_out: 40,
  ctx_size_in: 48,
  ctx_size_out: 52,
  retval: 56,
  repeat: 60,
  duration: 64,
  flags: 68,
  cpu: 72,
  batch_size: 76,
} as const;

/**
 * Inputs of {@link encodeTestRunOpts}: addresses as bigint (0n = NULL).
 *
 * @example
 * ```ts
 * import type { TestRunOptsFields } from "./program.ts";
 * const f: TestRunOptsFields = { dataSizeIn: 64, repeat: 1 };
 * ```
 */
export interface TestRunOptsFields {
  dataIn?: bigint;
  dataOut?: bigint;
  dataSizeIn?: number;
  dataSizeOut?: number;
  ctxIn?: bigint;
  ctxOut?: bigint;
  ctxSizeIn?: number;
  ctxSizeOut?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

/**
 * Encodes `struct bpf_test_run_opts` (sz first, as libbpf's OPTS macros require).
 *
 * @example
 * ```ts
 * import { encodeTestRunOpts } from "./program.ts";
 * const raw = encodeTestRunOpts({ dataIn: 0x1000n, dataSizeIn: 64, repeat: 1 });
 * raw.length; // 80
 * ```
 */
export function encodeTestRunOpts(f: TestRunOptsFields): Uint8Array<ArrayBuffer> {
  const raw = new Uint8Array(new ArrayBuffer(TEST_RUN_OPTS_SIZE));
  const v = new DataView(raw.buffer);
  const o = TEST_RUN_OPTS_OFFSETS;
  v.setBigUint64(o.sz, BigInt(TEST_RUN_OPTS_SIZE), true);
  v.setBigUint64(o.data_in, f.dataIn ?? 0n, true);
  v.setBigUint64(o.data_out, f.dataOut ?? 0n, true);
  v.setUint32(o.data_size_in, f.dataSizeIn ?? 0, true);
  v.setUint32(o.data_size_out, f.dataSizeOut ?? 0, true);
  v.setBigUint64(o.ctx_in, f.ctxIn ?? 0n, true);
  v.setBigUint64(o.ctx_out, f.ctxOut ?? 0n, true);
  v.setUint32(o.ctx_size_in, f.ctxSizeIn ?? 0, true);
  v.setUint32(o.ctx_size_out, f.ctxSizeOut ?? 0, true);
  v.setInt32(o.repeat, f.repeat ?? 0, true);
  v.setUint32(o.flags, f.flags ?? 0, true);
  v.setUint32(o.cpu, f.cpu ?? 0, true);
  v.setUint32(o.batch_size, f.batchSize ?? 0, true);
  return raw;
}

/**
 * The output fields of `struct bpf_test_run_opts`.
 *
 * @example
 * ```ts
 * import { decodeTestRunOpts, type TestRunOptsOutput } from "./program.ts";
 * declare const raw: Uint8Array;
 * const { retval }: TestRunOptsOutput = decodeTestRunOpts(raw);
 * ```
 */
export interface TestRunOptsOutput {
  retval: number;
  durationNs: number;
  dataSizeOut: number;
  ctxSizeOut: number;
}

/**
 * Decodes the fields the kernel writes back into `struct bpf_test_run_opts`.
 *
 * @example
 * ```ts
 * import { decodeTestRunOpts, encodeTestRunOpts } from "./program.ts";
 * decodeTestRunOpts(encodeTestRunOpts({})).retval; // 0
 * ```
 */
export function decodeTestRunOpts(raw: Uint8Array): TestRunOptsOutput {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const o = TEST_RUN_OPTS_OFFSETS;
  return {
    retval: v.getUint32(o.retval, true),
    durationNs: v.getUint32(o.duration, true),
    dataSizeOut: v.getUint32(o.data_size_out, true),
    ctxSizeOut: v.getUint32(o.ctx_size_out, true),
  };
}

/**
 * Options of {@link BpfProgram.testRun}.
 *
 * @example
 * ```ts
 * import type { TestRunOptions } from "./program.ts";
 * const opts: TestRunOptions = { data: new Uint8Array(64), repeat: 1000 };
 * ```
 */
export interface TestRunOptions {
  /** The packet (for tc programs: an Ethernet frame, at least 14 bytes). */
  data: Uint8Array;
  /** Runs (the duration is the average per run); default 1. */
  repeat?: number;
  /** Context in (for tc: a `struct __sk_buff` prefix, e.g. priority at offset 32). */
  ctx?: Uint8Array;
  /** Room for the packet after the run (default data.length + 256). */
  dataOutSize?: number;
  /** `BPF_F_TEST_*` flags. */
  flags?: number;
}

/**
 * Result of {@link BpfProgram.testRun}.
 *
 * @example
 * ```ts
 * import type { BpfProgram, TestRunResult } from "./program.ts";
 * declare const prog: BpfProgram;
 * const r: TestRunResult = prog.testRun({ data: new Uint8Array(64) });
 * ```
 */
export interface TestRunResult {
  /** The program's return value as u32 (TC_ACT_UNSPEC = 0xffffffff). */
  retval: number;
  /** Average run time in ns. */
  durationNs: number;
  /** The packet as the program left it. */
  dataOut: Uint8Array;
  /** The context after the run, when `ctx` was given. */
  ctxOut: Uint8Array | undefined;
}

/**
 * What the kernel reports about a program (`struct bpf_prog_info`, first fields).
 *
 * @example
 * ```ts
 * import type { BpfProgram, BpfProgramInfo } from "./program.ts";
 * declare const prog: BpfProgram;
 * const { id, tag }: BpfProgramInfo = prog.info();
 * ```
 */
export interface BpfProgramInfo {
  /** `enum bpf_prog_type` */
  type: number;
  /** The kernel's program id. */
  id: number;
  /** The program tag (hex), a hash of its instructions. */
  tag: string;
  /** The kernel's copy of the name (at most 15 bytes). */
  name: string;
}

/**
 * Bytes passed to the kernel for `struct bpf_prog_info` (232 in Debian's header).
 *
 * @example
 * ```ts
 * import { decodeProgInfo, PROG_INFO_SIZE } from "./program.ts";
 * import { objInfo } from "./call.ts";
 * declare const progFd: number;
 * const info = decodeProgInfo(objInfo(progFd, PROG_INFO_SIZE));
 * ```
 */
export const PROG_INFO_SIZE = 512;

/**
 * Decodes `struct bpf_prog_info` (type@0 id@4 tag[8]@8 name[16]@64).
 *
 * @example
 * ```ts
 * import { decodeProgInfo } from "./program.ts";
 * decodeProgInfo(new Uint8Array(512)).tag; // "0000000000000000"
 * ```
 */
export function decodeProgInfo(raw: Uint8Array): BpfProgramInfo {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    tag: Array.from(raw.subarray(8, 16), (b) => b.toString(16).padStart(2, "0")).join(""),
    name: decodeCharArray(raw, 64, 16),
  };
}

const rawPrograms = new WeakMap<BpfProgram, Deno.PointerObject>();

/**
 * A loaded BPF program.
 *
 * @example
 * ```ts
 * import { BpfProgram } from "./program.ts";
 * using prog = BpfProgram.fromPinned("/sys/fs/bpf/tsn/tsn_saver");
 * const { retval } = prog.testRun({ data: new Uint8Array(64) });
 * ```
 */
export class BpfProgram {
  /** The program's name (from the object, or the kernel's truncated copy for pins). */
  readonly name: string;
  #fd: number;
  readonly #owned: boolean;
  readonly #isAlive: () => boolean;
  readonly #fdOf: (() => number) | undefined;

  private constructor(
    name: string,
    fd: number,
    owned: boolean,
    isAlive: () => boolean,
    fdOf?: () => number,
  ) {
    this.name = name;
    this.#fd = fd;
    this.#owned = owned;
    this.#isAlive = isAlive;
    this.#fdOf = fdOf;
  }

  /**
   * Opens a program pinned in bpffs (`bpf_obj_get`); the returned program owns its fd.
   *
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * const prog = BpfProgram.fromPinned("/sys/fs/bpf/tsn/tsn_restorer");
   * prog.close();
   * ```
   */
  static fromPinned(path: string): BpfProgram {
    const fd = libbpfInt("bpf_obj_get", () => libbpf().bpf_obj_get(cString(path)), {
      detail: path,
    });
    try {
      return BpfProgram.fromFd(fd, { what: path });
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /**
   * Wraps a program file descriptor; `close()` closes it unless `owned` is false.
   *
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * declare const fd: number;
   * const prog = BpfProgram.fromFd(fd);
   * ```
   */
  static fromFd(fd: number, options: { owned?: boolean; what?: string } = {}): BpfProgram {
    expectFdKind(fd, "prog", options.what ?? `fd ${fd}`);
    const name = decodeProgInfo(objInfo(fd, PROG_INFO_SIZE)).name;
    return new BpfProgram(name, fd, options.owned ?? true, () => true);
  }

  /**
   * Wraps a `struct bpf_program *` of an open object (used by `BpfObject.program`). The fd is
   * looked up on use, so the wrapper can be taken before `load()`.
   *
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * declare const ptr: Deno.PointerObject;
   * const prog = BpfProgram.fromObjectProgram(ptr, () => true);
   * ```
   */
  static fromObjectProgram(ptr: Deno.PointerObject, isAlive: () => boolean): BpfProgram {
    const name = readCString(libbpf().bpf_program__name(ptr)) ?? "";
    const prog = new BpfProgram(name, -1, false, isAlive, () => {
      const fd = libbpf().bpf_program__fd(ptr);
      if (fd < 0) {
        throw new BpfError("bpf_program__fd", -fd, { detail: `program ${name} is not loaded` });
      }
      return fd;
    });
    rawPrograms.set(prog, ptr);
    return prog;
  }

  /** The program's file descriptor; throws if closed, not loaded, or its object is closed. */
  get fd(): number {
    if (!this.#isAlive()) throw new Error(`program ${this.name}: its object is closed`);
    if (this.#fdOf) return this.#fdOf();
    if (this.#fd < 0) throw new Error(`program ${this.name}: closed`);
    return this.#fd;
  }

  /**
   * Pins the program at `path` in bpffs (`bpf_obj_pin`).
   *
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * declare const prog: BpfProgram;
   * prog.pin("/sys/fs/bpf/tsn/tsn_saver");
   * ```
   */
  pin(path: string): void {
    const fd = this.fd;
    libbpfInt("bpf_obj_pin", () => libbpf().bpf_obj_pin(fd, cString(path)), { detail: path });
  }

  /**
   * The kernel's view of the program (id, type, tag, name).
   *
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * declare const prog: BpfProgram;
   * console.log(prog.info().id);
   * ```
   */
  info(): BpfProgramInfo {
    return decodeProgInfo(objInfo(this.fd, PROG_INFO_SIZE));
  }

  /**
   * Runs the program on `data` with `bpf_prog_test_run_opts` (needs root).
   *
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * declare const prog: BpfProgram;
   * const frame = new Uint8Array(64); // Ethernet + IPv4 + UDP
   * const { retval, durationNs } = prog.testRun({ data: frame, repeat: 1000 });
   * ```
   */
  testRun(options: TestRunOptions): TestRunResult {
    const fd = this.fd;
    const dataIn = pinnedCopy(options.data);
    const dataOut = new Uint8Array(
      new ArrayBuffer(options.dataOutSize ?? options.data.length + 256),
    );
    const ctxIn = options.ctx ? pinnedCopy(options.ctx) : undefined;
    const ctxOut = ctxIn ? new Uint8Array(new ArrayBuffer(ctxIn.length)) : undefined;
    const raw = encodeTestRunOpts({
      dataIn: addressOf(dataIn),
      dataSizeIn: dataIn.length,
      dataOut: addressOf(dataOut),
      dataSizeOut: dataOut.length,
      ctxIn: ctxIn ? addressOf(ctxIn) : 0n,
      ctxSizeIn: ctxIn?.length ?? 0,
      ctxOut: ctxOut ? addressOf(ctxOut) : 0n,
      ctxSizeOut: ctxOut?.length ?? 0,
      repeat: options.repeat ?? 1,
      flags: options.flags ?? 0,
    });
    libbpfInt("bpf_prog_test_run_opts", () => libbpf().bpf_prog_test_run_opts(fd, raw), {
      detail: this.name,
    });
    const out = decodeTestRunOpts(raw);
    return {
      retval: out.retval,
      durationNs: out.durationNs,
      dataOut: dataOut.slice(0, Math.min(out.dataSizeOut, dataOut.length)),
      ctxOut: ctxOut?.slice(0, Math.min(out.ctxSizeOut, ctxOut.length)),
    };
  }

  /**
   * Closes an owned fd; a no-op for programs owned by a `BpfObject`. Idempotent.
   *
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * BpfProgram.fromPinned("/sys/fs/bpf/tsn/tsn_saver").close();
   * ```
   */
  close(): void {
    if (this.#owned) closeFd(this.#fd);
    this.#fd = -1;
  }

  /** Same as {@link BpfProgram.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The libbpf `struct bpf_program *` behind a program taken from a `BpfObject` (for
 * `bpf_program__attach`), or `undefined` for programs opened by fd or pin.
 *
 * @example
 * ```ts
 * import { BpfProgram, rawProgramPointer } from "./program.ts";
 * declare const prog: BpfProgram;
 * const ptr = rawProgramPointer(prog);
 * ```
 */
export function rawProgramPointer(prog: BpfProgram): Deno.PointerObject | undefined {
  return rawPrograms.get(prog);
}

/** A copy in a fresh off-heap ArrayBuffer, whose address is stable while it is referenced. */
function pinnedCopy(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(new ArrayBuffer(b.length));
  copy.set(b);
  return copy;
}

function addressOf(b: Uint8Array<ArrayBuffer>): bigint {
  return b.length === 0 ? 0n : BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
}
