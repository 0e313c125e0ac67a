import { deepStrictEqual, equal } from "node:assert/strict";
import { decodeCharArray, decodeMapInfo } from "./map.ts";

Deno.test("decodeMapInfo() reads struct bpf_map_info's leading fields", () => {
  const raw = new Uint8Array(128);
  const v = new DataView(raw.buffer);
  [9, 45, 8, 40, 65536, 0].forEach((x, i) => v.setUint32(i * 4, x, true));
  raw.set(new TextEncoder().encode("tsn_records"), 24);
  deepStrictEqual(decodeMapInfo(raw), {
    type: 9,
    id: 45,
    keySize: 8,
    valueSize: 40,
    maxEntries: 65536,
    flags: 0,
    name: "tsn_records",
  });
});

Deno.test("decodeCharArray() stops at NUL and at the array end", () => {
  equal(decodeCharArray(new Uint8Array([120, 0, 121]), 0, 3), "x");
  equal(decodeCharArray(new TextEncoder().encode("abcdef"), 2, 3), "cde");
});
