import { assertEquals, assertThrows } from "../testing.ts";
import { parseIpv6, sockaddr } from "./libc.ts";
import { parseRawSenderArgs, RAW_PACKET_SIZE_V6, rawDatagram, udp6Checksum } from "./raw_sender.ts";
import { decodeRecord } from "./record.ts";

const V6 = {
  dst: "2001:db8::2",
  src: "fd00:10:244:1::10",
  sport: 41000,
  dport: 41000,
  flowLabel: 0x1234,
  payloadPod: 3,
  payloadPriority: 0,
};

Deno.test("libc: parseIpv6 gives network-order bytes and refuses the rest", () => {
  assertEquals(
    [...parseIpv6("fd00:10:244:1::10")],
    [0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x10],
  );
  assertEquals([...parseIpv6("::")], new Array(16).fill(0));
  assertEquals(parseIpv6("ff15::7357")[15], 0x57);
  for (const bad of ["1::2::3", "1:2:3:4:5:6:7", "12345::", "fd00::g", "::1:2:3:4:5:6:7:8"]) {
    assertThrows(() => parseIpv6(bad), Error, "IPv6");
  }
});

Deno.test("libc: sockaddr is sockaddr_in or sockaddr_in6 by the address's form", () => {
  assertEquals([...sockaddr("192.0.2.2", 41000)].slice(0, 8), [2, 0, 0xa0, 0x28, 192, 0, 2, 2]);
  const sa6 = sockaddr("2001:db8::2", 41000);
  assertEquals(sa6.length, 28);
  assertEquals([...sa6.slice(0, 8)], [10, 0, 0xa0, 0x28, 0, 0, 0, 0]);
  assertEquals([...sa6.slice(8, 24)], [...parseIpv6("2001:db8::2")]);
});

Deno.test("raw_sender: an IPv6 datagram carries the flow label, both addresses and a valid checksum", () => {
  const p = rawDatagram(V6);
  const v = new DataView(p.buffer);
  assertEquals(p.length, RAW_PACKET_SIZE_V6);
  assertEquals(v.getUint32(0), 0x6000_0000 | 0x1234);
  assertEquals([v.getUint16(4), p[6], p[7]], [40, 17, 64]);
  assertEquals([...p.slice(8, 24)], [...parseIpv6(V6.src)]);
  assertEquals([...p.slice(24, 40)], [...parseIpv6(V6.dst)]);
  assertEquals([v.getUint16(40), v.getUint16(42), v.getUint16(44)], [41000, 41000, 40]);
  assertEquals(decodeRecord(p, 48).pod, 3);
  // The one's-complement sum over pseudo-header and datagram, checksum included, is 0xffff.
  const c = v.getUint16(46);
  v.setUint16(46, 0);
  assertEquals(udp6Checksum(p), c);
  // Another pod's datagram differs from the flow-label word on only in address and checksum.
  const q = rawDatagram({ ...V6, src: "fd00:10:244:1::11" });
  const differ = [...p.keys()].filter((i) => i !== 46 && i !== 47 && p[i] !== q[i]);
  assertEquals(differ, [23]);
});

Deno.test("raw_sender: command lines of both families", () => {
  const base = ["--sport", "1", "--dport", "2", "--count", "3", "--priority", "5"];
  const tail = ["--payload-pod", "1", "--payload-priority", "0"];
  const a6 = parseRawSenderArgs([
    "--dst",
    V6.dst,
    "--src",
    V6.src,
    "--flow-label",
    "4660",
    ...base,
    ...tail,
  ]);
  assertEquals([a6.src, a6.flowLabel, a6.ipId], [V6.src, 4660, undefined]);
  const a4 = parseRawSenderArgs(["--dst", "192.0.2.2", "--ip-id", "4660", ...base, ...tail]);
  assertEquals([a4.ipId, a4.flowLabel], [4660, undefined]);
  assertThrows(
    () => parseRawSenderArgs(["--dst", V6.dst, "--flow-label", "1", ...base, ...tail]),
    Error,
    "--src",
  );
  assertThrows(
    () =>
      parseRawSenderArgs([
        "--dst",
        "192.0.2.2",
        "--ip-id",
        "1",
        "--flow-label",
        "1",
        ...base,
        ...tail,
      ]),
    Error,
    "IPv6 only",
  );
  assertThrows(
    () =>
      parseRawSenderArgs([
        "--dst",
        V6.dst,
        "--src",
        V6.src,
        "--flow-label",
        "1048576",
        ...base,
        ...tail,
      ]),
    Error,
    "--flow-label",
  );
});
