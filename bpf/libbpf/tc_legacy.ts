/**
 * @module
 * Legacy tc attachment for kernels without TCX (< 6.6): a `clsact` qdisc and a direct-action
 * `cls_bpf` filter per (direction, handle, priority), through libbpf's netlink helpers
 * `bpf_tc_hook_create`, `bpf_tc_attach`, `bpf_tc_query`, `bpf_tc_detach`, `bpf_tc_hook_destroy`.
 * Netlink works in the calling thread's network namespace: wrap calls in `withNetns` for others.
 */

import { libbpfInt, libbpfIntOr } from "./call.ts";
import { libbpf } from "./ffi.ts";
import type { TcDirection } from "./link.ts";
import type { BpfProgram } from "./program.ts";

/**
 * `sizeof(struct bpf_tc_hook)` in libbpf 1.1.2: sz(8) ifindex(4) attach_point(4) parent(4) + pad.
 *
 * @example
 * ```ts
 * import { encodeTcHook, TC_HOOK_SIZE } from "./tc_legacy.ts";
 * encodeTcHook({ ifindex: 1, attachPoint: 2 }).length === TC_HOOK_SIZE; // true
 * ```
 */
export const TC_HOOK_SIZE = 24;
/**
 * `sizeof(struct bpf_tc_opts)`: sz(8) prog_fd flags prog_id handle priority (4 each) + pad.
 *
 * @example
 * ```ts
 * import { encodeTcOpts, TC_OPTS_SIZE } from "./tc_legacy.ts";
 * encodeTcOpts({}).length === TC_OPTS_SIZE; // true
 * ```
 */
export const TC_OPTS_SIZE = 32;

/**
 * `enum bpf_tc_attach_point`.
 *
 * @example
 * ```ts
 * import { encodeTcHook, TcAttachPoint } from "./tc_legacy.ts";
 * encodeTcHook({ ifindex: 2, attachPoint: TcAttachPoint.INGRESS });
 * ```
 */
export const TcAttachPoint = { INGRESS: 1, EGRESS: 2, CUSTOM: 4 } as const;
/**
 * `enum bpf_tc_flags`.
 *
 * @example
 * ```ts
 * import { encodeTcOpts, TcFlags } from "./tc_legacy.ts";
 * encodeTcOpts({ progFd: 5, flags: TcFlags.REPLACE, handle: 1, priority: 1 });
 * ```
 */
export const TcFlags = { REPLACE: 1 } as const;

/**
 * Fields of `struct bpf_tc_hook`.
 *
 * @example
 * ```ts
 * import type { TcHookFields } from "./tc_legacy.ts";
 * const hook: TcHookFields = { ifindex: 2, attachPoint: 2 };
 * ```
 */
export interface TcHookFields {
  ifindex: number;
  attachPoint: number;
  parent?: number;
}

/**
 * Fields of `struct bpf_tc_opts`.
 *
 * @example
 * ```ts
 * import type { TcOptsFields } from "./tc_legacy.ts";
 * const opts: TcOptsFields = { handle: 1, priority: 1 };
 * ```
 */
export interface TcOptsFields {
  progFd?: number;
  flags?: number;
  progId?: number;
  handle?: number;
  priority?: number;
}

/**
 * Encodes `struct bpf_tc_hook` (24 bytes).
 *
 * @example
 * ```ts
 * import { encodeTcHook, TcAttachPoint } from "./tc_legacy.ts";
 * const hook = encodeTcHook({ ifindex: 2, attachPoint: TcAttachPoint.EGRESS });
 * ```
 */
export function encodeTcHook(f: TcHookFields): Uint8Array<ArrayBuffer> {
  const raw = new Uint8Array(TC_HOOK_SIZE);
  const v = new DataView(raw.buffer);
  v.setBigUint64(0, BigInt(TC_HOOK_SIZE), true);
  v.setInt32(8, f.ifindex, true);
  v.setUint32(12, f.attachPoint, true);
  v.setUint32(16, f.parent ?? 0, true);
  return raw;
}

/**
 * Encodes `struct bpf_tc_opts` (32 bytes).
 *
 * @example
 * ```ts
 * import { encodeTcOpts } from "./tc_legacy.ts";
 * const opts = encodeTcOpts({ progFd: 7, handle: 1, priority: 1 });
 * ```
 */
export function encodeTcOpts(f: TcOptsFields): Uint8Array<ArrayBuffer> {
  const raw = new Uint8Array(TC_OPTS_SIZE);
  const v = new DataView(raw.buffer);
  v.setBigUint64(0, BigInt(TC_OPTS_SIZE), true);
  v.setInt32(8, f.progFd ?? 0, true);
  v.setUint32(12, f.flags ?? 0, true);
  v.setUint32(16, f.progId ?? 0, true);
  v.setUint32(20, f.handle ?? 0, true);
  v.setUint32(24, f.priority ?? 0, true);
  return raw;
}

/**
 * Decodes `struct bpf_tc_opts` (after `bpf_tc_attach`/`bpf_tc_query` filled it in).
 *
 * @example
 * ```ts
 * import { decodeTcOpts, encodeTcOpts } from "./tc_legacy.ts";
 * decodeTcOpts(encodeTcOpts({ handle: 1, priority: 2 })).priority; // 2
 * ```
 */
export function decodeTcOpts(raw: Uint8Array): Required<TcOptsFields> {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    progFd: v.getInt32(8, true),
    flags: v.getUint32(12, true),
    progId: v.getUint32(16, true),
    handle: v.getUint32(20, true),
    priority: v.getUint32(24, true),
  };
}

