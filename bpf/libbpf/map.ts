/**
 * @module
 * `BpfMap`: a BPF map by file descriptor (from a loaded object or a bpffs pin) with byte-level
 * lookup/update/delete/iteration. Keys and values are raw bytes; typed layouts live elsewhere.
 */

import { closeFd, expectFdKind, libbpfInt, libbpfIntOr, objInfo } from "./call.ts";
import { cString, libbpf } from "./ffi.ts";

/**
 * Flags of {@link BpfMap.update} (linux/bpf.h).
 *
 * @example
 * ```ts
 * import { type BpfMap, MapUpdateFlags } from "./map.ts";
 * declare const map: BpfMap, key: Uint8Array, value: Uint8Array;
 * map.update(key, value, MapUpdateFlags.NOEXIST);
 * ```
 */
export const MapUpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, LOCK: 4 } as const;

/**
 * `enum bpf_map_type` values with one value per possible CPU (stable UAPI numbers).
 *
 * @example
 * ```ts
 * import { PERCPU_MAP_TYPES } from "./map.ts";
 * PERCPU_MAP_TYPES.has(6); // true: BPF_MAP_TYPE_PERCPU_ARRAY
 * ```
 */
export const PERCPU_MAP_TYPES: ReadonlySet<number> = new Set([5, 6, 10, 21]);

/**
 * What the kernel reports about a map (`struct bpf_map_info`, first fields).
 *
 * @example
 * ```ts
 * import type { BpfMap, BpfMapInfo } from "./map.ts";
 * declare const map: BpfMap;
 * const { id, maxEntries }: BpfMapInfo = map.info();
 * ```
 */
export interface BpfMapInfo {
  /** `enum bpf_map_type` */
  type: number;
  /** The kernel's map id (same id = same map, e.g. through two pins). */
  id: number;
  /** Key bytes. */
  keySize: number;
  /** Value bytes (per CPU for per-CPU maps). */
  valueSize: number;
  /** Capacity. */
  maxEntries: number;
  /** `map_flags` (BPF_F_*). */
  flags: number;
  /** The kernel's copy of the name (at most 15 bytes). */
  name: string;
}

/**
 * Bytes passed to the kernel for `struct bpf_map_info` (88 in Debian's header, 104 on 6.18).
 *
 * @example
 * ```ts
 * import { decodeMapInfo, MAP_INFO_SIZE } from "./map.ts";
 * import { objInfo } from "./call.ts";
 * declare const mapFd: number;
 * const info = decodeMapInfo(objInfo(mapFd, MAP_INFO_SIZE));
 * ```
 */
export const MAP_INFO_SIZE = 128;

const decoder = new TextDecoder();

/**
 * Decodes a fixed-size, NUL-padded C char array.
 *
 * @example
 * ```ts
 * import { decodeCharArray } from "./map.ts";
 * decodeCharArray(new Uint8Array([97, 98, 0, 0]), 0, 4); // "ab"
 * ```
 */
export function decodeCharArray(bytes: Uint8Array, offset: number, length: number): string {
  const slice = bytes.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return decoder.decode(end < 0 ? slice : slice.subarray(0, end));
}

/**
 * Decodes `struct bpf_map_info` (type@0 id@4 key_size@8 value_size@12 max_entries@16
 * map_flags@20 name[16]@24).
 *
 * @example
 * ```ts
 * import { decodeMapInfo } from "./map.ts";
 * const info = decodeMapInfo(new Uint8Array(128)); // all zero
 * ```
 */
export function decodeMapInfo(raw: Uint8Array): BpfMapInfo {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    name: decodeCharArray(raw, 24, 16),
  };
}

let cpus: number | undefined;

/**
 * The number of possible CPUs (`libbpf_num_possible_cpus`), the slot count of per-CPU values.
 *
 * @example
 * ```ts
 * import { possibleCpus } from "./map.ts";
 * const n = possibleCpus();
 * ```
 */
export function possibleCpus(): number {
  cpus ??= libbpfInt("libbpf_num_possible_cpus", () => libbpf().libbpf_num_possible_cpus());
  return cpus;
}

/**
 * Options of {@link BpfMap.fromFd}.
 *
 * @example
 * ```ts
 * import type { MapFdOptions } from "./map.ts";
 * const opts: MapFdOptions = { owned: false, isAlive: () => true };
 * ```
 */
export interface MapFdOptions {
  /** Whether `close()` closes the fd (default true). False for fds owned by a `BpfObject`. */
  owned?: boolean;
  /** For borrowed fds: reports whether the owner still holds the fd open. */
  isAlive?: () => boolean;
}

