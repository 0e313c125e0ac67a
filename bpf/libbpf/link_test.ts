import { deepStrictEqual } from "node:assert/strict";
import { decodeLinkInfo } from "./link.ts";

function rawLinkInfo(type: number, id: number, progId: number, u0: number, u1: number) {
  const raw = new Uint8Array(128);
  const v = new DataView(raw.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, id, true);
  v.setUint32(8, progId, true);
  v.setUint32(16, u0, true); // the union starts 8-aligned after 3 u32
  v.setUint32(20, u1, true);
  return raw;
}

Deno.test("decodeLinkInfo() reads tcx ifindex/attach_type at 16/20 for TCX links", () => {
  deepStrictEqual(decodeLinkInfo(rawLinkInfo(11, 5, 7, 3, 47), { tcxType: 11, netkitType: 13 }), {
    type: 11,
    id: 5,
    progId: 7,
    tcx: { ifindex: 3, attachType: 47, attachTypeName: undefined },
  });
});

Deno.test("decodeLinkInfo() leaves the union alone for other link types", () => {
  deepStrictEqual(decodeLinkInfo(rawLinkInfo(2, 5, 7, 3, 47), { tcxType: 11 }), {
    type: 2,
    id: 5,
    progId: 7,
  });
});
