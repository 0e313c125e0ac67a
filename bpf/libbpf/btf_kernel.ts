/**
 * @module
 * Enum values of the running kernel, read from its BTF (/sys/kernel/btf/vmlinux) through libbpf.
 * UAPI headers on the build machine can be older than the kernel (Debian 12's linux/bpf.h has no
 * TCX), so attach types and link types are always taken from here. Results are cached per isolate.
 */

import { libbpfPtr } from "./call.ts";
import { BpfError } from "./errors.ts";
import { cString, libbpf, readCString } from "./ffi.ts";

/**
 * BTF kind numbers (linux/btf.h).
 *
 * @example
 * ```ts
 * import { BTF_KIND } from "./btf_kernel.ts";
 * BTF_KIND.ENUM; // 6
 * ```
 */
export const BTF_KIND = { ENUM: 6, ENUM64: 19 } as const;

/** Enums read together whenever the kernel BTF is loaded, to load it as rarely as possible. */
const PRELOAD = ["bpf_attach_type", "bpf_link_type", "bpf_prog_type", "bpf_map_type"] as const;

const cache = new Map<string, ReadonlyMap<string, number>>();

/**
 * Decodes the members of a BTF enum type from its raw bytes (struct btf_type followed by vlen
 * btf_enum or btf_enum64 records). `nameOf` resolves a string-section offset. Exposed for tests.
 *
 * @example
 * ```ts
 * import { decodeBtfEnum } from "./btf_kernel.ts";
 * // btf_type {name_off 1, info kind 6 vlen 1, size 4}, btf_enum {name_off 5, val 47}
 * const raw = new Uint8Array(new Uint32Array([1, (6 << 24) | 1, 4, 5, 47]).buffer);
 * decodeBtfEnum(raw, (off) => off === 5 ? "BPF_TCX_EGRESS" : "x"); // Map {"BPF_TCX_EGRESS" => 47}
 * ```
 */
export function decodeBtfEnum(
  raw: Uint8Array,
  nameOf: (offset: number) => string,
): Map<string, number> {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const info = view.getUint32(4, true);
  const kind = (info >>> 24) & 0x1f;
  const vlen = info & 0xffff;
  const signed = (info >>> 31) === 1; // kind_flag: signed enum values
  const out = new Map<string, number>();
  if (kind === BTF_KIND.ENUM) {
    for (let i = 0; i < vlen; i++) {
      const at = 12 + i * 8;
      const val = signed ? view.getInt32(at + 4, true) : view.getUint32(at + 4, true);
      out.set(nameOf(view.getUint32(at, true)), val);
    }
  } else if (kind === BTF_KIND.ENUM64) {
    for (let i = 0; i < vlen; i++) {
      const at = 12 + i * 12;
      const lo = view.getUint32(at + 4, true);
      const hi = signed ? view.getInt32(at + 8, true) : view.getUint32(at + 8, true);
      out.set(nameOf(view.getUint32(at, true)), hi * 2 ** 32 + lo);
    }
  } else {
    throw new TypeError(`BTF type of kind ${kind} is not an enum`);
  }
  return out;
}

/** Bytes of a BTF enum type record with `vlen` members of the given kind. */
function enumRecordSize(kind: number, vlen: number): number {
  return 12 + vlen * (kind === BTF_KIND.ENUM64 ? 12 : 8);
}

function readEnum(btf: Deno.PointerObject, name: string): Map<string, number> | undefined {
  const lib = libbpf();
  let id = lib.btf__find_by_name_kind(btf, cString(name), BTF_KIND.ENUM);
  if (id < 0) id = lib.btf__find_by_name_kind(btf, cString(name), BTF_KIND.ENUM64);
  if (id < 0) return undefined;
  const t = lib.btf__type_by_id(btf, id);
  if (t === null) return undefined;
  const view = new Deno.UnsafePointerView(t);
  const info = view.getUint32(4);
  const raw = new Uint8Array(enumRecordSize((info >>> 24) & 0x1f, info & 0xffff));
  view.copyInto(raw);
  return decodeBtfEnum(raw, (off) => readCString(lib.btf__name_by_offset(btf, off)) ?? "");
}

