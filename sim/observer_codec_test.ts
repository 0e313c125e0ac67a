import * as gen from "./bpf/gen/observer.ts";
import {
  decodeObserverExpect,
  decodeObserverKey,
  decodeObserverStats,
  emptyObserverStats,
  encodeObserverExpect,
  encodeObserverKey,
  fromBpftoolBytes,
  OBSERVER_COUNTERS,
  OBSERVER_EXPECT_SIZE,
  OBSERVER_KEY_SIZE,
  OBSERVER_STATS_SIZE,
  toBpftoolHex,
} from "./observer_codec.ts";
import { encodeRecord, RECORD_SIZE } from "./talkers/record.ts";
import { assertEquals, assertThrows } from "./testing.ts";

Deno.test("observer codec: key is the port, host order (little endian)", () => {
  assertEquals([...encodeObserverKey(41000)], [0x28, 0xa0]);
  assertEquals(decodeObserverKey(encodeObserverKey(4789)), 4789);
  assertThrows(() => encodeObserverKey(65536), RangeError);
  assertThrows(() => decodeObserverKey(new Uint8Array(4)), RangeError);
});

Deno.test("observer codec: expect round trip", () => {
  const v = { pod: 3, priority: 7, flags: 1 };
  const b = encodeObserverExpect(v);
  assertEquals([...b], [3, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0]);
  assertEquals(decodeObserverExpect(b), v);
});

Deno.test("observer codec: stats decode counters, last fields and last record", () => {
  const b = new Uint8Array(OBSERVER_STATS_SIZE);
  const d = new DataView(b.buffer);
  OBSERVER_COUNTERS.forEach((_, i) => d.setBigUint64(i * 8, BigInt(100 + i), true));
  const tail = OBSERVER_COUNTERS.length * 8;
  d.setBigUint64(tail, 5n, true);
  d.setBigUint64(tail + 8, 1_795_678_728_179_460_257n, true);
  d.setBigUint64(tail + 16, 2n, true);
  const rec = {
    pod: 1,
    seq: 9,
    priority: 5,
    txtime: 1_795_678_728_179_460_257n,
    clock: "tai" as const,
  };
  encodeRecord(rec, b, tail + 24);
  const s = decodeObserverStats(b);
  OBSERVER_COUNTERS.forEach((name, i) => assertEquals(s[name], 100 + i, name));
  assertEquals(s.lastPriority, 5);
  assertEquals(s.lastTstamp, 1_795_678_728_179_460_257n);
  assertEquals(s.lastTstampType, 2);
  assertEquals(s.lastRecord, rec);
  assertEquals(emptyObserverStats().lastRecord, null);
  assertEquals(emptyObserverStats().packets, 0);
  assertThrows(() => decodeObserverStats(new Uint8Array(OBSERVER_STATS_SIZE - 8)), RangeError);
});

Deno.test("observer codec: bpftool byte lists", () => {
  assertEquals([...fromBpftoolBytes(["0x0a", "0xff", "0x00"])], [10, 255, 0]);
  assertEquals(toBpftoolHex(new Uint8Array([10, 255, 0])), ["hex", "0a", "ff", "00"]);
  assertThrows(() => fromBpftoolBytes(["zz"]), Error);
});

Deno.test("observer codec: agrees with the generated bindings (sim/bpf/gen/observer.ts)", () => {
  assertEquals(gen.MAPS.observerStats.valueSize, OBSERVER_STATS_SIZE);
  assertEquals(gen.MAPS.observerPorts.valueSize, OBSERVER_EXPECT_SIZE);
  assertEquals(gen.MAPS.observerPorts.keySize, OBSERVER_KEY_SIZE);
  assertEquals(gen.ObserverRecord.size, RECORD_SIZE);
  assertEquals(gen.ObserverExpectFlags.OBSERVER_EXPECT_RECORD, 1);
  assertEquals(
    [...encodeObserverExpect({ pod: 3, priority: 7, flags: 1 })],
    [...gen.ObserverExpect.encode({ pod: 3, priority: 7, flags: 1 })],
  );
  assertEquals([...encodeObserverKey(41000)], [...gen.ObserverKey.encode({ port: 41000 })]);
  const value: gen.ObserverStats = {
    packets: 1n,
    payloadBytes: 2n,
    records: 3n,
    recordsBad: 4n,
    prioRight: 5n,
    prioZero: 6n,
    prioWrong: 7n,
    txtimeRight: 8n,
    txtimeMissing: 9n,
    txtimeWrong: 10n,
    typeWrong: 11n,
    tstampInvented: 12n,
    tstampMono: 13n,
    encapsulated: 14n,
    ipv6: 15n,
    lastPriority: 16n,
    lastTstamp: 1_795_678_728_179_460_257n,
    lastTstampType: 2n,
    lastRecord: {
      magic: 0x504e5354,
      pod: 1,
      seq: 2,
      priority: 3,
      txtime: 1_795_678_728_179_460_257n,
      clock: 2,
    },
  };
  const mine = decodeObserverStats(gen.ObserverStats.encode(value));
  OBSERVER_COUNTERS.forEach((name) => assertEquals(BigInt(mine[name]), value[name], name));
  assertEquals(mine.lastTstamp, value.lastTstamp);
  assertEquals(mine.lastTstampType, 2);
  assertEquals(mine.lastRecord, {
    pod: 1,
    seq: 2,
    priority: 3,
    txtime: value.lastTstamp,
    clock: "tai",
  });
});
