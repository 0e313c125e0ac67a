/**
 * A Unix stream listener that knows who is calling. Deno's `Deno.listen({transport: "unix"})`
 * gives no file descriptor and no peer credentials, so this one runs socket/bind/listen/accept,
 * read and write through libc (Deno FFI): each accepted connection carries the kernel's
 * `SO_PEERCRED` of its peer (uid/gid/pid translated into the agent's user and pid namespaces) and
 * the peer's user namespace, compared with the agent's own.
 *
 * Why a user namespace check beside uid 0: `SO_PEERCRED` maps the peer's uid into the agent's
 * namespace, so a root inside a user namespace whose 0 maps to an unprivileged uid (rootless
 * containers, Kubernetes `hostUsers: false`) shows up as that uid or as the overflow uid 65534,
 * never 0. A namespace that maps 0 to 0 is possible (only a host root can write that map); its
 * processes hold no capability in the host's namespace, and the agent refuses them too.
 *
 * The namespace comes from the peer's pidfd (`SO_PEERPIDFD`, Linux 6.5, and the pidfs ioctl
 * `PIDFD_GET_USER_NAMESPACE`, Linux 6.11), else from `/proc/<pid>/ns/user` when the peer's pid is
 * visible to the agent (a pid of 0 means it is not: an agent without `hostPID`); else it is
 * "unknown" and only the uid decides.
 *
 * Blocking calls (accept, read, write) run as nonblocking FFI calls on Deno's blocking threads;
 * a connection's reads and writes give up after {@link IO_TIMEOUT_MS} (`SO_RCVTIMEO`/`SO_SNDTIMEO`),
 * so a peer that connects and stays silent holds a thread for at most that long.
 *
 * @example
 * ```ts ignore
 * import { listenUnix } from "./peer_socket.ts";
 * const l = listenUnix("/var/run/tsn-proxy/cni.sock.tmp");
 * const conn = await l.accept();
 * console.log(conn?.peer.uid, conn?.userns);
 * l.close();
 * ```
 */

/** I/O timeout of an accepted connection. */
export const IO_TIMEOUT_MS = 10_000;

const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_PEERCRED = 17, SO_RCVTIMEO = 20, SO_SNDTIMEO = 21, SO_PEERPIDFD = 77;
const SHUT_RDWR = 2;
/** `_IO(PIDFS_IOCTL_MAGIC 0xFF, 9)` from linux/pidfs.h. */
const PIDFD_GET_USER_NAMESPACE = 0xff09n;
/** `sizeof(((struct sockaddr_un *)0)->sun_path)`. */
const SUN_PATH_MAX = 108;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: {
    parameters: ["i32", "pointer", "pointer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;
function libc() {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** The kernel's view of a peer (`struct ucred`), in the agent's namespaces. */
export interface PeerCred {
  /** 0 when the peer's process is not visible in the agent's pid namespace. */
  readonly pid: number;
  /** 65534 (overflow) when the peer's uid has no mapping in the agent's user namespace. */
  readonly uid: number;
  readonly gid: number;
}

/** Whether the peer runs in the agent's user namespace. */
export type UsernsMatch = "same" | "foreign" | "unknown";

/** An accepted connection. */
export interface PeerConn {
  readonly peer: PeerCred;
  readonly userns: UsernsMatch;
  /** Bytes read into p; null at end of stream. Throws on errors and after the I/O timeout. */
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** A listening socket. */
export interface PeerListener {
  /** The next connection; null once the listener is closed. */
  accept(): Promise<PeerConn | null>;
  close(): void;
}

function sockaddr(path: string): Uint8Array {
  const p = new TextEncoder().encode(path);
  if (p.length >= SUN_PATH_MAX) {
    throw new Error(`socket path too long (${p.length} bytes): ${path}`);
  }
  const a = new Uint8Array(2 + p.length + 1);
  new DataView(a.buffer).setUint16(0, AF_UNIX, true);
  a.set(p, 2);
  return a;
}

function peerCred(fd: number): PeerCred {
  const buf = new Uint8Array(12), len = new Uint32Array([12]);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, new Uint8Array(len.buffer)) !== 0) {
    throw new Error("getsockopt(SO_PEERCRED) failed");
  }
  const v = new DataView(buf.buffer);
  return { pid: v.getInt32(0, true), uid: v.getUint32(4, true), gid: v.getUint32(8, true) };
}

function sameFile(a: string, b: string): boolean {
  const x = Deno.statSync(a), y = Deno.statSync(b);
  return x.dev === y.dev && x.ino !== null && x.ino === y.ino;
}

/** The peer's user namespace through its pidfd, else /proc/<pid>; "unknown" when neither works. */
function peerUserns(fd: number, pid: number): UsernsMatch {
  const c = libc();
  const buf = new Int32Array(1), len = new Uint32Array([4]);
  if (
    c.getsockopt(
      fd,
      SOL_SOCKET,
      SO_PEERPIDFD,
      new Uint8Array(buf.buffer),
      new Uint8Array(len.buffer),
    ) === 0
  ) {
    const pidfd = buf[0]!;
    try {
      const nsfd = c.ioctl(pidfd, PIDFD_GET_USER_NAMESPACE, 0n);
      if (nsfd >= 0) {
        try {
          return sameFile(`/proc/self/fd/${nsfd}`, "/proc/self/ns/user") ? "same" : "foreign";
        } finally {
          c.close(nsfd);
        }
      }
    } finally {
      c.close(pidfd);
    }
  }
  if (pid > 0) {
    try {
      return sameFile(`/proc/${pid}/ns/user`, "/proc/self/ns/user") ? "same" : "foreign";
    } catch { /* gone, or not ours to read */ }
  }
  return "unknown";
}

function setTimeouts(fd: number, ms: number): void {
  const tv = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1000)]);
  const b = new Uint8Array(tv.buffer);
  libc().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, b, 16);
  libc().setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, b, 16);
}