function hookFor(ifindex: number, direction: TcDirection): Uint8Array<ArrayBuffer> {
  return encodeTcHook({
    ifindex,
    attachPoint: direction === "ingress" ? TcAttachPoint.INGRESS : TcAttachPoint.EGRESS,
  });
}

/**
 * A filter's identity under a clsact hook.
 *
 * @example
 * ```ts
 * import type { TcFilterId } from "./tc_legacy.ts";
 * const id: TcFilterId = { handle: 1, priority: 10 };
 * ```
 */
export interface TcFilterId {
  /** Filter handle (default 1). */
  handle?: number;
  /** Filter priority (default 1). */
  priority?: number;
}

/**
 * An attached filter as the kernel reports it.
 *
 * @example
 * ```ts
 * import { type TcFilter, tcQuery } from "./tc_legacy.ts";
 * const f: TcFilter | undefined = tcQuery(2, "egress");
 * ```
 */
export interface TcFilter {
  /** Filter handle. */
  handle: number;
  /** Filter priority. */
  priority: number;
  /** The id of the attached program. */
  progId: number;
}

/**
 * Creates the `clsact` qdisc on `ifindex` (both directions share it). Returns false if it was
 * already there (EEXIST is not an error).
 *
 * @example
 * ```ts
 * import { tcHookCreate } from "./tc_legacy.ts";
 * const created = tcHookCreate(2, "egress");
 * ```
 */
export function tcHookCreate(ifindex: number, direction: TcDirection): boolean {
  const hook = hookFor(ifindex, direction);
  const r = libbpfIntOr("bpf_tc_hook_create", () => libbpf().bpf_tc_hook_create(hook), [17], {
    detail: `ifindex ${ifindex}`,
  });
  return r >= 0;
}

/**
 * Removes the whole `clsact` qdisc from `ifindex`, with every filter of both directions (also
 * other tools'). Only for devices this process owns.
 *
 * @example
 * ```ts
 * import { tcHookDestroy } from "./tc_legacy.ts";
 * tcHookDestroy(2);
 * ```
 */
export function tcHookDestroy(ifindex: number): void {
  const hook = encodeTcHook({
    ifindex,
    attachPoint: TcAttachPoint.INGRESS | TcAttachPoint.EGRESS,
  });
  libbpfInt("bpf_tc_hook_destroy", () => libbpf().bpf_tc_hook_destroy(hook), {
    detail: `ifindex ${ifindex}`,
  });
}

/**
 * Attaches `prog` as a direct-action filter (creates the clsact hook first if needed).
 * `replace` swaps the program of an existing filter with the same handle and priority.
 *
 * @example
 * ```ts
 * import { tcAttach } from "./tc_legacy.ts";
 * import type { BpfProgram } from "./program.ts";
 * declare const restorer: BpfProgram;
 * const f = tcAttach(restorer, 2, "egress", { handle: 1, priority: 1 });
 * ```
 */
export function tcAttach(
  prog: BpfProgram,
  ifindex: number,
  direction: TcDirection,
  options: TcFilterId & { replace?: boolean } = {},
): TcFilter {
  tcHookCreate(ifindex, direction);
  const hook = hookFor(ifindex, direction);
  const opts = encodeTcOpts({
    progFd: prog.fd,
    flags: options.replace ? TcFlags.REPLACE : 0,
    handle: options.handle ?? 1,
    priority: options.priority ?? 1,
  });
  libbpfInt("bpf_tc_attach", () => libbpf().bpf_tc_attach(hook, opts), {
    detail: `${prog.name} -> ifindex ${ifindex} ${direction} (clsact)`,
  });
  const out = decodeTcOpts(opts);
  return { handle: out.handle, priority: out.priority, progId: out.progId };
}

/**
 * The filter with `handle`/`priority` on the hook, or `undefined` if there is none (also when the
 * hook has no filter chain yet, which the kernel reports as EINVAL + "Cannot find specified filter
 * chain"). Throws if the clsact hook itself is missing.
 *
 * @example
 * ```ts
 * import { tcQuery } from "./tc_legacy.ts";
 * const f = tcQuery(2, "egress", { handle: 1, priority: 1 });
 * ```
 */
export function tcQuery(
  ifindex: number,
  direction: TcDirection,
  id: TcFilterId = {},
): TcFilter | undefined {
  const hook = hookFor(ifindex, direction);
  const opts = encodeTcOpts({ handle: id.handle ?? 1, priority: id.priority ?? 1 });
  const r = libbpfIntOr(
    "bpf_tc_query",
    () => libbpf().bpf_tc_query(hook, opts),
    // ENOENT: no such filter. EINVAL with the kernel's "Cannot find specified filter chain": no
    // filter at all under the hook yet (chain 0 is created by the first filter).
    (e, log) =>
      e === 2 || (e === 22 && log.some((l) => l.includes("Cannot find specified filter chain"))),
    { detail: `ifindex ${ifindex} ${direction}` },
  );
  if (r < 0) return undefined;
  const out = decodeTcOpts(opts);
  return { handle: out.handle, priority: out.priority, progId: out.progId };
}

/**
 * Removes the filter with `handle`/`priority` from the hook.
 *
 * @example
 * ```ts
 * import { tcDetach } from "./tc_legacy.ts";
 * tcDetach(2, "egress", { handle: 1, priority: 1 });
 * ```
 */
export function tcDetach(ifindex: number, direction: TcDirection, id: TcFilterId = {}): void {
  const hook = hookFor(ifindex, direction);
  const opts = encodeTcOpts({ handle: id.handle ?? 1, priority: id.priority ?? 1 });
  libbpfInt("bpf_tc_detach", () => libbpf().bpf_tc_detach(hook, opts), {
    detail: `ifindex ${ifindex} ${direction}`,
  });
}
