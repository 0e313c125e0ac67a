/**
 * @module
 * A small rtnetlink client (AF_NETLINK, NETLINK_ROUTE) through libc FFI, for what Debian 12's
 * iproute2 (6.1) cannot do: create a netkit pair (`type netkit` came with iproute2 6.7) and read a
 * device's link kind and netkit settings (mode, policies, scrub). The encoders and the decoder are
 * pure functions over bytes; {@link rtnlRequest} sends one request in the calling thread's network
 * namespace (use `withNetns` for another one) and collects the kernel's answers.
 *
 * Scrub: `IFLA_NETKIT_SCRUB`/`IFLA_NETKIT_PEER_SCRUB` came with kernel commit 83134ef46093 (after
 * 6.12). An older kernel parses IFLA_INFO_DATA leniently (attributes above its maxtype are
 * ignored), so it accepts a request with "scrub none" and still scrubs; only a dump that reports
 * the attribute tells what the kernel does ({@link NetkitInfo.peerScrub} is undefined otherwise).
 */

import { libcInt } from "./call.ts";
import { cString, errno, libc } from "./ffi.ts";
import { BpfError } from "./errors.ts";

/** Netlink and rtnetlink numbers (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h). */
export const NL = {
  AF_NETLINK: 16,
  NETLINK_ROUTE: 0,
  NLMSG_ERROR: 2,
  NLMSG_DONE: 3,
  RTM_NEWLINK: 16,
  RTM_DELLINK: 17,
  RTM_GETLINK: 18,
  F_REQUEST: 0x1,
  F_ACK: 0x4,
  F_DUMP: 0x300,
  F_EXCL: 0x200,
  F_CREATE: 0x400,
  IFLA_IFNAME: 3,
  IFLA_LINKINFO: 18,
  IFLA_NET_NS_FD: 28,
  IFLA_INFO_KIND: 1,
  IFLA_INFO_DATA: 2,
  NLA_F_NESTED: 0x8000,
} as const;

/** `IFLA_NETKIT_*` attribute types (linux/if_link.h; SCRUB and PEER_SCRUB after 6.12). */
export const IFLA_NETKIT = {
  PEER_INFO: 1,
  PRIMARY: 2,
  POLICY: 3,
  PEER_POLICY: 4,
  MODE: 5,
  SCRUB: 6,
  PEER_SCRUB: 7,
} as const;

/** `enum netkit_mode`. */
export type NetkitMode = "l2" | "l3";
/** `enum netkit_action` as a default policy: what happens when no program decides. */
export type NetkitPolicy = "pass" | "drop";
/** `enum netkit_scrub`: `default` zeroes priority and mark on a netns crossing, `none` keeps them. */
export type NetkitScrub = "none" | "default";

const MODES: Record<NetkitMode, number> = { l2: 0, l3: 1 };
const POLICIES: Record<NetkitPolicy, number> = { pass: 0, drop: 2 };
const SCRUBS: Record<NetkitScrub, number> = { none: 0, default: 1 };

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const align4 = (n: number) => (n + 3) & ~3;

/** One netlink attribute to encode: a u32, a string (NUL-terminated), raw bytes or a nest. */
export type NlAttr =
  | { type: number; u32: number }
  | { type: number; str: string }
  | { type: number; bytes: Uint8Array }
  | { type: number; nest: readonly NlAttr[] };

/**
 * Encodes netlink attributes (each 4-byte aligned; nests carry NLA_F_NESTED).
 *
 * @example
 * ```ts
 * import { encodeAttrs, NL } from "./rtnetlink.ts";
 * encodeAttrs([{ type: NL.IFLA_IFNAME, str: "nk0" }]).length; // 8
 * ```
 */
export function encodeAttrs(attrs: readonly NlAttr[]): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  for (const a of attrs) {
    let body: Uint8Array;
    let type = a.type;
    if ("u32" in a) {
      body = new Uint8Array(4);
      new DataView(body.buffer).setUint32(0, a.u32, true);
    } else if ("str" in a) {
      body = new TextEncoder().encode(a.str + "\0");
    } else if ("bytes" in a) {
      body = a.bytes;
    } else {
      body = encodeAttrs(a.nest);
      type |= NL.NLA_F_NESTED;
    }
    const out = new Uint8Array(align4(4 + body.length));
    const v = new DataView(out.buffer);
    v.setUint16(0, 4 + body.length, true);
    v.setUint16(2, type, true);
    out.set(body, 4);
    parts.push(out);
  }
  return concat(parts);
}

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A `struct ifinfomsg` (AF_UNSPEC) with the given index, followed by attributes. */
function ifinfomsg(index: number, attrs: readonly NlAttr[]): Uint8Array<ArrayBuffer> {
  const head = new Uint8Array(IFINFOMSG_LEN);
  new DataView(head.buffer).setInt32(4, index, true);
  return concat([head, encodeAttrs(attrs)]);
}

