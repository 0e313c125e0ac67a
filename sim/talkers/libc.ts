/**
 * The few libc calls a timed UDP talker needs, through Deno FFI (x86-64 Linux layouts). All calls
 * are synchronous, so errno is read on the thread that made the call.
 *
 * @module
 */

/** Linux constants used by the talkers. */
export const LINUX = {
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  IPPROTO_RAW: 255,
  SOL_SOCKET: 1,
  SO_PRIORITY: 12,
  SO_TXTIME: 61,
  SCM_TXTIME: 61,
  ECONNREFUSED: 111,
  ENOBUFS: 105,
  EAGAIN: 11,
} as const;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** Raised by a failed libc call, with its errno. */
export class ErrnoError extends Error {
  /** @param call the function; @param errno its errno. */
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: errno ${errno}`);
    this.name = "ErrnoError";
  }
}

/** The address of a buffer as a u64, for pointers stored inside other structs. */
export function addressOf(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>)));
}

/** How a {@linkcode TxtimeSocket} sends: UDP datagrams, or whole IP packets it writes itself. */
export type SocketKind = "udp" | "raw";

/**
 * A UDP socket with SO_PRIORITY and optional SO_TXTIME, sending one record per datagram; or, with
 * kind "raw", an IPPROTO_RAW socket whose payload is the whole IP packet, as applications with
 * their own IP stack send. The family follows `dst`: AF_INET for a dotted address, AF_INET6 for an
 * IPv6 one (an AF_INET6 IPPROTO_RAW socket implies IPV6_HDRINCL: the kernel adds nothing to the
 * header, not even the source address or the payload length).
 */
export class TxtimeSocket {
  #lib = Deno.dlopen("libc.so.6", SYMBOLS);
  #fd: number;
  #ts = new Uint8Array(16);
  #payload: Uint8Array;
  #iov = new Uint8Array(16);
  #control = new Uint8Array(24); // CMSG_SPACE(8): cmsghdr (16) + u64
  #msg = new Uint8Array(56); // struct msghdr
  #closed = false;

  /**
   * Opens, configures and connects the socket.
   * @param clockid SO_TXTIME clock (1 MONOTONIC, 11 TAI), or null for no SO_TXTIME.
   */
  constructor(
    dst: string,
    port: number,
    priority: number,
    clockid: number | null,
    size: number,
    kind: SocketKind = "udp",
  ) {
    const s = this.#lib.symbols;
    this.#payload = new Uint8Array(size);
    const sa = sockaddr(dst, port);
    const family = sa.length === 16 ? LINUX.AF_INET : LINUX.AF_INET6;
    this.#fd = kind === "raw"
      ? s.socket(family, LINUX.SOCK_RAW, LINUX.IPPROTO_RAW)
      : s.socket(family, LINUX.SOCK_DGRAM, 0);
    if (this.#fd < 0) this.#fail("socket");
    try {
      this.setPriority(priority);
      if (clockid !== null) {
        // struct sock_txtime { clockid_t clockid; __u32 flags; }
        const txt = new Uint8Array(8);
        new DataView(txt.buffer).setInt32(0, clockid, true);
        if (s.setsockopt(this.#fd, LINUX.SOL_SOCKET, LINUX.SO_TXTIME, txt, 8) < 0) {
          this.#fail("setsockopt(SO_TXTIME)");
        }
      }
      if (s.connect(this.#fd, sa, sa.length) < 0) this.#fail("connect");
    } catch (e) {
      this.close();
      throw e;
    }
    // struct iovec { void *base; size_t len; }
    const iv = new DataView(this.#iov.buffer);
    iv.setBigUint64(0, addressOf(this.#payload), true);
    iv.setBigUint64(8, BigInt(size), true);
    // struct msghdr { name, namelen(+pad), iov, iovlen, control, controllen, flags(+pad) }
    const mv = new DataView(this.#msg.buffer);
    mv.setBigUint64(16, addressOf(this.#iov), true);
    mv.setBigUint64(24, 1n, true);
    // struct cmsghdr { size_t len; int level; int type; } + u64 txtime
    const cv = new DataView(this.#control.buffer);
    cv.setBigUint64(0, 24n, true); // CMSG_LEN(8)
    cv.setInt32(8, LINUX.SOL_SOCKET, true);
    cv.setInt32(12, LINUX.SCM_TXTIME, true);
  }

  #errno(): number {
    const p = this.#lib.symbols.__errno_location();
    return p === null ? -1 : new Deno.UnsafePointerView(p).getInt32();
  }

  #fail(call: string): never {
    throw new ErrnoError(call, this.#errno());
  }

  /** The buffer whose contents the next send() transmits (fill it in place). */
  get payload(): Uint8Array {
    return this.#payload;
  }

  /** Sets SO_PRIORITY for the datagrams sent from now on. */
  setPriority(priority: number): void {
    const prio = new Uint8Array(4);
    new DataView(prio.buffer).setInt32(0, priority, true);
    const s = this.#lib.symbols;
    if (s.setsockopt(this.#fd, LINUX.SOL_SOCKET, LINUX.SO_PRIORITY, prio, 4) < 0) {
      this.#fail("setsockopt(SO_PRIORITY)");
    }
  }

  /** Now on clockid, in ns. */
  now(clockid: number): bigint {
    if (this.#lib.symbols.clock_gettime(clockid, this.#ts) < 0) this.#fail("clock_gettime");
    const v = new DataView(this.#ts.buffer);
    return v.getBigInt64(0, true) * 1_000_000_000n + v.getBigInt64(8, true);
  }

  /** Sends the payload, with an SCM_TXTIME cmsg when txtime is not null; returns 0 or errno. */
  send(txtime: bigint | null): number {
    const mv = new DataView(this.#msg.buffer);
    if (txtime === null) {
      mv.setBigUint64(32, 0n, true);
      mv.setBigUint64(40, 0n, true);
    } else {
      new DataView(this.#control.buffer).setBigUint64(16, txtime, true);
      mv.setBigUint64(32, addressOf(this.#control), true);
      mv.setBigUint64(40, BigInt(this.#control.length), true);
    }
    const n = Number(this.#lib.symbols.sendmsg(this.#fd, this.#msg, 0));
    return n < 0 ? this.#errno() : 0;
  }

  /** Closes the socket and the library. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#fd >= 0) this.#lib.symbols.close(this.#fd);
    this.#lib.close();
  }
}

/**
 * struct sockaddr_in (16 bytes) for a dotted IPv4 address, struct sockaddr_in6 (28 bytes: family,
 * port, flowinfo 0, address, scope 0) for an IPv6 one: family in host order, port and address in
 * network order.
 */
export function sockaddr(ip: string, port: number): Uint8Array {
  const v6 = ip.includes(":");
  const sa = new Uint8Array(v6 ? 28 : 16);
  const sv = new DataView(sa.buffer);
  sv.setUint16(0, v6 ? LINUX.AF_INET6 : LINUX.AF_INET, true);
  sv.setUint16(2, port, false);
  if (v6) sa.set(parseIpv6(ip), 8);
  else sa.set(parseIpv4(ip), 4);
  return sa;
}

/**
 * The 16 network-order bytes of an IPv6 address in hex-group form (one `::` allowed, no zone, no
 * dotted tail); throws on anything else.
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "./libc.ts";
 * console.log(parseIpv6("fd00:10:244:1::10")[15]); // 16
 * ```
 */
export function parseIpv6(ip: string): Uint8Array {
  const halves = ip.split("::");
  const groups = (h: string | undefined) => (h ? h.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  const ok = halves.length <= 2 && (halves.length === 2 ? missing >= 1 : missing === 0) &&
    [...head, ...tail].every((g) => /^[0-9a-f]{1,4}$/i.test(g));
  if (!ok) throw new Error(`not an IPv6 address: ${ip}`);
  const words = [...head, ...Array<string>(Math.max(0, missing)).fill("0"), ...tail];
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint16(i * 2, Number.parseInt(w, 16)));
  return out;
}

/** The 4 network-order bytes of a dotted IPv4 address; throws on anything else. */
export function parseIpv4(ip: string): Uint8Array {
  const parts = ip.split(".");
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (bytes.length !== 4 || bytes.some((b) => !(b >= 0 && b <= 255))) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return new Uint8Array(bytes);
}
