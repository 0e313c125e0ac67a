import { deepStrictEqual, equal, match, throws } from "node:assert/strict";
import {
  decodeAttrs,
  decodeLink,
  decodeNlMessages,
  encodeAttrs,
  encodeGetLink,
  encodeNewNetkit,
  IFLA_NETKIT,
  NL,
  type NlAttr,
  nlError,
  podLinkVerdict,
} from "./rtnetlink.ts";

const u32At = (b: Uint8Array | undefined) =>
  new DataView(b!.buffer, b!.byteOffset).getUint32(0, true);
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

Deno.test("encodeAttrs: lengths, 4-byte padding, NLA_F_NESTED on nests", () => {
  const raw = encodeAttrs([
    { type: 3, str: "eth0" }, // 4 + 5 = 9 -> padded to 12
    { type: 2, nest: [{ type: 5, u32: 7 }] },
  ]);
  equal(raw.length, 12 + 4 + 8);
  const v = new DataView(raw.buffer);
  equal(v.getUint16(0, true), 9);
  equal(v.getUint16(2, true), 3);
  equal(v.getUint16(12, true), 12);
  equal(v.getUint16(14, true), 2 | NL.NLA_F_NESTED);
  const top = decodeAttrs(raw);
  equal(text(top.get(3)), "eth0\0");
  equal(u32At(decodeAttrs(top.get(2)!).get(5)), 7);
});

Deno.test("encodeNewNetkit: RTM_NEWLINK create|excl|ack, kind netkit, peer info, mode, scrub", () => {
  const msg = encodeNewNetkit(
    { name: "nk0", peerName: "eth0", peerNetnsFd: 9, mode: "l2", peerScrub: "none" },
    42,
  );
  const [m, ...rest] = decodeNlMessages(msg);
  deepStrictEqual(rest, []);
  equal(m!.type, NL.RTM_NEWLINK);
  equal(m!.seq, 42);
  equal(m!.flags, NL.F_REQUEST | NL.F_ACK | NL.F_CREATE | NL.F_EXCL);
  const top = decodeAttrs(m!.payload.subarray(16));
  equal(text(top.get(NL.IFLA_IFNAME)), "nk0\0");
  const info = decodeAttrs(top.get(NL.IFLA_LINKINFO)!);
  equal(text(info.get(NL.IFLA_INFO_KIND)), "netkit\0");
  const data = decodeAttrs(info.get(NL.IFLA_INFO_DATA)!);
  equal(u32At(data.get(IFLA_NETKIT.MODE)), 0); // NETKIT_L2
  equal(u32At(data.get(IFLA_NETKIT.POLICY)), 0); // NETKIT_PASS
  equal(u32At(data.get(IFLA_NETKIT.PEER_POLICY)), 0);
  equal(u32At(data.get(IFLA_NETKIT.PEER_SCRUB)), 0); // NETKIT_SCRUB_NONE
  equal(data.has(IFLA_NETKIT.SCRUB), false, "unset scrub is left to the kernel");
  // The peer: an ifinfomsg (16 bytes) and its own attributes, as rtnl_nla_parse_ifinfomsg wants.
  const peer = data.get(IFLA_NETKIT.PEER_INFO)!;
  const peerAttrs = decodeAttrs(peer.subarray(16));
  equal(text(peerAttrs.get(NL.IFLA_IFNAME)), "eth0\0");
  equal(u32At(peerAttrs.get(NL.IFLA_NET_NS_FD)), 9);
  // Defaults: l3 and no scrub attributes at all.
  const d2 = decodeAttrs(
    decodeAttrs(
      decodeAttrs(decodeNlMessages(encodeNewNetkit({ name: "a", peerName: "b" }, 1))[0]!.payload
        .subarray(16)).get(NL.IFLA_LINKINFO)!,
    ).get(NL.IFLA_INFO_DATA)!,
  );
  equal(u32At(d2.get(IFLA_NETKIT.MODE)), 1);
  deepStrictEqual([d2.has(IFLA_NETKIT.SCRUB), d2.has(IFLA_NETKIT.PEER_SCRUB)], [false, false]);
});

Deno.test("encodeGetLink: by index in the ifinfomsg, by name as IFLA_IFNAME", () => {
  const byIndex = decodeNlMessages(encodeGetLink({ ifindex: 7 }, 3))[0]!;
  equal(byIndex.type, NL.RTM_GETLINK);
  equal(new DataView(byIndex.payload.buffer, byIndex.payload.byteOffset).getInt32(4, true), 7);
  const byName = decodeNlMessages(encodeGetLink({ name: "eth0" }, 4))[0]!;
  equal(text(decodeAttrs(byName.payload.subarray(16)).get(NL.IFLA_IFNAME)), "eth0\0");
});

