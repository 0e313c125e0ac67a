import { deepStrictEqual, throws } from "node:assert/strict";
import { decodeBtfEnum } from "./btf_kernel.ts";

const names: Record<number, string> = { 1: "bpf_attach_type", 5: "A", 7: "B", 9: "C" };
const nameOf = (off: number) => names[off] ?? `?${off}`;

Deno.test("decodeBtfEnum() reads BTF_KIND_ENUM members (btf_enum: name_off, s32 val)", () => {
  const raw = new Uint8Array(new Uint32Array([1, (6 << 24) | 2, 4, 5, 46, 7, 47]).buffer);
  deepStrictEqual([...decodeBtfEnum(raw, nameOf)], [["A", 46], ["B", 47]]);
});

Deno.test("decodeBtfEnum() honours kind_flag (signed) for ENUM", () => {
  const raw = new Uint8Array(
    new Uint32Array([1, (1 << 31) | (6 << 24) | 1, 4, 9, 0xffffffff]).buffer,
  );
  deepStrictEqual([...decodeBtfEnum(raw, nameOf)], [["C", -1]]);
});

Deno.test("decodeBtfEnum() reads BTF_KIND_ENUM64 members (name_off, lo32, hi32)", () => {
  const raw = new Uint8Array(new Uint32Array([1, (19 << 24) | 1, 8, 5, 2, 1]).buffer);
  deepStrictEqual([...decodeBtfEnum(raw, nameOf)], [["A", 2 ** 32 + 2]]);
});

Deno.test("decodeBtfEnum() refuses other kinds", () => {
  const raw = new Uint8Array(new Uint32Array([1, 4 << 24, 8]).buffer);
  throws(() => decodeBtfEnum(raw, nameOf), TypeError);
});
