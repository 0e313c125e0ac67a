/**
 * @module
 * Helpers shared by this folder's tests: the core object's path, throwaway bpffs directories and
 * network namespaces (always removed by the caller in `finally`), a test frame, command runner.
 * Not part of the public API.
 */

import { bpffsMounts, ensureBpffsDir } from "./bpffs.ts";
export { prebuiltBpf } from "../toolchain.ts";

/**
 * The compiled BPF core used by the kernel tests.
 *
 * @example
 * ```ts
 * import { CORE_OBJECT, TC_ONLY } from "./testutil.ts";
 * import { BpfObject } from "./object.ts";
 * const obj = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
 * ```
 */
export const CORE_OBJECT: string = new URL("../obj/tsn_core.bpf.o", import.meta.url).pathname;

/**
 * Autoload switches that leave only the tc programs (saver, restorer) on.
 *
 * @example
 * ```ts
 * import { CORE_OBJECT, TC_ONLY } from "./testutil.ts";
 * import { BpfObject } from "./object.ts";
 * const obj = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
 * ```
 */
export const TC_ONLY: Record<string, boolean> = {
  tsn_track_clone: false,
  tsn_cleanup_kfree: false,
  tsn_cleanup_consume: false,
};

/**
 * Why the kernel tests cannot run here (not root, no bpffs mount point), or null when they can.
 * Kernel tests never skip: they fail with this reason (one policy with sim/require_root.ts).
 *
 * @example
 * ```ts
 * import { kernelTestBlocker } from "./testutil.ts";
 * console.log(kernelTestBlocker() ?? "kernel tests can run");
 * ```
 */
export function kernelTestBlocker(): string | null {
  if (Deno.uid() !== 0) return "kernel tests need root (BPF, netns, tc): run them with sudo";
  try {
    Deno.statSync("/sys/fs/bpf");
  } catch {
    return "no /sys/fs/bpf on this kernel (bpffs)";
  }
  return null;
}

/**
 * Registers a kernel test that fails with the reason, never skips, when it cannot run here.
 *
 * @example
 * ```ts ignore
 * import { kernelTest } from "./testutil.ts";
 * kernelTest({ name: "loads", fn() {} });
 * ```
 */
export function kernelTest(def: Deno.TestDefinition): void {
  Deno.test({
    ...def,
    fn(t) {
      const why = kernelTestBlocker();
      if (why) throw new Error(why);
      return def.fn(t);
    },
  });
}

/**
 * A random suffix for test resource names.
 *
 * @example
 * ```ts
 * import { randomSuffix } from "./testutil.ts";
 * const name = `tsn-test-${randomSuffix()}`;
 * ```
 */
export function randomSuffix(): string {
  return crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
}

/**
 * Runs a command synchronously; throws with its stderr if it fails. Returns stdout.
 *
 * @example
 * ```ts
 * import { sh } from "./testutil.ts";
 * sh("ip", "netns", "add", "tsn-test-x");
 * ```
 */
export function sh(cmd: string, ...args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${dec.decode(out.stderr).trim()}`);
  }
  return dec.decode(out.stdout);
}

/**
 * Creates /sys/fs/bpf/tsn-test-<random>/ (mount bpffs first if needed) and returns its path.
 *
 * @example
 * ```ts
 * import { tempBpffsDir } from "./testutil.ts";
 * import { removeBpffsDir } from "./bpffs.ts";
 * const dir = tempBpffsDir();
 * try { } finally { removeBpffsDir(dir); }
 * ```
 */
export function tempBpffsDir(): string {
  // From /proc/self/mounts, not mountpoint(1): the lab's guests have no util-linux.
  if (!bpffsMounts().includes("/sys/fs/bpf")) sh("mount", "-t", "bpf", "bpf", "/sys/fs/bpf");
  return ensureBpffsDir(`/sys/fs/bpf/tsn-test-${randomSuffix()}`);
}

/**
 * A network namespace made for a test.
 *
 * @example
 * ```ts
 * import { createNetns, type TestNetns } from "./testutil.ts";
 * const ns: TestNetns = createNetns(); // { name, path }
 * ```
 */
export interface TestNetns {
  name: string;
  path: string;
}

/**
 * Creates a network namespace with `ip netns add` (path /run/netns/NAME).
 *
 * @example
 * ```ts
 * import { createNetns, deleteNetns } from "./testutil.ts";
 * const ns = createNetns();
 * try { } finally { deleteNetns(ns); }
 * ```
 */
export function createNetns(): TestNetns {
  const name = `tsn-test-${randomSuffix()}`;
  sh("ip", "netns", "add", name);
  return { name, path: `/run/netns/${name}` };
}

/**
 * Deletes a namespace made by {@link createNetns} (ignores one that is already gone).
 *
 * @example
 * ```ts
 * import { createNetns, deleteNetns } from "./testutil.ts";
 * deleteNetns(createNetns());
 * ```
 */
export function deleteNetns(ns: TestNetns): void {
  new Deno.Command("ip", { args: ["netns", "del", ns.name], stdout: "null", stderr: "null" })
    .outputSync();
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * A 64-byte Ethernet + IPv4 + UDP frame (10.0.0.1:12345 -> 10.0.0.2:9, 22 payload bytes).
 *
 * @example
 * ```ts
 * import { udpFrame } from "./testutil.ts";
 * udpFrame().length; // 64
 * ```
 */
export function udpFrame(): Uint8Array {
  const f = new Uint8Array(64);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0); // dst, src MAC
  v.setUint16(12, 0x0800);
  const ip = 14;
  f[ip] = 0x45;
  v.setUint16(ip + 2, 64 - 14); // total length
  v.setUint16(ip + 4, 0x1234); // id
  v.setUint16(ip + 6, 0x4000); // DF
  f[ip + 8] = 64; // ttl
  f[ip + 9] = 17; // UDP
  f.set([10, 0, 0, 1, 10, 0, 0, 2], ip + 12);
  v.setUint16(ip + 10, checksum(f.subarray(ip, ip + 20)));
  const udp = ip + 20;
  v.setUint16(udp, 12345);
  v.setUint16(udp + 2, 9);
  v.setUint16(udp + 4, 64 - udp);
  for (let i = udp + 8; i < 64; i++) f[i] = i;
  return f;
}

/** The object of testdata/bad_bounds.bpf.c: a program the verifier must refuse. */
export const BAD_BOUNDS = "bad_bounds.bpf.o";

/**
 * Compiles testdata/bad_bounds.bpf.c to `out` with clang-19 (Debian's UAPI headers); returns out.
 *
 * @example
 * ```ts ignore
 * import { BAD_BOUNDS, buildBadBounds } from "./testutil.ts";
 * buildBadBounds(`/tmp/${BAD_BOUNDS}`);
 * ```
 */
export function buildBadBounds(out: string): string {
  const arch = Deno.build.arch === "x86_64" ? "x86_64-linux-gnu" : "aarch64-linux-gnu";
  const src = new URL("./testdata/bad_bounds.bpf.c", import.meta.url).pathname;
  sh("clang-19", "-target", "bpf", "-O2", "-g", `-I/usr/include/${arch}`, "-c", src, "-o", out);
  return out;
}
