/**
 * @module
 * BPF links: tracing attachment (`bpf_program__attach`), pinning, reopening from a pin, kernel
 * info, detach. TCX attachment, which returns a `BpfLink`, is in `tcx.ts`.
 * A link that is neither pinned nor held open by a process disappears with its last fd.
 */

import { kernelEnum, kernelEnumName } from "./btf_kernel.ts";
import { closeFd, expectFdKind, libbpfInt, libbpfIntOr, libbpfPtr, objInfo } from "./call.ts";
import { BpfError } from "./errors.ts";
import { cString, libbpf } from "./ffi.ts";
import { type BpfProgram, rawProgramPointer } from "./program.ts";

/**
 * A tc direction.
 *
 * @example
 * ```ts
 * import type { TcDirection } from "./link.ts";
 * const dir: TcDirection = "egress";
 * ```
 */
export type TcDirection = "ingress" | "egress";

/**
 * What the kernel reports about a link (`struct bpf_link_info`).
 *
 * @example
 * ```ts
 * import type { BpfLink, BpfLinkInfo } from "./link.ts";
 * declare const link: BpfLink;
 * const { tcx }: BpfLinkInfo = link.info();
 * ```
 */
export interface BpfLinkInfo {
  /** `enum bpf_link_type` */
  type: number;
  /** The kernel's name of `type` (e.g. "BPF_LINK_TYPE_TCX"), if its BTF has it. */
  typeName: string | undefined;
  /** The kernel's link id. */
  id: number;
  /** The id of the attached program. */
  progId: number;
  /** For TCX (and netkit) links: the device and the attach type. */
  tcx?: { ifindex: number; attachType: number; attachTypeName: string | undefined };
}

/**
 * Bytes passed to the kernel for `struct bpf_link_info` (64 on 6.18).
 *
 * @example
 * ```ts
 * import { LINK_INFO_SIZE } from "./link.ts";
 * import { objInfo } from "./call.ts";
 * declare const linkFd: number;
 * const raw = objInfo(linkFd, LINK_INFO_SIZE);
 * ```
 */
export const LINK_INFO_SIZE = 128;

/**
 * Offsets in `struct bpf_link_info`: the union starts at 16 (8-aligned), tcx = {ifindex, attach_type}.
 *
 * @example
 * ```ts
 * import { LINK_INFO_OFFSETS } from "./link.ts";
 * LINK_INFO_OFFSETS.tcx_ifindex; // 16
 * ```
 */
export const LINK_INFO_OFFSETS = {
  type: 0,
  id: 4,
  prog_id: 8,
  tcx_ifindex: 16,
  tcx_attach_type: 20,
} as const;

/**
 * Decodes `struct bpf_link_info`; `tcxType` is the kernel's BPF_LINK_TYPE_TCX number (if any),
 * `netkitType` BPF_LINK_TYPE_NETKIT's (same layout).
 *
 * @example
 * ```ts
 * import { decodeLinkInfo } from "./link.ts";
 * const info = decodeLinkInfo(new Uint8Array(128), { tcxType: 11 });
 * ```
 */
export function decodeLinkInfo(
  raw: Uint8Array,
  types: { tcxType?: number | undefined; netkitType?: number | undefined } = {},
): Omit<BpfLinkInfo, "typeName"> {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const o = LINK_INFO_OFFSETS;
  const type = v.getUint32(o.type, true);
  const info: Omit<BpfLinkInfo, "typeName"> = {
    type,
    id: v.getUint32(o.id, true),
    progId: v.getUint32(o.prog_id, true),
  };
  if (type === types.tcxType || type === types.netkitType) {
    const attachType = v.getUint32(o.tcx_attach_type, true);
    info.tcx = { ifindex: v.getUint32(o.tcx_ifindex, true), attachType, attachTypeName: undefined };
  }
  return info;
}

