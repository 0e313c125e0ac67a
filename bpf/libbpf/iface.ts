/**
 * @module
 * Network interface names and indexes (`if_nametoindex`, `if_indextoname`), looked up in the
 * calling thread's network namespace (wrap in `withNetns` for another one).
 */

import { BpfError } from "./errors.ts";
import { cString, errno, libc } from "./ffi.ts";

/**
 * `IF_NAMESIZE` (net/if.h).
 *
 * @example
 * ```ts
 * import { IF_NAMESIZE } from "./iface.ts";
 * "eth0".length < IF_NAMESIZE; // true
 * ```
 */
export const IF_NAMESIZE = 16;

/**
 * The index of interface `name`; throws a {@link BpfError} with code ENODEV if there is none.
 *
 * @example
 * ```ts
 * import { ifindex } from "./iface.ts";
 * ifindex("lo"); // 1
 * ```
 */
export function ifindex(name: string): number {
  if (name.length === 0 || name.length >= IF_NAMESIZE) {
    throw new BpfError("if_nametoindex", 19, {
      detail: `invalid interface name ${JSON.stringify(name)}`,
    });
  }
  const index = libc().if_nametoindex(cString(name));
  if (index === 0) {
    throw new BpfError("if_nametoindex", errno() || 19, { detail: name });
  }
  return index;
}

/**
 * The name of interface `index`, or `undefined` if there is none.
 *
 * @example
 * ```ts
 * import { ifname } from "./iface.ts";
 * ifname(1); // "lo"
 * ```
 */
export function ifname(index: number): string | undefined {
  const buf = new Uint8Array(IF_NAMESIZE);
  const p = libc().if_indextoname(index, buf);
  if (p === null) return undefined;
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}
