/**
 * @module
 * TCX attachment (Linux 6.6+): a tc program on a device's ingress or egress as a BPF link, with
 * the attach type numbers taken from the running kernel's BTF (Debian 12's headers predate TCX).
 * Plain appends go through libbpf's `bpf_link_create`; placing a program first (BPF_F_BEFORE) or
 * checking the hook's revision needs `link_create.tcx` fields that libbpf 1.1.2 does not know, so
 * those use the bpf(2) syscall directly. Devices are looked up in the calling thread's network
 * namespace: call inside `withNetns` for other namespaces.
 */

import { kernelAttachType } from "./btf_kernel.ts";
import { libbpfInt, libcInt } from "./call.ts";
import { libbpf, libc } from "./ffi.ts";
import { BpfLink, type TcDirection } from "./link.ts";
import type { BpfProgram } from "./program.ts";

/**
 * Generic multi-program attach flags (linux/bpf.h, 6.6+; `#define`s, so not in BTF).
 *
 * @example
 * ```ts
 * import { BPF_MPROG_FLAGS } from "./tcx.ts";
 * BPF_MPROG_FLAGS.BEFORE; // 8
 * ```
 */
export const BPF_MPROG_FLAGS = {
  REPLACE: 1 << 2,
  BEFORE: 1 << 3,
  AFTER: 1 << 4,
  ID: 1 << 5,
} as const;

/**
 * `BPF_LINK_CREATE`, the bpf(2) command number.
 *
 * @example
 * ```ts
 * import { BPF_LINK_CREATE } from "./tcx.ts";
 * BPF_LINK_CREATE; // 28
 * ```
 */
export const BPF_LINK_CREATE = 28;

/**
 * Bytes of `union bpf_attr` passed for a TCX link_create: prog_fd@0 target_ifindex@4
 * attach_type@8 flags@12 tcx.relative_fd@16 tcx.expected_revision@24 (u64).
 *
 * @example
 * ```ts
 * import { encodeTcxLinkCreate, TCX_LINK_CREATE_ATTR_SIZE } from "./tcx.ts";
 * encodeTcxLinkCreate({ progFd: 3, ifindex: 2, attachType: 47 }).length ===
 *   TCX_LINK_CREATE_ATTR_SIZE; // true
 * ```
 */
export const TCX_LINK_CREATE_ATTR_SIZE = 32;

/** Fields of {@link encodeTcxLinkCreate}. */
export interface TcxLinkCreateFields {
  /** The program fd. */
  progFd: number;
  /** The device. */
  ifindex: number;
  /** BPF_TCX_INGRESS or BPF_TCX_EGRESS of the running kernel. */
  attachType: number;
  /** {@link BPF_MPROG_FLAGS} bits. */
  flags?: number;
  /** fd (or id with BPF_F_ID) of the program or link to place relative to; 0 = the whole list. */
  relativeFd?: number;
  /** Fail with ESTALE unless the hook is at this revision; 0 = no check. */
  expectedRevision?: bigint;
}

/**
 * Encodes the `link_create` member of `union bpf_attr` for a TCX link.
 *
 * @example
 * ```ts
 * import { BPF_MPROG_FLAGS, encodeTcxLinkCreate } from "./tcx.ts";
 * const attr = encodeTcxLinkCreate({
 *   progFd: 5,
 *   ifindex: 2,
 *   attachType: 47,
 *   flags: BPF_MPROG_FLAGS.BEFORE,
 * });
 * ```
 */
export function encodeTcxLinkCreate(f: TcxLinkCreateFields): Uint8Array<ArrayBuffer> {
  const raw = new Uint8Array(TCX_LINK_CREATE_ATTR_SIZE);
  const v = new DataView(raw.buffer);
  v.setUint32(0, f.progFd, true);
  v.setUint32(4, f.ifindex, true);
  v.setUint32(8, f.attachType, true);
  v.setUint32(12, f.flags ?? 0, true);
  v.setUint32(16, f.relativeFd ?? 0, true);
  v.setBigUint64(24, f.expectedRevision ?? 0n, true);
  return raw;
}

/** Options of {@link attachTcx}. */
export interface TcxAttachOptions {
  /**
   * Run before every program already on the hook (BPF_F_BEFORE without anchor). Default: after
   * all of them (appended).
   */
  first?: boolean;
  /** Attach only if the hook's revision is still this (else ESTALE). */
  expectedRevision?: bigint;
}

/** The `bpf(2)` syscall number. */
function sysBpf(): bigint {
  if (Deno.build.arch === "x86_64") return 321n;
  if (Deno.build.arch === "aarch64") return 280n;
  throw new Error(`bpf(2) syscall number unknown on ${Deno.build.arch}`);
}

function tcxAttachType(direction: TcDirection): number {
  return kernelAttachType(direction === "ingress" ? "BPF_TCX_INGRESS" : "BPF_TCX_EGRESS");
}

/**
 * Attaches a tc program (SEC("tc")) to `ifindex` with TCX: appended after the programs already
 * there, or first with `{ first: true }`. Pin the link or keep it open, or it detaches when the
 * process exits. The program should return TC_ACT_UNSPEC (TCX_NEXT) to let later programs run.
 *
 * @example
 * ```ts
 * import { attachTcx } from "./tcx.ts";
 * import type { BpfProgram } from "./program.ts";
 * declare const restorer: BpfProgram;
 * const link = attachTcx(restorer, 2, "egress", { first: true });
 * link.pin("/sys/fs/bpf/tsn-proxy/restorer-nic0");
 * ```
 */
