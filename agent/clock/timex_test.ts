import { deepEqual, equal } from "node:assert/strict";
import { decodeTimex, STA_UNSYNC, TIMEX } from "./timex.ts";

function timex(fields: { status?: number; tai?: number; maxerror?: bigint }): Uint8Array {
  const buf = new Uint8Array(TIMEX.size);
  const v = new DataView(buf.buffer);
  v.setInt32(TIMEX.status, fields.status ?? 0, true);
  v.setInt32(TIMEX.tai, fields.tai ?? 0, true);
  v.setBigInt64(TIMEX.maxerror, fields.maxerror ?? 0n, true);
  v.setBigInt64(TIMEX.esterror, 3n, true);
  return buf;
}

Deno.test("decodeTimex() reads a clock nobody synchronises as unsynchronised, TAI offset 0", () => {
  // What this host's kernel reports (adjtimex: 5, status 0x40, tai 0, maxerror 16 s).
  deepEqual(decodeTimex(timex({ status: STA_UNSYNC, maxerror: 16_000_000n }), 5), {
    state: "TIME_ERROR",
    status: STA_UNSYNC,
    synchronized: false,
    taiOffsetS: 0,
    maxErrorUs: 16_000_000,
    estErrorUs: 3,
  });
});

Deno.test("decodeTimex() reads a disciplined clock with its TAI offset", () => {
  const t = decodeTimex(timex({ status: 0x2001, tai: 37, maxerror: 12n }), 0);
  equal(t.state, "TIME_OK");
  equal(t.synchronized, true);
  equal(t.taiOffsetS, 37);
  equal(t.maxErrorUs, 12);
});

Deno.test("decodeTimex() is not synchronised with STA_UNSYNC even when the state is TIME_OK", () => {
  equal(decodeTimex(timex({ status: STA_UNSYNC }), 0).synchronized, false);
  // and TIME_ERROR alone (e.g. STA_PPSSIGNAL lost) is not synchronised either
  equal(decodeTimex(timex({ status: 0 }), 5).synchronized, false);
  equal(decodeTimex(timex({}), 9).state, "STATE_9");
});