/**
 * Wraps a payload in a `struct nlmsghdr`.
 *
 * @example
 * ```ts
 * import { encodeNlMessage, NL } from "./rtnetlink.ts";
 * const msg = encodeNlMessage(NL.RTM_GETLINK, NL.F_REQUEST, 1, new Uint8Array(16));
 * msg.length; // 32
 * ```
 */
export function encodeNlMessage(
  type: number,
  flags: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(NLMSG_HDRLEN + align4(payload.length));
  const v = new DataView(out.buffer);
  v.setUint32(0, NLMSG_HDRLEN + payload.length, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  out.set(payload, NLMSG_HDRLEN);
  return out;
}

/** What a netkit pair is created with. */
export interface NetkitSpec {
  /** The primary device's name (stays in the calling namespace: the node's side). */
  name: string;
  /** The peer's name (the pod's side). */
  peerName: string;
  /** An open fd of the peer's network namespace; default: the calling one. */
  peerNetnsFd?: number;
  /** Default l3 (the kernel's default). */
  mode?: NetkitMode;
  /** Default policy of the primary / the peer; default pass (the kernel's default). */
  policy?: NetkitPolicy;
  peerPolicy?: NetkitPolicy;
  /** Scrub settings; left out when undefined (a kernel without them ignores them anyway). */
  scrub?: NetkitScrub;
  peerScrub?: NetkitScrub;
}

/**
 * Encodes the RTM_NEWLINK request that creates a netkit pair (what `ip link add NAME type netkit
 * mode l3 peer name PEER netns NS` of iproute2 >= 6.7 sends).
 *
 * @example
 * ```ts
 * import { encodeNewNetkit } from "./rtnetlink.ts";
 * const msg = encodeNewNetkit({ name: "nk0", peerName: "eth0", mode: "l2" }, 1);
 * ```
 */
export function encodeNewNetkit(spec: NetkitSpec, seq: number): Uint8Array<ArrayBuffer> {
  const peerAttrs: NlAttr[] = [{ type: NL.IFLA_IFNAME, str: spec.peerName }];
  if (spec.peerNetnsFd !== undefined) {
    peerAttrs.push({ type: NL.IFLA_NET_NS_FD, u32: spec.peerNetnsFd });
  }
  const data: NlAttr[] = [
    { type: IFLA_NETKIT.PEER_INFO, bytes: ifinfomsg(0, peerAttrs) },
    { type: IFLA_NETKIT.MODE, u32: MODES[spec.mode ?? "l3"] },
    { type: IFLA_NETKIT.POLICY, u32: POLICIES[spec.policy ?? "pass"] },
    { type: IFLA_NETKIT.PEER_POLICY, u32: POLICIES[spec.peerPolicy ?? "pass"] },
  ];
  if (spec.scrub !== undefined) data.push({ type: IFLA_NETKIT.SCRUB, u32: SCRUBS[spec.scrub] });
  if (spec.peerScrub !== undefined) {
    data.push({ type: IFLA_NETKIT.PEER_SCRUB, u32: SCRUBS[spec.peerScrub] });
  }
  const payload = ifinfomsg(0, [
    { type: NL.IFLA_IFNAME, str: spec.name },
    {
      type: NL.IFLA_LINKINFO,
      nest: [{ type: NL.IFLA_INFO_KIND, str: "netkit" }, { type: NL.IFLA_INFO_DATA, nest: data }],
    },
  ]);
  return encodeNlMessage(
    NL.RTM_NEWLINK,
    NL.F_REQUEST | NL.F_ACK | NL.F_CREATE | NL.F_EXCL,
    seq,
    payload,
  );
}

/**
 * Encodes an RTM_GETLINK request for one device.
 *
 * @example
 * ```ts
 * import { encodeGetLink } from "./rtnetlink.ts";
 * const msg = encodeGetLink({ ifindex: 2 }, 1);
 * ```
 */
export function encodeGetLink(
  which: { ifindex: number } | { name: string },
  seq: number,
): Uint8Array<ArrayBuffer> {
  const payload = "ifindex" in which
    ? ifinfomsg(which.ifindex, [])
    : ifinfomsg(0, [{ type: NL.IFLA_IFNAME, str: which.name }]);
  return encodeNlMessage(NL.RTM_GETLINK, NL.F_REQUEST, seq, payload);
}

/**
 * Encodes an RTM_GETLINK dump request: every device of the namespace.
 *
 * @example
 * ```ts
 * import { encodeDumpLinks } from "./rtnetlink.ts";
 * const msg = encodeDumpLinks(1);
 * ```
 */
export function encodeDumpLinks(seq: number): Uint8Array<ArrayBuffer> {
  return encodeNlMessage(NL.RTM_GETLINK, NL.F_REQUEST | NL.F_DUMP, seq, ifinfomsg(0, []));
}

/** A decoded netlink message. */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  /** Bytes after the header. */
  payload: Uint8Array;
}

