import { deepEqual, equal } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseQdiscs, tsnSchedule } from "./doctor_tc.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(fileURLToPath(new URL(`./testdata/doctor/${name}`, import.meta.url)));

Deno.test("parseQdiscs() reads taprio with its continuation lines and etf children", () => {
  const q = parseQdiscs(fixture("tc-taprio-etf.txt"));
  deepEqual(q.map((x) => [x.kind, x.handle, x.parent]), [
    ["taprio", "100:", "root"],
    ["etf", "8001:", "100:2"],
    ["pfifo", "0:", "100:4"],
    ["pfifo", "0:", "100:3"],
    ["pfifo", "0:", "100:1"],
    ["clsact", "ffff:", "ffff:fff1"],
  ]);
  equal(q[0]!.trafficClasses, 4);
  equal(q[0]!.clockid, "TAI", "from the continuation line");
  equal(q[1]!.offload, false);
  deepEqual(tsnSchedule(q), {
    root: "taprio",
    trafficClasses: 4,
    etf: [{ parent: "100:2", clockid: "TAI", offload: false }],
    clockid: "TAI",
  });
});

Deno.test("tsnSchedule() reads mqprio + offloaded etf, and nothing from noqueue or htb", () => {
  deepEqual(tsnSchedule(parseQdiscs(fixture("tc-mqprio-etf.txt"))), {
    root: "mqprio",
    trafficClasses: 2,
    etf: [{ parent: "8001:2", clockid: "TAI", offload: true }],
    clockid: null,
  });
  deepEqual(tsnSchedule(parseQdiscs(fixture("tc-noqueue.txt"))), {
    root: "noqueue",
    trafficClasses: null,
    etf: [],
    clockid: null,
  });
  const htb = tsnSchedule(parseQdiscs(fixture("tc-htb-clsact.txt")));
  equal(htb.root, "htb");
  equal(htb.trafficClasses, null);
  deepEqual(tsnSchedule(parseQdiscs("")), {
    root: null,
    trafficClasses: null,
    etf: [],
    clockid: null,
  });
});
