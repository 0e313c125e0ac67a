/**
 * @module
 * `BpfObject`: open a compiled BPF ELF object, adjust it before load (autoload switches, the
 * `.rodata` config bytes, maps shared through bpffs pins), load it, and hand out its programs and
 * maps.
 */

import { closeFd, libbpfInt, libbpfPtr } from "./call.ts";
import { BpfError } from "./errors.ts";
import { copyFromPointer, cString, libbpf, readCString } from "./ffi.ts";
import { BpfMap } from "./map.ts";
import { BpfProgram } from "./program.ts";

/**
 * Options of {@link BpfObject.open}.
 *
 * @example
 * ```ts
 * import type { BpfObjectOpenOptions } from "./object.ts";
 * const opts: BpfObjectOpenOptions = {
 *   autoload: { tsn_track_clone: false },
 *   pinMapsUnder: "/sys/fs/bpf/tsn-proxy",
 * };
 * ```
 */
export interface BpfObjectOpenOptions {
  /**
   * Edits the initial bytes of the `.rodata` section (e.g. a `const volatile` config struct) before
   * load. Receives a copy; the edited copy is written back with `bpf_map__set_initial_value`.
   */
  rodata?: (bytes: Uint8Array) => void;
  /** Per-program autoload switches by program name; programs not named keep their default (on). */
  autoload?: Record<string, boolean>;
  /** Maps (by name) to take from bpffs pins instead of creating them (`bpf_map__reuse_fd`). */
  reuseMaps?: Record<string, string>;
  /**
   * A bpffs directory: every non-internal map not in `reuseMaps` gets the pin path `<dir>/<name>`,
   * so load reuses an existing pin (libbpf checks it is compatible) or creates and pins the map.
   */
  pinMapsUnder?: string;
  /**
   * Map sizes to set before load (`bpf_map__set_max_entries`), by map name. Applied before
   * `reuseMaps`, whose pinned maps must have the same size.
   */
  maxEntries?: Record<string, number>;
}

/**
 * Name and section of a program in an object.
 *
 * @example
 * ```ts
 * import type { BpfObject, BpfProgramEntry } from "./object.ts";
 * declare const obj: BpfObject;
 * const tc: BpfProgramEntry[] = obj.programs().filter((p) => p.section === "tc");
 * ```
 */
export interface BpfProgramEntry {
  /** The C function name. */
  name: string;
  /** The ELF section, e.g. "tc", "fexit/skb_clone". */
  section: string;
  /** Whether `load()` loads it. */
  autoload: boolean;
}

/**
 * Name of a map in an object; internal maps are `.rodata`, `.bss`, `.data`, `.kconfig`.
 *
 * @example
 * ```ts
 * import type { BpfMapEntry, BpfObject } from "./object.ts";
 * declare const obj: BpfObject;
 * const shared: BpfMapEntry[] = obj.maps().filter((m) => !m.internal);
 * ```
 */
export interface BpfMapEntry {
  /** The name libbpf reports (internal maps: possibly truncated, e.g. "tsn_cor.rodata"). */
  name: string;
  /** `.rodata`, `.bss`, `.data`, `.kconfig` maps libbpf makes from sections. */
  internal: boolean;
}

/**
 * An opened (and later loaded) BPF object.
 *
 * @example
 * ```ts
 * import { BpfObject } from "./object.ts";
 * using obj = BpfObject.open("bpf/obj/tsn_core.bpf.o", {
 *   autoload: { tsn_track_clone: false, tsn_cleanup_kfree: false, tsn_cleanup_consume: false },
 *   rodata: (b) => new DataView(b.buffer, b.byteOffset).setBigUint64(16, 50_000_000n, true),
 * });
 * obj.load();
 * const saver = obj.program("tsn_saver");
 * ```
 */
export class BpfObject {
  /** The path the object was opened from. */
  readonly path: string;
  #ptr: Deno.PointerObject | null;
  #loaded = false;

  private constructor(path: string, ptr: Deno.PointerObject) {
    this.path = path;
    this.#ptr = ptr;
  }

