import { deepStrictEqual, equal } from "node:assert/strict";
import {
  decodeProgInfo,
  decodeTestRunOpts,
  encodeTestRunOpts,
  TEST_RUN_OPTS_SIZE,
} from "./program.ts";

Deno.test("encodeTestRunOpts() lays out struct bpf_test_run_opts (80 bytes, sz first)", () => {
  const raw = encodeTestRunOpts({
    dataIn: 0x1122334455667788n,
    dataOut: 0x10n,
    dataSizeIn: 64,
    dataSizeOut: 320,
    ctxIn: 0x20n,
    ctxOut: 0x30n,
    ctxSizeIn: 192,
    ctxSizeOut: 193,
    repeat: 1000,
    flags: 2,
    cpu: 1,
    batchSize: 9,
  });
  equal(raw.length, TEST_RUN_OPTS_SIZE);
  const u8 = (n: number, len: number) =>
    Array.from({ length: len }, (_, i) => Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
  deepStrictEqual([...raw], [
    ...u8(80, 8), // size_t sz
    ...[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11], // const void *data_in
    ...u8(0x10, 8), // void *data_out
    ...u8(64, 4), // __u32 data_size_in
    ...u8(320, 4), // __u32 data_size_out
    ...u8(0x20, 8), // const void *ctx_in
    ...u8(0x30, 8), // void *ctx_out
    ...u8(192, 4), // __u32 ctx_size_in
    ...u8(193, 4), // __u32 ctx_size_out
    ...u8(0, 4), // __u32 retval (out)
    ...u8(1000, 4), // int repeat
    ...u8(0, 4), // __u32 duration (out)
    ...u8(2, 4), // __u32 flags
    ...u8(1, 4), // __u32 cpu
    ...u8(9, 4), // __u32 batch_size
  ]);
});

Deno.test("decodeTestRunOpts() reads retval, duration and the out sizes", () => {
  const raw = encodeTestRunOpts({ dataSizeOut: 70, ctxSizeOut: 12 });
  const v = new DataView(raw.buffer);
  v.setUint32(56, 0xffffffff, true);
  v.setUint32(64, 175, true);
  deepStrictEqual(decodeTestRunOpts(raw), {
    retval: 0xffffffff,
    durationNs: 175,
    dataSizeOut: 70,
    ctxSizeOut: 12,
  });
});

Deno.test("decodeProgInfo() reads type, id, tag and name", () => {
  const raw = new Uint8Array(512);
  const v = new DataView(raw.buffer);
  v.setUint32(0, 3, true);
  v.setUint32(4, 42, true);
  raw.set([0x43, 0x3d, 0xc8, 0xea, 0x9e, 0xde, 0xc9, 0x37], 8);
  raw.set(new TextEncoder().encode("tsn_saver"), 64);
  deepStrictEqual(decodeProgInfo(raw), {
    type: 3,
    id: 42,
    tag: "433dc8ea9edec937",
    name: "tsn_saver",
  });
});
