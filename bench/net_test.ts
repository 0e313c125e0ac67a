import { deepStrictEqual, equal } from "node:assert/strict";
import { parseNetDev, parseSnmp } from "./net.ts";

Deno.test("parseNetDev reads packets and bytes per interface", () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  nic0: 6400 100 0 2 0 0 0 0 12800 200 0 3 0 0 0 0
`;
  const m = parseNetDev(text);
  deepStrictEqual(m.get("nic0"), {
    rxBytes: 6400,
    rxPackets: 100,
    rxDropped: 2,
    txBytes: 12800,
    txPackets: 200,
    txDropped: 3,
  });
  equal(m.get("lo")?.txPackets, 0);
});

Deno.test("parseSnmp pairs header and value lines", () => {
  const text = `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors
Udp: 10 2 5 7 5
`;
  const m = parseSnmp(text);
  equal(m.get("Udp.InDatagrams"), 10);
  equal(m.get("Udp.InErrors"), 5);
  equal(m.get("Ip.DefaultTTL"), 64);
});