function wrap(fd: number): PeerConn {
  const c = libc();
  let closed = false;
  let peer: PeerCred, userns: UsernsMatch;
  try {
    setTimeouts(fd, IO_TIMEOUT_MS);
    peer = peerCred(fd);
    userns = peerUserns(fd, peer.pid);
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return {
    peer,
    userns,
    async read(p) {
      if (closed) throw new Error("connection closed");
      const n = Number(await c.read(fd, p, BigInt(p.length)));
      if (n < 0) throw new Error("read failed or timed out");
      return n === 0 ? null : n;
    },
    async write(p) {
      if (closed) throw new Error("connection closed");
      const n = Number(await c.write(fd, p, BigInt(p.length)));
      if (n < 0) throw new Error("write failed or timed out");
      return n;
    },
    close() {
      if (!closed) c.close(fd);
      closed = true;
    },
  };
}

/** Binds and listens on path (which must not exist). */
export function listenUnix(path: string, backlog = 128): PeerListener {
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("socket(AF_UNIX) failed");
  const addr = sockaddr(path);
  if (c.bind(fd, addr, addr.length) !== 0 || c.listen(fd, backlog) !== 0) {
    c.close(fd);
    throw new Error(`cannot listen on ${path} (bind or listen failed)`);
  }
  // close() only shuts the socket down while an accept() runs on a blocking thread; that
  // accept() then returns and closes the fd, so the number is never reused under it.
  let closed = false, accepting = false, released = false;
  const release = () => {
    if (!released) c.close(fd);
    released = true;
  };
  return {
    async accept() {
      // accept() fails when interrupted or when the process is out of fds: retry (with a pause)
      // until the listener is closed; shutdown() in close() makes a pending accept() return.
      accepting = true;
      try {
        while (!closed) {
          const conn = await c.accept4(fd, null, null, SOCK_CLOEXEC);
          if (closed) {
            if (conn >= 0) c.close(conn);
            break;
          }
          if (conn >= 0) {
            try {
              return wrap(conn);
            } catch { /* the peer went away between accept and getsockopt */ }
          } else {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        return null;
      } finally {
        accepting = false;
        if (closed) release();
      }
    },
    close() {
      if (closed) return;
      closed = true;
      c.shutdown(fd, SHUT_RDWR);
      if (!accepting) release();
    },
  };
}