/**
 * A BPF link.
 *
 * @example
 * ```ts
 * import { BpfLink } from "./link.ts";
 * import { attachTcx } from "./tcx.ts";
 * import type { BpfProgram } from "./program.ts";
 * declare const restorer: BpfProgram;
 * const link = attachTcx(restorer, 3, "egress");
 * link.pin("/sys/fs/bpf/tsn/link-eth0-egress");
 * link.close(); // the pin keeps it attached
 * BpfLink.fromPinned("/sys/fs/bpf/tsn/link-eth0-egress").detach();
 * ```
 */
export class BpfLink {
  #fd: number;
  #ptr: Deno.PointerObject | null; // libbpf struct bpf_link *, for tracing links
  #pinPath: string | undefined;

  private constructor(fd: number, ptr: Deno.PointerObject | null, pinPath?: string) {
    this.#fd = fd;
    this.#ptr = ptr;
    this.#pinPath = pinPath;
  }

  /**
   * Wraps a link fd (owned: `close()` closes it).
   *
   * @example
   * ```ts
   * import { BpfLink } from "./link.ts";
   * declare const fd: number;
   * const link = BpfLink.fromFd(fd);
   * ```
   */
  static fromFd(fd: number): BpfLink {
    expectFdKind(fd, "link", `fd ${fd}`);
    return new BpfLink(fd, null);
  }

  /**
   * Wraps a libbpf `struct bpf_link *` (from `bpf_program__attach`); the link owns it.
   *
   * @example
   * ```ts
   * import { BpfLink } from "./link.ts";
   * declare const ptr: Deno.PointerObject;
   * const link = BpfLink.fromLibbpfLink(ptr);
   * ```
   */
  static fromLibbpfLink(ptr: Deno.PointerObject): BpfLink {
    const fd = libbpfInt("bpf_link__fd", () => libbpf().bpf_link__fd(ptr));
    return new BpfLink(fd, ptr);
  }

