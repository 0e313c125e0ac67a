/**
 * @module
 * Running synchronous code in another network namespace. `setns(2)` changes the namespace of the
 * calling thread only, so the switch holds for synchronous code on this JS thread: libbpf netlink
 * calls (`bpf_tc_*`), `bpf_link_create` for TCX (the ifindex is resolved in the caller's
 * namespace), `if_nametoindex`. Async work (and `nonblocking` FFI) runs on other threads and would
 * not see it, so async functions are refused.
 */

import { libcInt } from "./call.ts";
import { cString, libc } from "./ffi.ts";

/**
 * `CLONE_NEWNET` (linux/sched.h).
 *
 * @example
 * ```ts
 * import { CLONE_NEWNET } from "./netns.ts";
 * import { libc } from "./ffi.ts";
 * declare const nsFd: number;
 * libc().setns(nsFd, CLONE_NEWNET);
 * ```
 */
export const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

/**
 * The calling thread's network namespace file.
 *
 * @example
 * ```ts
 * import { THREAD_NETNS } from "./netns.ts";
 * const ino = Deno.statSync(THREAD_NETNS).ino;
 * ```
 */
export const THREAD_NETNS = "/proc/thread-self/ns/net";

/**
 * A function result that is not a Promise (async functions are refused by {@link withNetns}).
 *
 * @example
 * ```ts
 * import type { NotPromise } from "./netns.ts";
 * type R = NotPromise<Promise<number>>; // never
 * ```
 */
export type NotPromise<T> = T extends PromiseLike<unknown> ? never : T;

/**
 * Resolves a namespace argument: a path (contains "/") or an `ip netns` name (/run/netns/NAME).
 *
 * @example
 * ```ts
 * import { netnsPath } from "./netns.ts";
 * netnsPath("pod1"); // "/run/netns/pod1"
 * netnsPath("/proc/1234/ns/net"); // unchanged
 * ```
 */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.includes("/") ? nameOrPath : `/run/netns/${nameOrPath}`;
}

/**
 * The inode of the calling thread's network namespace (what `ip netns identify` compares).
 *
 * @example
 * ```ts
 * import { currentNetnsInode } from "./netns.ts";
 * const before = currentNetnsInode();
 * ```
 */
export function currentNetnsInode(): number {
  const ino = Deno.statSync(THREAD_NETNS).ino;
  if (ino === null) throw new Error(`no inode for ${THREAD_NETNS}`);
  return ino;
}

function openNs(path: string): number {
  return libcInt("open", () => libc().open(cString(path), O_RDONLY | O_CLOEXEC), { detail: path });
}

/**
 * Runs the synchronous `fn` with the calling thread switched into the network namespace
 * `nameOrPath` (a path such as /run/netns/NAME or /proc/PID/ns/net, or an `ip netns` name), and
 * always switches back, also when `fn` throws. If `fn` returns a Promise, the namespace is restored
 * first and a TypeError is thrown. If switching back fails, throws an Error that says the thread
 * is stranded (the process should exit).
 *
 * @example
 * ```ts
 * import { ifindex, withNetns } from "./mod.ts";
 * const idx = withNetns("/run/netns/pod1", () => ifindex("eth0"));
 * ```
 */
export function withNetns<T>(nameOrPath: string, fn: () => NotPromise<T>): T {
  const path = netnsPath(nameOrPath);
  const original = openNs(THREAD_NETNS);
  try {
    const target = openNs(path);
    try {
      libcInt("setns", () => libc().setns(target, CLONE_NEWNET), { detail: path });
    } finally {
      libc().close(target);
    }
    let result: T;
    try {
      result = fn();
    } finally {
      switchBack(original, path);
    }
    if (isThenable(result)) {
      (result as PromiseLike<unknown>).then(undefined, () => {});
      throw new TypeError(
        "withNetns: fn returned a Promise; a namespace switch only holds for synchronous code",
      );
    }
    return result;
  } finally {
    libc().close(original);
  }
}

function switchBack(original: number, from: string): void {
  try {
    libcInt("setns", () => libc().setns(original, CLONE_NEWNET), { detail: THREAD_NETNS });
  } catch (e) {
    throw new Error(`withNetns: could not switch this thread back from ${from}; it is stranded`, {
      cause: e,
    });
  }
}

function isThenable(v: unknown): boolean {
  return typeof v === "object" && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}
