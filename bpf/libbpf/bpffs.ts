/**
 * @module
 * bpffs directories for pins: make sure a directory lies on a mounted BPF filesystem (never the
 * mount root itself, which other software shares) and create it; remove pins and pin directories.
 */

import { dirname, resolve } from "node:path";
import { libcInt } from "./call.ts";
import { cString, libc } from "./ffi.ts";

/**
 * `BPF_FS_MAGIC` (linux/magic.h), `statfs.f_type` of bpffs.
 *
 * @example
 * ```ts
 * import { BPF_FS_MAGIC, fsMagic } from "./bpffs.ts";
 * const onBpffs = fsMagic("/sys/fs/bpf") === BPF_FS_MAGIC;
 * ```
 */
export const BPF_FS_MAGIC = 0xcafe4a11;
/** `sizeof(struct statfs)` on x86-64 and aarch64 glibc (f_type, a long, is first). */
const STATFS_SIZE = 120;

/**
 * The filesystem magic (`statfs.f_type`) of the filesystem holding `path`.
 *
 * @example
 * ```ts
 * import { BPF_FS_MAGIC, fsMagic } from "./bpffs.ts";
 * fsMagic("/sys/fs/bpf") === BPF_FS_MAGIC; // true when bpffs is mounted there
 * ```
 */
export function fsMagic(path: string): number {
  const buf = new Uint8Array(STATFS_SIZE + 8);
  libcInt("statfs", () => libc().statfs(cString(path), buf), { detail: path });
  return Number(new DataView(buf.buffer).getBigInt64(0, true));
}

/**
 * Mount points of bpffs in this mount namespace (from /proc/self/mounts).
 *
 * @example
 * ```ts
 * import { bpffsMounts } from "./bpffs.ts";
 * bpffsMounts(); // ["/sys/fs/bpf"]
 * ```
 */
export function bpffsMounts(): string[] {
  return parseMounts(Deno.readTextFileSync("/proc/self/mounts"))
    .filter((m) => m.fstype === "bpf")
    .map((m) => m.mountPoint);
}

/**
 * Parses /proc/self/mounts text (octal escapes such as `\040` decoded).
 *
 * @example
 * ```ts
 * import { parseMounts } from "./bpffs.ts";
 * parseMounts("bpf /sys/fs/bpf bpf rw 0 0\n"); // [{ mountPoint: "/sys/fs/bpf", fstype: "bpf" }]
 * ```
 */
export function parseMounts(text: string): Array<{ mountPoint: string; fstype: string }> {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: Array<{ mountPoint: string; fstype: string }> = [];
  for (const line of text.split("\n")) {
    const [, mountPoint, fstype] = line.split(" ");
    if (mountPoint !== undefined && fstype !== undefined) {
      out.push({ mountPoint: unescape(mountPoint), fstype });
    }
  }
  return out;
}

/** `path` made absolute with symlinks of its longest existing prefix resolved. */
function canonical(path: string): string {
  const abs = resolve(path);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      const real = Deno.realPathSync(cur);
      return rest.length === 0 ? real : resolve(real, ...rest.reverse());
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const parent = dirname(cur);
      if (parent === cur) return abs;
      rest.push(cur.slice(parent === "/" ? 1 : parent.length + 1));
      cur = parent;
    }
  }
}

function nearestExisting(path: string): string {
  let cur = path;
  for (;;) {
    try {
      Deno.statSync(cur);
      return cur;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const parent = dirname(cur);
      if (parent === cur) return cur;
      cur = parent;
    }
  }
}

/**
 * Checks that `dir` is below a mounted bpffs (not its root) and creates it (and its parents) if
 * needed. Returns the canonical path. Throws an Error otherwise.
 *
 * @example
 * ```ts
 * import { ensureBpffsDir } from "./bpffs.ts";
 * const dir = ensureBpffsDir("/sys/fs/bpf/tsn-proxy");
 * ```
 */
export function ensureBpffsDir(dir: string, options: { mode?: number } = {}): string {
  const path = canonical(dir);
  const existing = nearestExisting(path);
  if (fsMagic(existing) !== BPF_FS_MAGIC) {
    throw new Error(`${dir}: not on a mounted bpffs (${existing} is not bpffs)`);
  }
  if (bpffsMounts().includes(path)) {
    throw new Error(`${dir}: refusing the bpffs mount root itself; use a directory below it`);
  }
  Deno.mkdirSync(path, { recursive: true, mode: options.mode ?? 0o700 });
  if (!Deno.statSync(path).isDirectory) throw new Error(`${dir}: not a directory`);
  return path;
}

/**
 * Removes a pin (any bpffs file); false if it did not exist.
 *
 * @example
 * ```ts
 * import { unpin } from "./bpffs.ts";
 * unpin("/sys/fs/bpf/tsn-proxy/tsn_records");
 * ```
 */
export function unpin(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Removes a pin directory and every pin below it (releasing the pinned objects no process holds).
 * Refuses anything that is not below a bpffs mount. No error if it does not exist.
 *
 * @example
 * ```ts
 * import { removeBpffsDir } from "./bpffs.ts";
 * removeBpffsDir("/sys/fs/bpf/tsn-test-1234");
 * ```
 */
export function removeBpffsDir(dir: string): void {
  const path = canonical(dir);
  const mounts = bpffsMounts();
  if (!mounts.some((m) => path.startsWith(m.endsWith("/") ? m : m + "/"))) {
    throw new Error(`${dir}: not below a bpffs mount`);
  }
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