/**
 * A BPF map.
 *
 * @example
 * ```ts
 * import { BpfMap } from "./map.ts";
 * using map = BpfMap.fromPinned("/sys/fs/bpf/tsn/tsn_records");
 * for (const key of map.keys()) console.log(key, map.lookup(key));
 * ```
 */
export class BpfMap {
  /** The kernel's name of the map (at most 15 bytes). */
  readonly name: string;
  /** `enum bpf_map_type` */
  readonly type: number;
  /** Key bytes. */
  readonly keySize: number;
  /** Value bytes (per CPU for per-CPU maps). */
  readonly valueSize: number;
  /** Capacity. */
  readonly maxEntries: number;
  #fd: number;
  readonly #owned: boolean;
  readonly #isAlive: () => boolean;

  private constructor(fd: number, owned: boolean, isAlive: () => boolean, what: string) {
    this.#fd = fd;
    this.#owned = owned;
    this.#isAlive = isAlive;
    expectFdKind(fd, "map", what);
    const info = mapInfoOf(fd);
    this.name = info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
  }

  /**
   * Wraps a map file descriptor. With `owned` (the default) `close()` closes it.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * declare const fd: number;
   * const map = BpfMap.fromFd(fd, { owned: false });
   * ```
   */
  static fromFd(fd: number, options: MapFdOptions = {}): BpfMap {
    return new BpfMap(fd, options.owned ?? true, options.isAlive ?? (() => true), `fd ${fd}`);
  }