export function attachTcx(
  prog: BpfProgram,
  ifindex: number,
  direction: TcDirection,
  options: TcxAttachOptions = {},
): BpfLink {
  const attachType = tcxAttachType(direction);
  const progFd = prog.fd;
  const detail = `${prog.name} -> ifindex ${ifindex} ${direction} (tcx${
    options.first ? ", first" : ""
  })`;
  if (!options.first && options.expectedRevision === undefined) {
    const fd = libbpfInt(
      "bpf_link_create",
      () => libbpf().bpf_link_create(progFd, ifindex, attachType, null),
      { detail },
    );
    return BpfLink.fromFd(fd);
  }
  const attr = encodeTcxLinkCreate({
    progFd,
    ifindex,
    attachType,
    flags: options.first ? BPF_MPROG_FLAGS.BEFORE : 0,
    expectedRevision: options.expectedRevision ?? 0n,
  });
  const fd = libcInt(
    "bpf(BPF_LINK_CREATE)",
    () => Number(libc().syscall(sysBpf(), BigInt(BPF_LINK_CREATE), attr, attr.length)),
    { detail },
  );
  return BpfLink.fromFd(fd);
}

/**
 * The ids of the programs on a TCX hook, in run order (`bpf_prog_query`).
 *
 * @example
 * ```ts
 * import { tcxQuery } from "./tcx.ts";
 * const ids = tcxQuery(2, "egress"); // e.g. [412, 398]
 * ```
 */
export function tcxQuery(ifindex: number, direction: TcDirection, max = 64): number[] {
  const attachType = tcxAttachType(direction);
  const attachFlags = new Uint32Array(1);
  const ids = new Uint32Array(max);
  const count = new Uint32Array([max]);
  libbpfInt(
    "bpf_prog_query",
    () => libbpf().bpf_prog_query(ifindex, attachType, 0, attachFlags, ids, count),
    { detail: `ifindex ${ifindex} ${direction} (tcx)`, log: false },
  );
  return [...ids.subarray(0, Math.min(count[0] ?? 0, max))];
}

/** netkit's two attach points on the primary device (bpf_mprog, like TCX). */
export type NetkitHook = "peer" | "primary";

/**
 * Attaches a tc program (SEC("tc") is accepted: `bpf_prog_attach_check_attach_type()` allows
 * BPF_NETKIT_PRIMARY/PEER for SCHED_CLS) to a netkit pair through its primary device `ifindex`:
 * `"peer"` runs in netkit_xmit() of the peer (the pod's device) for what the pod sends, after
 * netkit_prep_forward() scrubbed the packet; `"primary"` for what the node sends to the pod.
 * `first` places it before every program already there (BPF_F_BEFORE), else it is appended. The
 * `link_create.netkit` layout is the TCX one.
 *
 * @example
 * ```ts ignore
 * import { attachNetkit } from "./tcx.ts";
 * import type { BpfProgram } from "./program.ts";
 * declare const probe: BpfProgram;
 * const link = attachNetkit(probe, 7, "peer", { first: true });
 * ```
 */
export function attachNetkit(
  prog: BpfProgram,
  ifindex: number,
  hook: NetkitHook,
  options: { first?: boolean } = {},
): BpfLink {
  const attachType = kernelAttachType(hook === "peer" ? "BPF_NETKIT_PEER" : "BPF_NETKIT_PRIMARY");
  const attr = encodeTcxLinkCreate({
    progFd: prog.fd,
    ifindex,
    attachType,
    flags: options.first ? BPF_MPROG_FLAGS.BEFORE : 0,
  });
  const fd = libcInt(
    "bpf(BPF_LINK_CREATE)",
    () => Number(libc().syscall(sysBpf(), BigInt(BPF_LINK_CREATE), attr, attr.length)),
    {
      detail: `${prog.name} -> ifindex ${ifindex} netkit ${hook}${options.first ? ", first" : ""}`,
    },
  );
  return BpfLink.fromFd(fd);
}

/**
 * The ids of the programs on a netkit hook of primary device `ifindex`, in run order.
 *
 * @example
 * ```ts ignore
 * import { netkitQuery } from "./tcx.ts";
 * const ids = netkitQuery(7, "peer");
 * ```
 */
export function netkitQuery(ifindex: number, hook: NetkitHook, max = 64): number[] {
  const attachType = kernelAttachType(hook === "peer" ? "BPF_NETKIT_PEER" : "BPF_NETKIT_PRIMARY");
  const attachFlags = new Uint32Array(1);
  const ids = new Uint32Array(max);
  const count = new Uint32Array([max]);
  libbpfInt(
    "bpf_prog_query",
    () => libbpf().bpf_prog_query(ifindex, attachType, 0, attachFlags, ids, count),
    { detail: `ifindex ${ifindex} netkit ${hook}`, log: false },
  );
  return [...ids.subarray(0, Math.min(count[0] ?? 0, max))];
}