  /**
   * Opens a link pinned in bpffs (`bpf_obj_get`). `detach()` then also removes the pin.
   *
   * @example
   * ```ts
   * import { BpfLink } from "./link.ts";
   * const link = BpfLink.fromPinned("/sys/fs/bpf/tsn/link-eth0-egress");
   * console.log(link.info());
   * link.close();
   * ```
   */
  static fromPinned(path: string): BpfLink {
    const fd = libbpfInt("bpf_obj_get", () => libbpf().bpf_obj_get(cString(path)), {
      detail: path,
    });
    try {
      expectFdKind(fd, "link", path);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return new BpfLink(fd, null, path);
  }

  /** The link's file descriptor; throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new Error("link closed");
    return this.#fd;
  }

  /** The bpffs path this link was pinned at or opened from, if any. */
  get pinPath(): string | undefined {
    return this.#pinPath;
  }

  /**
   * Pins the link at `path` (it then outlives this process).
   *
   * @example
   * ```ts
   * import type { BpfLink } from "./link.ts";
   * declare const link: BpfLink;
   * link.pin("/sys/fs/bpf/tsn/link-eth0-egress");
   * ```
   */
  pin(path: string): void {
    const fd = this.fd;
    if (this.#ptr !== null) {
      const ptr = this.#ptr;
      libbpfInt("bpf_link__pin", () => libbpf().bpf_link__pin(ptr, cString(path)), {
        detail: path,
      });
    } else {
      libbpfInt("bpf_obj_pin", () => libbpf().bpf_obj_pin(fd, cString(path)), { detail: path });
    }
    this.#pinPath = path;
  }

  /**
   * Swaps the link's program for `prog` in one step (`bpf_link_update`, e.g. a TCX link: packets
   * see the old program or the new one, never none). The link keeps its place and its pin.
   *
   * @example
   * ```ts
   * import type { BpfLink } from "./link.ts";
   * import type { BpfProgram } from "./program.ts";
   * declare const link: BpfLink, prog: BpfProgram;
   * link.update(prog);
   * ```
   */
  update(prog: BpfProgram): void {
    const fd = this.fd, progFd = prog.fd;
    libbpfInt("bpf_link_update", () => libbpf().bpf_link_update(fd, progFd, null), {
      detail: this.#pinPath ?? `link fd ${fd}`,
    });
  }

  /**
   * Removes the pin (if any); the link lives on while an fd is open.
   *
   * @example
   * ```ts
   * import type { BpfLink } from "./link.ts";
   * declare const link: BpfLink;
   * link.unpin();
   * ```
   */
  unpin(): void {
    const path = this.#pinPath;
    if (path === undefined) return;
    if (this.#ptr !== null) {
      const ptr = this.#ptr;
      libbpfInt("bpf_link__unpin", () => libbpf().bpf_link__unpin(ptr), { detail: path });
    } else {
      try {
        Deno.removeSync(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    this.#pinPath = undefined;
  }

  /**
   * The kernel's view of the link.
   *
   * @example
   * ```ts
   * import type { BpfLink } from "./link.ts";
   * declare const link: BpfLink;
   * const { progId, tcx } = link.info();
   * ```
   */
  info(): BpfLinkInfo {
    const raw = objInfo(this.fd, LINK_INFO_SIZE);
    const tcxType = kernelLinkType("BPF_LINK_TYPE_TCX");
    const netkitType = kernelLinkType("BPF_LINK_TYPE_NETKIT");
    const info = decodeLinkInfo(raw, { tcxType, netkitType });
    if (info.tcx) {
      info.tcx.attachTypeName = kernelEnumName("bpf_attach_type", info.tcx.attachType);
    }
    return { ...info, typeName: kernelEnumName("bpf_link_type", info.type) };
  }

  /**
   * Detaches the link from its hook and releases it: `bpf_link_detach` (TCX, netns, XDP, cgroup
   * links), then removes the pin and closes the fd. Links the kernel cannot detach explicitly
   * (tracing) go away when the pin and the last fd do.
   *
   * @example
   * ```ts
   * import { BpfLink } from "./link.ts";
   * BpfLink.fromPinned("/sys/fs/bpf/tsn/link-eth0-egress").detach();
   * ```
   */
  detach(): void {
    const fd = this.fd;
    // EOPNOTSUPP/EINVAL/ENOTSUPP: a link type without explicit detach; unpin + close releases it.
    libbpfIntOr("bpf_link_detach", () => libbpf().bpf_link_detach(fd), [95, 22, 524]);
    this.unpin();
    this.close();
  }

  /**
   * Releases this process's hold on the link without detaching it: a pinned link stays attached,
   * an unpinned one goes away. Idempotent.
   *
   * @example
   * ```ts
   * import type { BpfLink } from "./link.ts";
   * declare const link: BpfLink;
   * link.close();
   * ```
   */
  close(): void {
    if (this.#ptr !== null) {
      const ptr = this.#ptr;
      this.#ptr = null;
      libbpf().bpf_link__disconnect(ptr); // close the fd only, no detach
      libbpf().bpf_link__destroy(ptr);
    } else {
      closeFd(this.#fd);
    }
    this.#fd = -1;
  }

  /** Same as {@link BpfLink.close}, for `using`. */
  [Symbol.dispose](): void {
    if (this.#fd >= 0) this.close();
  }
}

function kernelLinkType(name: string): number | undefined {
  return kernelEnum("bpf_link_type")?.get(name);
}

/**
 * Attaches a tracing program (fentry/fexit/tp_btf/...) of a loaded `BpfObject` where its section
 * says (`bpf_program__attach`).
 *
 * @example
 * ```ts
 * import { attachTracing } from "./link.ts";
 * import type { BpfObject } from "./object.ts";
 * declare const obj: BpfObject;
 * const link = attachTracing(obj.program("tsn_cleanup_kfree"));
 * ```
 */
export function attachTracing(prog: BpfProgram): BpfLink {
  const ptr = rawProgramPointer(prog);
  if (ptr === undefined) {
    throw new BpfError("bpf_program__attach", 22, {
      detail: `${prog.name}: not a program of a BpfObject`,
    });
  }
  const link = libbpfPtr("bpf_program__attach", () => libbpf().bpf_program__attach(ptr), {
    detail: prog.name,
  });
  return BpfLink.fromLibbpfLink(link);
}