/**
 * Splits a buffer received from a netlink socket into messages.
 *
 * @example
 * ```ts
 * import { decodeNlMessages, encodeGetLink } from "./rtnetlink.ts";
 * decodeNlMessages(encodeGetLink({ ifindex: 2 }, 7))[0]?.seq; // 7
 * ```
 */
export function decodeNlMessages(buf: Uint8Array): NlMessage[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new Error(`netlink: bad message length ${len} at ${off} of ${buf.length}`);
    }
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/**
 * Splits attributes into type (NLA_F_NESTED and NLA_F_NET_BYTEORDER cleared) -> body; the first
 * of a repeated type wins.
 *
 * @example
 * ```ts
 * import { decodeAttrs, encodeAttrs } from "./rtnetlink.ts";
 * decodeAttrs(encodeAttrs([{ type: 5, u32: 1 }])).get(5)?.length; // 4
 * ```
 */
export function decodeAttrs(buf: Uint8Array): Map<number, Uint8Array> {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<number, Uint8Array>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > buf.length) {
      throw new Error(`netlink: bad attribute length ${len} at ${off} of ${buf.length}`);
    }
    const type = v.getUint16(off + 2, true) & 0x3fff;
    if (!out.has(type)) out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

const u32 = (b: Uint8Array | undefined) =>
  b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined;
const str = (b: Uint8Array | undefined) =>
  b ? new TextDecoder().decode(b).replace(/\0.*$/s, "") : undefined;

function byValue<T extends string>(table: Record<T, number>, v: number | undefined) {
  if (v === undefined) return undefined;
  return (Object.keys(table) as T[]).find((k) => table[k] === v) ?? (`unknown(${v})` as T);
}

/** A netkit device's settings as the kernel reports them (`netkit_fill_info`). */
export interface NetkitInfo {
  /** This side is the primary (the one created in the caller's namespace; bpf attach point). */
  primary: boolean;
  mode: NetkitMode | undefined;
  policy: NetkitPolicy | undefined;
  peerPolicy: NetkitPolicy | undefined;
  /** Undefined: the kernel does not report scrub (before 83134ef46093: it always scrubs). */
  scrub: NetkitScrub | undefined;
  peerScrub: NetkitScrub | undefined;
}

/** A link as RTM_NEWLINK (the answer to RTM_GETLINK) describes it. */
export interface LinkInfo {
  ifindex: number;
  name: string | undefined;
  /** IFLA_INFO_KIND ("veth", "netkit", "bridge", ...); undefined for devices without one. */
  kind: string | undefined;
  /** Present when kind is "netkit". */
  netkit?: NetkitInfo;
}

/**
 * Decodes the payload of an RTM_NEWLINK message (ifinfomsg + attributes).
 *
 * @example
 * ```ts
 * import { decodeLink } from "./rtnetlink.ts";
 * declare const payload: Uint8Array;
 * const link = decodeLink(payload);
 * if (link.netkit?.peerScrub === "none") console.log("priority survives");
 * ```
 */
export function decodeLink(payload: Uint8Array): LinkInfo {
  if (payload.length < IFINFOMSG_LEN) throw new Error("netlink: short ifinfomsg");
  const ifindex = new DataView(payload.buffer, payload.byteOffset, IFINFOMSG_LEN).getInt32(4, true);
  const attrs = decodeAttrs(payload.subarray(IFINFOMSG_LEN));
  const info = attrs.get(NL.IFLA_LINKINFO);
  const infoAttrs = info ? decodeAttrs(info) : new Map<number, Uint8Array>();
  const kind = str(infoAttrs.get(NL.IFLA_INFO_KIND));
  const link: LinkInfo = { ifindex, name: str(attrs.get(NL.IFLA_IFNAME)), kind };
  if (kind === "netkit") {
    const d = infoAttrs.get(NL.IFLA_INFO_DATA);
    const nk = d ? decodeAttrs(d) : new Map<number, Uint8Array>();
    link.netkit = {
      primary: (u32(nk.get(IFLA_NETKIT.PRIMARY)) ?? nk.get(IFLA_NETKIT.PRIMARY)?.[0] ?? 0) !== 0,
      mode: byValue(MODES, u32(nk.get(IFLA_NETKIT.MODE))),
      policy: byValue(POLICIES, u32(nk.get(IFLA_NETKIT.POLICY))),
      peerPolicy: byValue(POLICIES, u32(nk.get(IFLA_NETKIT.PEER_POLICY))),
      scrub: byValue(SCRUBS, u32(nk.get(IFLA_NETKIT.SCRUB))),
      peerScrub: byValue(SCRUBS, u32(nk.get(IFLA_NETKIT.PEER_SCRUB))),
    };
  }
  return link;
}