  /**
   * Opens `path` (`bpf_object__open_file`) and applies `options`; nothing reaches the kernel
   * until {@link BpfObject.load}.
   *
   * @example
   * ```ts
   * import { BpfObject } from "./object.ts";
   * const obj = BpfObject.open("bpf/obj/tsn_core.bpf.o", { pinMapsUnder: "/sys/fs/bpf/tsn" });
   * ```
   */
  static open(path: string, options: BpfObjectOpenOptions = {}): BpfObject {
    const ptr = libbpfPtr(
      "bpf_object__open_file",
      () => libbpf().bpf_object__open_file(cString(path), null),
      { detail: path },
    );
    const obj = new BpfObject(path, ptr);
    try {
      obj.#configure(options);
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** Whether {@link BpfObject.load} succeeded. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Whether {@link BpfObject.close} was called. */
  get closed(): boolean {
    return this.#ptr === null;
  }

  /** libbpf's name of the object (the file name without ".o"/".bpf.o"). */
  get name(): string {
    return readCString(libbpf().bpf_object__name(this.#obj())) ?? "";
  }

  /**
   * Loads the object into the kernel (`bpf_object__load`): creates or reuses maps, loads every
   * autoload program. On failure throws a {@link BpfError} whose message ends with the verifier log
   * tail; the object cannot be loaded again and should be closed.
   *
   * @example
   * ```ts
   * import { BpfObject } from "./object.ts";
   * declare const obj: BpfObject;
   * obj.load();
   * ```
   */
  load(): void {
    const ptr = this.#obj();
    if (this.#loaded) throw new Error(`${this.path}: already loaded`);
    libbpfInt("bpf_object__load", () => libbpf().bpf_object__load(ptr), { detail: this.path });
    this.#loaded = true;
  }

  /**
   * The program `name`. Its fd is available after load (when autoloaded).
   *
   * @example
   * ```ts
   * import { BpfObject } from "./object.ts";
   * declare const obj: BpfObject;
   * const restorer = obj.program("tsn_restorer");
   * ```
   */
  program(name: string): BpfProgram {
    return BpfProgram.fromObjectProgram(this.#findProgram(name), () => !this.closed);
  }

  /**
   * The map `name` (after load). Internal maps can be named by their suffix (".rodata", ".bss").
   *
   * @example
   * ```ts
   * import { BpfObject } from "./object.ts";
   * declare const obj: BpfObject;
   * const records = obj.map("tsn_records");
   * ```
   */
  map(name: string): BpfMap {
    if (!this.#loaded) throw new Error(`${this.path}: map ${name}: object not loaded`);
    const fd = libbpfInt("bpf_map__fd", () => libbpf().bpf_map__fd(this.#findMap(name)), {
      detail: name,
    });
    return BpfMap.fromFd(fd, { owned: false, isAlive: () => !this.closed });
  }

  /**
   * The object's programs in ELF order.
   *
   * @example
   * ```ts
   * import { BpfObject } from "./object.ts";
   * declare const obj: BpfObject;
   * for (const p of obj.programs()) console.log(p.name, p.section);
   * ```
   */
  programs(): BpfProgramEntry[] {
    const lib = libbpf();
    const out: BpfProgramEntry[] = [];
    for (let p = lib.bpf_object__next_program(this.#obj(), null); p !== null;) {
      out.push({
        name: readCString(lib.bpf_program__name(p)) ?? "",
        section: readCString(lib.bpf_program__section_name(p)) ?? "",
        autoload: lib.bpf_program__autoload(p),
      });
      p = lib.bpf_object__next_program(this.#obj(), p);
    }
    return out;
  }

  /**
   * The object's maps, internal ones included.
   *
   * @example
   * ```ts
   * import { BpfObject } from "./object.ts";
   * declare const obj: BpfObject;
   * obj.maps().map((m) => m.name); // ["tsn_records", "tsn_counters", "tsn_core.rodata"]
   * ```
   */
  maps(): BpfMapEntry[] {
    return this.#mapPointers().map(([name, p]) => ({
      name,
      internal: libbpf().bpf_map__is_internal(p),
    }));
  }

  /**
   * Frees the object (`bpf_object__close`): closes its program and map fds. Pinned maps, pinned
   * programs and pinned links stay in the kernel. Idempotent.
   *
   * @example
   * ```ts
   * import { BpfObject } from "./object.ts";
   * declare const obj: BpfObject;
   * obj.close();
   * ```
   */
  close(): void {
    if (this.#ptr !== null) {
      libbpf().bpf_object__close(this.#ptr);
      this.#ptr = null;
    }
  }

  /** Same as {@link BpfObject.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #obj(): Deno.PointerObject {
    if (this.#ptr === null) throw new Error(`${this.path}: object closed`);
    return this.#ptr;
  }

  #configure(options: BpfObjectOpenOptions): void {
    const lib = libbpf();
    for (const [name, on] of Object.entries(options.autoload ?? {})) {
      const p = this.#findProgram(name);
      libbpfInt("bpf_program__set_autoload", () => lib.bpf_program__set_autoload(p, on), {
        detail: name,
      });
    }
    if (options.rodata) this.#editRodata(options.rodata);
    for (const [name, n] of Object.entries(options.maxEntries ?? {})) {
      const map = this.#findMap(name);
      libbpfInt("bpf_map__set_max_entries", () => lib.bpf_map__set_max_entries(map, n), {
        detail: `${name} = ${n}`,
      });
    }
    const reuse = options.reuseMaps ?? {};
    for (const [name, pinned] of Object.entries(reuse)) {
      const map = this.#findMap(name);
      const fd = libbpfInt("bpf_obj_get", () => lib.bpf_obj_get(cString(pinned)), {
        detail: pinned,
      });
      try {
        // libbpf dups the fd; ours is closed either way.
        libbpfInt("bpf_map__reuse_fd", () => lib.bpf_map__reuse_fd(map, fd), {
          detail: `${name} <- ${pinned}`,
        });
      } finally {
        closeFd(fd);
      }
    }
    if (options.pinMapsUnder !== undefined) {
      const dir = options.pinMapsUnder.replace(/\/+$/, "");
      for (const [name, p] of this.#mapPointers()) {
        if (lib.bpf_map__is_internal(p) || Object.hasOwn(reuse, name)) continue;
        const path = `${dir}/${name}`;
        libbpfInt("bpf_map__set_pin_path", () => lib.bpf_map__set_pin_path(p, cString(path)), {
          detail: path,
        });
      }
    }
  }

  #editRodata(edit: (bytes: Uint8Array) => void): void {
    const lib = libbpf();
    const found = this.#mapPointers().find(([name]) => name.endsWith(".rodata"));
    if (!found) throw new BpfError("bpf_object__next_map", 2, { detail: "no .rodata map" });
    const [name, map] = found;
    const size = new BigUint64Array(1);
    const initial = libbpfPtr(
      "bpf_map__initial_value",
      () => lib.bpf_map__initial_value(map, size),
      {
        detail: name,
      },
    );
    const bytes = copyFromPointer(initial, Number(size[0]));
    edit(bytes);
    libbpfInt(
      "bpf_map__set_initial_value",
      () => lib.bpf_map__set_initial_value(map, bytes, BigInt(bytes.length)),
      { detail: name },
    );
  }

  #mapPointers(): Array<[string, Deno.PointerObject]> {
    const lib = libbpf();
    const out: Array<[string, Deno.PointerObject]> = [];
    for (let p = lib.bpf_object__next_map(this.#obj(), null); p !== null;) {
      out.push([readCString(lib.bpf_map__name(p)) ?? "", p]);
      p = lib.bpf_object__next_map(this.#obj(), p);
    }
    return out;
  }

  #findProgram(name: string): Deno.PointerObject {
    const obj = this.#obj();
    return libbpfPtr(
      "bpf_object__find_program_by_name",
      () => libbpf().bpf_object__find_program_by_name(obj, cString(name)),
      { detail: `${this.path}: no program ${name}` },
    );
  }

  #findMap(name: string): Deno.PointerObject {
    const obj = this.#obj();
    const p = libbpf().bpf_object__find_map_by_name(obj, cString(name));
    if (p !== null) return p;
    if (name.startsWith(".")) {
      const bySuffix = this.#mapPointers().find(([n]) => n.endsWith(name));
      if (bySuffix) return bySuffix[1];
    }
    throw new BpfError("bpf_object__find_map_by_name", 2, {
      detail: `${this.path}: no map ${name}`,
    });
  }
}
