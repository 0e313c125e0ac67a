import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { decodeRunStats, nsPerRun, PROG_INFO_LEN, PROG_INFO_OFFSETS } from "./progstats.ts";

Deno.test("decodeRunStats reads id, run_time_ns and run_cnt at the uapi offsets", () => {
  const raw = new Uint8Array(PROG_INFO_LEN);
  const v = new DataView(raw.buffer);
  v.setUint32(PROG_INFO_OFFSETS.id, 42, true);
  v.setBigUint64(PROG_INFO_OFFSETS.runTimeNs, 123_456n, true);
  v.setBigUint64(PROG_INFO_OFFSETS.runCnt, 1000n, true);
  deepStrictEqual(decodeRunStats(raw), { id: 42, runTimeNs: 123_456n, runCnt: 1000n });
  throws(() => decodeRunStats(new Uint8Array(100)), RangeError);
});

Deno.test("nsPerRun divides deltas and refuses an idle program", () => {
  const a = { id: 1, runTimeNs: 1000n, runCnt: 10n };
  equal(nsPerRun(a, { id: 1, runTimeNs: 3000n, runCnt: 20n }), 200);
  equal(nsPerRun(a, a), null);
});
