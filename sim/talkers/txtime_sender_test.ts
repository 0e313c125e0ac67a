import { assertEquals, assertThrows } from "../testing.ts";
import { parseIpv4 } from "./libc.ts";
import { parseSenderArgs } from "./txtime_sender.ts";

Deno.test("txtime_sender: parses the documented command line", () => {
  const a = parseSenderArgs([
    "--dst",
    "192.0.2.2",
    "--port",
    "41000",
    "--count",
    "200",
    "--priority",
    "5",
    "--clock",
    "tai",
    "--pod",
    "1",
    "--interval-us",
    "200",
  ]);
  assertEquals(a, {
    dst: "192.0.2.2",
    port: 41000,
    count: 200,
    priority: 5,
    clock: "tai",
    pod: 1,
    intervalUs: 200,
  });
  const d = parseSenderArgs([
    "--dst",
    "10.244.2.10",
    "--port",
    "1",
    "--count",
    "1",
    "--priority",
    "0",
    "--pod",
    "0",
  ]);
  assertEquals(d.clock, "none");
  assertEquals(d.intervalUs, 0);
  assertEquals(d.altPriority, undefined);
  const alt = parseSenderArgs([
    "--dst",
    "fd00:10:244:2::10",
    "--port",
    "1",
    "--count",
    "2",
    "--priority",
    "5",
    "--alt-priority",
    "3",
    "--pod",
    "0",
  ]);
  assertEquals([alt.dst, alt.priority, alt.altPriority], ["fd00:10:244:2::10", 5, 3]);
});

Deno.test("txtime_sender: rejects bad command lines", () => {
  const base = [
    "--dst",
    "192.0.2.2",
    "--port",
    "1",
    "--count",
    "1",
    "--priority",
    "0",
    "--pod",
    "1",
  ];
  assertThrows(() => parseSenderArgs(base.slice(2)), Error, "--dst");
  assertThrows(() => parseSenderArgs([...base, "--clock", "utc"]), Error, "--clock");
  assertThrows(() => parseSenderArgs([...base, "--count", "0"]), Error, "--count");
  assertThrows(() => parseSenderArgs([...base, "--port", "70000"]), Error, "--port");
  assertThrows(() => parseSenderArgs([...base, "--bogus", "1"]), Error, "unknown");
  assertThrows(() => parseSenderArgs([...base, "--pod"]), Error, "usage");
});

Deno.test("libc: parseIpv4 gives network-order bytes", () => {
  assertEquals([...parseIpv4("192.0.2.2")], [192, 0, 2, 2]);
  assertThrows(() => parseIpv4("192.0.2"), Error);
  assertThrows(() => parseIpv4("192.0.2.256"), Error);
  assertThrows(() => parseIpv4("a.b.c.d"), Error);
});