/** An RTM_NEWLINK payload as netkit_fill_info() writes it (PRIMARY is a u8). */
function netkitAnswer(ifindex: number, data: NlAttr[], kind = "netkit"): Uint8Array {
  const head = new Uint8Array(16);
  new DataView(head.buffer).setInt32(4, ifindex, true);
  const attrs = encodeAttrs([
    { type: NL.IFLA_IFNAME, str: "eth0" },
    {
      type: NL.IFLA_LINKINFO,
      nest: [{ type: NL.IFLA_INFO_KIND, str: kind }, { type: NL.IFLA_INFO_DATA, nest: data }],
    },
  ]);
  const out = new Uint8Array(16 + attrs.length);
  out.set(head);
  out.set(attrs, 16);
  return out;
}

Deno.test("decodeLink: a 6.12 netkit peer reports no scrub (undefined), a newer one reports it", () => {
  const base: NlAttr[] = [
    { type: IFLA_NETKIT.PRIMARY, bytes: new Uint8Array([0]) },
    { type: IFLA_NETKIT.POLICY, u32: 0 },
    { type: IFLA_NETKIT.PEER_POLICY, u32: 2 },
    { type: IFLA_NETKIT.MODE, u32: 1 },
  ];
  deepStrictEqual(decodeLink(netkitAnswer(5, base)), {
    ifindex: 5,
    name: "eth0",
    kind: "netkit",
    netkit: {
      primary: false,
      mode: "l3",
      policy: "pass",
      peerPolicy: "drop",
      scrub: undefined,
      peerScrub: undefined,
    },
  });
  const newer = decodeLink(netkitAnswer(6, [
    { type: IFLA_NETKIT.PRIMARY, bytes: new Uint8Array([1]) },
    { type: IFLA_NETKIT.MODE, u32: 0 },
    { type: IFLA_NETKIT.SCRUB, u32: 1 },
    { type: IFLA_NETKIT.PEER_SCRUB, u32: 0 },
  ]));
  deepStrictEqual(
    [newer.netkit?.primary, newer.netkit?.mode, newer.netkit?.scrub, newer.netkit?.peerScrub],
    [true, "l2", "default", "none"],
  );
  equal(
    decodeLink(netkitAnswer(7, [{ type: IFLA_NETKIT.MODE, u32: 9 }])).netkit?.mode,
    "unknown(9)",
  );
  const veth = decodeLink(netkitAnswer(8, [], "veth"));
  deepStrictEqual([veth.kind, veth.netkit], ["veth", undefined]);
});

Deno.test("decoders refuse truncated input; nlError reads an ACK and an errno", () => {
  throws(() => decodeNlMessages(new Uint8Array([40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
  throws(() => decodeAttrs(new Uint8Array([9, 0, 1, 0])), /bad attribute length/);
  throws(() => decodeLink(new Uint8Array(8)), /short ifinfomsg/);
  equal(nlError(new Uint8Array(20)), 0);
  const e = new Uint8Array(20);
  new DataView(e.buffer).setInt32(0, -17, true);
  equal(nlError(e), 17);
});

Deno.test("podLinkVerdict: only netkit scrub none without ip_forward's TOS update makes the saver unneeded", () => {
  const nk = (scrub: "none" | "default" | undefined, forwardUpdatesPriority = false) =>
    podLinkVerdict({
      ifindex: 2,
      name: "eth0",
      kind: "netkit",
      netkit: {
        primary: false,
        mode: "l3",
        policy: "pass",
        peerPolicy: "pass",
        scrub,
        peerScrub: undefined,
      },
    }, { forwardUpdatesPriority });
  deepStrictEqual([nk("none").saverNeeded, nk("none").netkit], [false, {
    mode: "l3",
    scrub: "none",
  }]);
  match(nk("none").reason, /not needed/);
  equal(nk("none", true).saverNeeded, true);
  match(nk("none", true).reason, /ip_forward\(\) sets it from the TOS/);
  equal(nk("default").saverNeeded, true);
  match(nk("default").reason, /scrub default/);
  equal(nk(undefined).saverNeeded, true);
  match(nk(undefined).reason, /not reported by this kernel/);
  const veth = podLinkVerdict({ ifindex: 3, name: "eth0", kind: "veth" });
  deepStrictEqual([veth.kind, veth.saverNeeded, veth.netkit], ["veth", true, undefined]);
});
