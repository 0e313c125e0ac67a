/**
 * @module
 * A minimal writer (and reader, for tests) of the `newc` cpio format the kernel unpacks as an
 * initramfs, plus gzip. Entries are written as given, with mtime 0 and uid/gid 0, so the same
 * entries always give the same bytes. Creating device nodes needs no privileges here.
 *
 * @example
 * ```ts
 * import { cpioNewc, readNewc } from "./cpio.ts";
 * const archive = cpioNewc([{ type: "dir", path: "bin", mode: 0o755 }]);
 * console.log(readNewc(archive).map((e) => e.path)); // ["bin"]
 * ```
 */

/** One archive member. Paths are relative (no leading slash). */
export type CpioEntry =
  | { readonly type: "dir"; readonly path: string; readonly mode: number }
  | {
    readonly type: "file";
    readonly path: string;
    readonly mode: number;
    readonly data: Uint8Array;
  }
  | { readonly type: "symlink"; readonly path: string; readonly target: string }
  | {
    readonly type: "char";
    readonly path: string;
    readonly mode: number;
    readonly major: number;
    readonly minor: number;
  };

const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFLNK = 0o120000, S_IFCHR = 0o020000;
const TRAILER = "TRAILER!!!";
const enc = new TextEncoder();

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new Error(`cpio field out of range: ${n}`);
  }
  return n.toString(16).padStart(8, "0");
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Serialises entries as a newc archive ending with the TRAILER!!! record. */
export function cpioNewc(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Every record starts 4-aligned; header+name and data are each padded to 4 bytes.
  const push = (b: Uint8Array) => {
    chunks.push(b);
    total += b.length;
    const p = pad4(total);
    if (p) {
      chunks.push(new Uint8Array(p));
      total += p;
    }
  };
  const record = (
    ino: number,
    name: string,
    mode: number,
    nlink: number,
    data: Uint8Array,
    rdev: readonly [number, number] = [0, 0],
  ) => {
    const nameBytes = enc.encode(`${name}\0`);
    const fields = [
      ino,
      mode,
      0, // uid
      0, // gid
      nlink,
      0, // mtime
      data.length,
      0, // devmajor
      0, // devminor
      rdev[0],
      rdev[1],
      nameBytes.length,
      0, // check
    ];
    const header = enc.encode(`070701${fields.map(hex8).join("")}`);
    const head = new Uint8Array(header.length + nameBytes.length);
    head.set(header);
    head.set(nameBytes, header.length);
    push(head);
    if (data.length) push(data);
  };
  const seen = new Set<string>();
  let ino = 1;
  for (const e of entries) {
    if (e.path.startsWith("/") || e.path === "" || e.path.split("/").includes("..")) {
      throw new Error(`bad cpio path: ${JSON.stringify(e.path)}`);
    }
    if (seen.has(e.path)) throw new Error(`duplicate cpio path: ${e.path}`);
    seen.add(e.path);
    switch (e.type) {
      case "dir":
        record(ino++, e.path, S_IFDIR | (e.mode & 0o7777), 2, new Uint8Array());
        break;
      case "file":
        record(ino++, e.path, S_IFREG | (e.mode & 0o7777), 1, e.data);
        break;
      case "symlink":
        record(ino++, e.path, S_IFLNK | 0o777, 1, enc.encode(e.target));
        break;
      case "char":
        record(ino++, e.path, S_IFCHR | (e.mode & 0o7777), 1, new Uint8Array(), [e.major, e.minor]);
        break;
    }
  }
  record(0, TRAILER, 0, 1, new Uint8Array());
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** A member as read back by {@link readNewc}. */
export interface CpioMember {
  readonly path: string;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
}

/** Reads a newc archive (stops at TRAILER!!!); used by tests to check what was written. */
export function readNewc(archive: Uint8Array): CpioMember[] {
  const dec = new TextDecoder();
  const out: CpioMember[] = [];
  let off = 0;
  for (;;) {
    if (off + 110 > archive.length) throw new Error("truncated cpio header");
    const header = dec.decode(archive.subarray(off, off + 110));
    if (!header.startsWith("070701")) throw new Error(`bad cpio magic at ${off}`);
    const field = (i: number) => parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
    const mode = field(1), size = field(6), nameSize = field(11);
    const name = dec.decode(archive.subarray(off + 110, off + 110 + nameSize - 1));
    off += 110 + nameSize;
    off += pad4(off);
    const data = archive.subarray(off, off + size);
    off += size;
    off += pad4(off);
    if (name === TRAILER) return out;
    out.push({ path: name, mode, data, rdevMajor: field(9), rdevMinor: field(10) });
  }
}

/** gzip (RFC 1952) through the web CompressionStream. */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** gunzip, for tests. */
export async function gunzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