  /**
   * Opens a map pinned in bpffs (`bpf_obj_get`); the returned map owns its fd.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * const map = BpfMap.fromPinned("/sys/fs/bpf/tsn/tsn_counters");
   * map.close();
   * ```
   */
  static fromPinned(path: string): BpfMap {
    const fd = libbpfInt("bpf_obj_get", () => libbpf().bpf_obj_get(cString(path)), {
      detail: path,
    });
    try {
      return new BpfMap(fd, true, () => true, path);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /** The map's file descriptor; throws once closed (or once its object is closed). */
  get fd(): number {
    if (this.#fd < 0 || !this.#isAlive()) throw new Error(`map ${this.name}: closed`);
    return this.#fd;
  }

  /** Whether values are per CPU (use {@link BpfMap.lookupPerCpu}). */
  get perCpu(): boolean {
    return PERCPU_MAP_TYPES.has(this.type);
  }

  /**
   * The value stored under `key`, or `undefined` if there is none.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * declare const map: BpfMap;
   * const value = map.lookup(new Uint8Array(8));
   * ```
   */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.#checkKey(key);
    this.#notPerCpu("lookup");
    const value = new Uint8Array(this.valueSize);
    return this.#lookupInto(key, value) ? value : undefined;
  }

  /**
   * The per-CPU values under `key` (one `valueSize` slice per possible CPU), or `undefined`.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * declare const counters: BpfMap;
   * const perCpu = counters.lookupPerCpu(new Uint8Array(4)); // key 0
   * ```
   */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    this.#checkKey(key);
    if (!this.perCpu) throw new TypeError(`map ${this.name}: not a per-CPU map`);
    const stride = roundUp8(this.valueSize);
    const n = possibleCpus();
    const all = new Uint8Array(stride * n);
    if (!this.#lookupInto(key, all)) return undefined;
    return Array.from({ length: n }, (_, i) => all.slice(i * stride, i * stride + this.valueSize));
  }

  /**
   * Stores `value` under `key`. `flags`: {@link MapUpdateFlags}.
   *
   * @example
   * ```ts
   * import { BpfMap, MapUpdateFlags } from "./map.ts";
   * declare const map: BpfMap;
   * map.update(new Uint8Array(8), new Uint8Array(40), MapUpdateFlags.NOEXIST);
   * ```
   */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.#checkKey(key);
    this.#notPerCpu("update");
    if (value.length !== this.valueSize) {
      throw new RangeError(
        `map ${this.name}: value is ${value.length} bytes, not ${this.valueSize}`,
      );
    }
    this.#update(key, value, flags);
  }

  /**
   * Stores one value per possible CPU under `key` (per-CPU maps).
   *
   * @example
   * ```ts
   * import { BpfMap, possibleCpus } from "./map.ts";
   * declare const counters: BpfMap;
   * const zero = Array.from({ length: possibleCpus() }, () => new Uint8Array(counters.valueSize));
   * counters.updatePerCpu(new Uint8Array(4), zero);
   * ```
   */
  updatePerCpu(key: Uint8Array, values: readonly Uint8Array[], flags = 0): void {
    this.#checkKey(key);
    if (!this.perCpu) throw new TypeError(`map ${this.name}: not a per-CPU map`);
    const n = possibleCpus();
    if (values.length !== n) throw new RangeError(`need ${n} per-CPU values, got ${values.length}`);
    const stride = roundUp8(this.valueSize);
    const all = new Uint8Array(stride * n);
    values.forEach((v, i) => {
      if (v.length !== this.valueSize) {
        throw new RangeError(`per-CPU value ${i}: ${v.length} bytes`);
      }
      all.set(v, i * stride);
    });
    this.#update(key, all, flags);
  }

  /**
   * Deletes `key`; false if it was not there.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * declare const map: BpfMap;
   * const existed = map.delete(new Uint8Array(8));
   * ```
   */
  delete(key: Uint8Array): boolean {
    this.#checkKey(key);
    const fd = this.fd;
    const k = asBuffer(key);
    return libbpfIntOr("bpf_map_delete_elem", () => libbpf().bpf_map_delete_elem(fd, k), [2], {
      log: false,
      detail: this.name,
    }) >= 0;
  }

  /**
   * The map's keys (`bpf_map_get_next_key`), at most `limit` of them (default `maxEntries`): a hash
   * map whose current key is deleted meanwhile restarts from its first key, so iteration of a busy
   * map is best-effort.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * declare const map: BpfMap;
   * const keys = [...map.keys()];
   * ```
   */
  *keys(limit: number = this.maxEntries): Generator<Uint8Array> {
    let prev: Uint8Array<ArrayBuffer> | null = null;
    for (let i = 0; i < limit; i++) {
      const next = new Uint8Array(this.keySize);
      const fd = this.fd;
      const cur = prev;
      const r = libbpfIntOr(
        "bpf_map_get_next_key",
        () => libbpf().bpf_map_get_next_key(fd, cur, next),
        [2],
        { log: false, detail: this.name },
      );
      if (r < 0) return; // ENOENT: no more keys
      yield next.slice();
      prev = next;
    }
  }

  /**
   * The kernel's view of the map.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * declare const map: BpfMap;
   * console.log(map.info().id);
   * ```
   */
  info(): BpfMapInfo {
    return mapInfoOf(this.fd);
  }

  /**
   * Pins the map at `path` in bpffs (`bpf_obj_pin`); the directory must exist.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * declare const map: BpfMap;
   * map.pin("/sys/fs/bpf/tsn/tsn_records");
   * ```
   */
  pin(path: string): void {
    const fd = this.fd;
    libbpfInt("bpf_obj_pin", () => libbpf().bpf_obj_pin(fd, cString(path)), { detail: path });
  }

  /**
   * Closes an owned fd; a no-op for maps owned by a `BpfObject`. Idempotent.
   *
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * BpfMap.fromPinned("/sys/fs/bpf/tsn/tsn_records").close();
   * ```
   */
  close(): void {
    if (this.#owned) closeFd(this.#fd);
    this.#fd = -1;
  }

  /** Same as {@link BpfMap.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #lookupInto(key: Uint8Array, value: Uint8Array<ArrayBuffer>): boolean {
    const fd = this.fd;
    const k = asBuffer(key);
    return libbpfIntOr(
      "bpf_map_lookup_elem",
      () => libbpf().bpf_map_lookup_elem(fd, k, value),
      [2],
      {
        log: false,
        detail: this.name,
      },
    ) >= 0;
  }

  #update(key: Uint8Array, value: Uint8Array, flags: number): void {
    const fd = this.fd;
    libbpfInt(
      "bpf_map_update_elem",
      () => libbpf().bpf_map_update_elem(fd, asBuffer(key), asBuffer(value), BigInt(flags)),
      { log: false, detail: this.name },
    );
  }

  #checkKey(key: Uint8Array): void {
    if (key.length !== this.keySize) {
      throw new RangeError(`map ${this.name}: key is ${key.length} bytes, not ${this.keySize}`);
    }
  }

  #notPerCpu(op: string): void {
    if (this.perCpu) throw new TypeError(`map ${this.name}: per-CPU map, use ${op}PerCpu`);
  }
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

/** FFI "buffer" parameters want an ArrayBuffer-backed view; copy SharedArrayBuffer views. */
function asBuffer(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? b as Uint8Array<ArrayBuffer> : new Uint8Array(b);
}

function mapInfoOf(fd: number): BpfMapInfo {
  return decodeMapInfo(objInfo(fd, MAP_INFO_SIZE));
}