function loadEnums(names: readonly string[]): void {
  const btf = libbpfPtr("btf__load_vmlinux_btf", () => libbpf().btf__load_vmlinux_btf());
  try {
    for (const name of names) {
      const members = readEnum(btf, name);
      if (members) cache.set(name, members);
    }
  } finally {
    libbpf().btf__free(btf);
  }
}

/**
 * All members of the kernel enum `enumName` (e.g. "bpf_attach_type"), or `undefined` if the kernel
 * BTF has no such enum.
 *
 * @example
 * ```ts
 * import { kernelEnum } from "./btf_kernel.ts";
 * kernelEnum("bpf_link_type")?.get("BPF_LINK_TYPE_TCX"); // 11 on 6.18
 * ```
 */
export function kernelEnum(enumName: string): ReadonlyMap<string, number> | undefined {
  if (!cache.has(enumName)) {
    loadEnums([...new Set<string>([enumName, ...PRELOAD])].filter((n) => !cache.has(n)));
    if (!cache.has(enumName)) cache.set(enumName, new Map());
  }
  const members = cache.get(enumName);
  return members && members.size > 0 ? members : undefined;
}

/**
 * The value of `valueName` in the kernel enum `enumName`; throws a {@link BpfError} (ENOENT) if the
 * running kernel does not have it.
 *
 * @example
 * ```ts
 * import { kernelEnumValue } from "./btf_kernel.ts";
 * kernelEnumValue("bpf_attach_type", "BPF_TRACE_FEXIT"); // 25
 * ```
 */
export function kernelEnumValue(enumName: string, valueName: string): number {
  const value = kernelEnum(enumName)?.get(valueName);
  if (value === undefined) {
    throw new BpfError("kernel BTF", 2, { detail: `no ${valueName} in enum ${enumName}` });
  }
  return value;
}

/**
 * The name of `value` in the kernel enum `enumName`, or `undefined`.
 *
 * @example
 * ```ts
 * import { kernelEnumName } from "./btf_kernel.ts";
 * kernelEnumName("bpf_attach_type", 47); // "BPF_TCX_EGRESS" on 6.18
 * ```
 */
export function kernelEnumName(enumName: string, value: number): string | undefined {
  for (const [name, v] of kernelEnum(enumName) ?? []) if (v === value) return name;
  return undefined;
}

/**
 * The running kernel's `enum bpf_attach_type` value; the "BPF_" prefix is optional.
 *
 * @example
 * ```ts
 * import { kernelAttachType } from "./btf_kernel.ts";
 * kernelAttachType("BPF_TCX_EGRESS"); // 47 on 6.18
 * kernelAttachType("TCX_INGRESS"); // 46 on 6.18
 * ```
 */
export function kernelAttachType(name: string): number {
  return kernelEnumValue("bpf_attach_type", name.startsWith("BPF_") ? name : `BPF_${name}`);
}

/**
 * Whether the running kernel knows TCX attachment (BPF_TCX_EGRESS, Linux 6.6+).
 *
 * @example
 * ```ts
 * import { kernelHasTcx } from "./btf_kernel.ts";
 * const mode = kernelHasTcx() ? "tcx" : "clsact";
 * ```
 */
export function kernelHasTcx(): boolean {
  return kernelEnum("bpf_attach_type")?.has("BPF_TCX_EGRESS") ?? false;
}

/**
 * Forgets the cached enums (for tests).
 *
 * @example
 * ```ts
 * import { clearKernelEnumCache } from "./btf_kernel.ts";
 * clearKernelEnumCache();
 * ```
 */
export function clearKernelEnumCache(): void {
  cache.clear();
}