/**
 * The error an NLMSG_ERROR message carries: 0 for an ACK, else a positive errno.
 *
 * @example
 * ```ts
 * import { nlError } from "./rtnetlink.ts";
 * nlError(new Uint8Array(20)); // 0 (an ACK)
 * ```
 */
export function nlError(payload: Uint8Array): number {
  if (payload.length < 4) throw new Error("netlink: short NLMSG_ERROR");
  return -new DataView(payload.buffer, payload.byteOffset, 4).getInt32(0, true);
}

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
let nextSeq = 1;

/**
 * Sends one request on a fresh NETLINK_ROUTE socket in the calling thread's network namespace and
 * returns the answers up to the ACK / NLMSG_DONE, or the single answer of a plain GET. A kernel
 * error becomes a {@link BpfError} with its errno.
 *
 * @example
 * ```ts ignore
 * import { encodeGetLink, rtnlRequest } from "./rtnetlink.ts";
 * const answers = rtnlRequest((seq) => encodeGetLink({ name: "lo" }, seq), "get lo");
 * ```
 */
export function rtnlRequest(build: (seq: number) => Uint8Array, what: string): NlMessage[] {
  const seq = nextSeq++;
  const req = build(seq);
  const wantAck = (new DataView(req.buffer, req.byteOffset).getUint16(6, true) & NL.F_ACK) !== 0;
  const fd = libcInt(
    "socket(AF_NETLINK)",
    () => libc().socket(NL.AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NL.NETLINK_ROUTE),
    { detail: what },
  );
  try {
    const sent = Number(libc().send(fd, req as Uint8Array<ArrayBuffer>, BigInt(req.length), 0));
    if (sent !== req.length) throw new BpfError("send(netlink)", errno(), { detail: what });
    const out: NlMessage[] = [];
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 64; i++) {
      const n = Number(libc().recv(fd, buf, BigInt(buf.length), 0));
      if (n < 0) throw new BpfError("recv(netlink)", errno(), { detail: what });
      for (const m of decodeNlMessages(buf.slice(0, n))) {
        if (m.seq !== seq) continue;
        if (m.type === NL.NLMSG_ERROR) {
          const err = nlError(m.payload);
          if (err !== 0) throw new BpfError(`rtnetlink ${what}`, err, { detail: what });
          return out;
        }
        if (m.type === NL.NLMSG_DONE) return out;
        out.push(m);
        if (!wantAck && (m.flags & 0x2) === 0) return out; // not NLM_F_MULTI: the one answer
      }
    }
    throw new Error(`rtnetlink ${what}: no end of answer after 64 reads`);
  } finally {
    libc().close(fd);
  }
}

/**
 * Creates a netkit pair in the calling thread's namespace, the peer in `peerNetns` (a path such
 * as /run/netns/pod1) if given, else in the calling one.
 *
 * @example
 * ```ts ignore
 * import { createNetkit } from "./rtnetlink.ts";
 * createNetkit({ name: "nk0", peerName: "eth0", mode: "l2" }, "/run/netns/pod1");
 * ```
 */
export function createNetkit(spec: Omit<NetkitSpec, "peerNetnsFd">, peerNetns?: string): void {
  const what = `netkit ${spec.name}/${spec.peerName}`;
  const O_RDONLY_CLOEXEC = 0o2000000;
  const fd = peerNetns === undefined
    ? undefined
    : libcInt("open", () => libc().open(cString(peerNetns), O_RDONLY_CLOEXEC), {
      detail: peerNetns,
    });
  try {
    const full = fd === undefined ? spec : { ...spec, peerNetnsFd: fd };
    rtnlRequest((seq) => encodeNewNetkit(full, seq), what);
  } finally {
    if (fd !== undefined) libc().close(fd);
  }
}

