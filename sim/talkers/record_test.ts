import { assertEquals, assertThrows } from "../testing.ts";
import {
  decodeRecord,
  encodeRecord,
  encodeRecordStream,
  RECORD_MAGIC,
  RECORD_SIZE,
  type TalkerRecord,
} from "./record.ts";

Deno.test("record: layout is the documented 32 bytes, little endian", () => {
  const bytes = encodeRecord({
    pod: 0x01020304,
    seq: 7,
    priority: 5,
    txtime: 0x1122334455667788n,
    clock: "tai",
  });
  assertEquals(bytes.length, RECORD_SIZE);
  assertEquals(new TextDecoder().decode(bytes.subarray(0, 4)), "TSNP");
  assertEquals([...bytes.subarray(4, 8)], [4, 3, 2, 1]);
  assertEquals([...bytes.subarray(8, 12)], [7, 0, 0, 0]);
  assertEquals([...bytes.subarray(12, 16)], [5, 0, 0, 0]);
  assertEquals([...bytes.subarray(16, 24)], [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
  assertEquals(bytes[24], 2);
  assertEquals([...bytes.subarray(25)], [0, 0, 0, 0, 0, 0, 0]);
  assertEquals(new DataView(bytes.buffer).getUint32(0, true), RECORD_MAGIC);
});

Deno.test("record: round trip for every clock", () => {
  const cases: TalkerRecord[] = [
    { pod: 1, seq: 0, priority: 0, txtime: 0n, clock: "none" },
    { pod: 2, seq: 199, priority: 3, txtime: 723_732_007_816n, clock: "mono" },
    {
      pod: 0xffffffff,
      seq: 0xffffffff,
      priority: 7,
      txtime: 1_795_678_728_179_460_257n,
      clock: "tai",
    },
  ];
  for (const r of cases) assertEquals(decodeRecord(encodeRecord(r)), r);
});

Deno.test("record: encode at an offset leaves the rest alone", () => {
  const buf = new Uint8Array(RECORD_SIZE + 8).fill(0xee);
  encodeRecord({ pod: 1, seq: 2, priority: 3, txtime: 0n, clock: "none" }, buf, 4);
  assertEquals([...buf.subarray(0, 4)], [0xee, 0xee, 0xee, 0xee]);
  assertEquals([...buf.subarray(36)], [0xee, 0xee, 0xee, 0xee]);
  assertEquals(decodeRecord(buf, 4).seq, 2);
});

Deno.test("record: rejects bad input", () => {
  assertThrows(() => decodeRecord(new Uint8Array(31)), RangeError);
  assertThrows(() => decodeRecord(new Uint8Array(32)), Error, "bad magic");
  const bad = encodeRecord({ pod: 1, seq: 0, priority: 0, txtime: 0n, clock: "none" });
  bad[24] = 9;
  assertThrows(() => decodeRecord(bad), Error, "unknown clock");
  assertThrows(
    () => encodeRecord({ pod: 1, seq: 0, priority: 0, txtime: 5n, clock: "none" }),
    RangeError,
  );
  assertThrows(
    () =>
      encodeRecord({ pod: 1, seq: 0, priority: 0, txtime: 0n, clock: "none" }, new Uint8Array(8)),
    RangeError,
  );
});

Deno.test("record: stream is count records with consecutive seqs", () => {
  const s = encodeRecordStream(4, 6, 5, 10);
  assertEquals(s.length, 5 * RECORD_SIZE);
  for (let i = 0; i < 5; i++) {
    assertEquals(decodeRecord(s, i * RECORD_SIZE), {
      pod: 4,
      seq: 10 + i,
      priority: 6,
      txtime: 0n,
      clock: "none",
    });
  }
});