/**
 * Deletes a device (and a pair's other end) by name in the calling thread's namespace.
 *
 * @example
 * ```ts ignore
 * import { deleteLink } from "./rtnetlink.ts";
 * deleteLink("nk0");
 * ```
 */
export function deleteLink(name: string): void {
  rtnlRequest(
    (seq) =>
      encodeNlMessage(
        NL.RTM_DELLINK,
        NL.F_REQUEST | NL.F_ACK,
        seq,
        ifinfomsg(0, [{ type: NL.IFLA_IFNAME, str: name }]),
      ),
    `delete link ${name}`,
  );
}

/**
 * Reads one device's link kind and netkit settings in the calling thread's namespace.
 *
 * @example
 * ```ts ignore
 * import { getLink } from "./rtnetlink.ts";
 * const eth0 = getLink({ name: "eth0" });
 * if (eth0.kind === "netkit") console.log(eth0.netkit);
 * ```
 */
export function getLink(which: { ifindex: number } | { name: string }): LinkInfo {
  const what = "ifindex" in which ? `ifindex ${which.ifindex}` : which.name;
  const answers = rtnlRequest((seq) => encodeGetLink(which, seq), `get link ${what}`);
  const m = answers.find((a) => a.type === NL.RTM_NEWLINK);
  if (!m) throw new Error(`rtnetlink get link ${what}: no answer`);
  return decodeLink(m.payload);
}

/**
 * Every device of the calling thread's namespace (sysfs would show the mounter's namespace).
 *
 * @example
 * ```ts ignore
 * import { listLinks } from "./rtnetlink.ts";
 * const netkits = listLinks().filter((l) => l.kind === "netkit");
 * ```
 */
export function listLinks(): LinkInfo[] {
  return rtnlRequest(encodeDumpLinks, "dump links")
    .filter((m) => m.type === NL.RTM_NEWLINK)
    .map((m) => decodeLink(m.payload));
}

/** Whether a pod still needs its saver, judged from its interface. */
export interface PodLinkVerdict {
  /** IFLA_INFO_KIND of the pod's device (null: none reported). */
  readonly kind: string | null;
  /** netkit mode and the scrub its own transmits get (null: the kernel does not say). */
  readonly netkit?: { readonly mode: string | null; readonly scrub: NetkitScrub | null };
  readonly saverNeeded: boolean;
  readonly reason: string;
}

/**
 * Judges a pod's own device (the pod side of the pair, read in the pod's netns): a netkit device
 * applies its own scrub setting in netkit_xmit() (netkit_prep_forward()); with scrub none the
 * kernel keeps priority and mark across the crossing. Every other case (veth, netkit with default
 * scrub, a kernel that does not report scrub) zeroes the priority. Even with scrub none,
 * ip_forward() sets the priority from the IP TOS when the node forwards the packet with
 * `net.ipv4.ip_forward_update_priority` = 1 (the default): pass `forwardUpdatesPriority` as the
 * node's setting (undefined: unknown, taken as 1).
 *
 * @example
 * ```ts
 * import { podLinkVerdict } from "./rtnetlink.ts";
 * podLinkVerdict({ ifindex: 2, name: "eth0", kind: "veth" }).saverNeeded; // true
 * ```
 */
export function podLinkVerdict(
  link: LinkInfo,
  opts: { forwardUpdatesPriority?: boolean } = {},
): PodLinkVerdict {
  const kind = link.kind ?? null;
  if (kind !== "netkit" || !link.netkit) {
    return {
      kind,
      saverNeeded: true,
      reason: `${kind ?? "the device"}: the crossing into the node zeroes the priority`,
    };
  }
  const scrub = link.netkit.scrub ?? null;
  const netkit = { mode: link.netkit.mode ?? null, scrub };
  if (scrub === "none" && opts.forwardUpdatesPriority === false) {
    return {
      kind,
      netkit,
      saverNeeded: false,
      reason: "netkit with scrub none and net.ipv4.ip_forward_update_priority 0: the kernel " +
        "keeps the priority; the saver is not needed",
    };
  }
  return {
    kind,
    netkit,
    saverNeeded: true,
    reason: scrub === "none"
      ? "netkit with scrub none keeps the priority, but ip_forward() sets it from the TOS " +
        "(net.ipv4.ip_forward_update_priority 1 or unknown) on routed paths; the saver is needed"
      : scrub === "default"
      ? "netkit with scrub default: netkit_xmit() zeroes the priority; the saver is needed"
      : "netkit scrub not reported by this kernel (before IFLA_NETKIT_SCRUB): netkit_xmit() " +
        "always zeroes the priority; the saver is needed",
  };
}
