import { deepEqual } from "node:assert/strict";
import { socatTalkerArgs } from "./socat.ts";

Deno.test("socatTalkerArgs() sets so-priority only for a talker that has one", () => {
  const to = { dst: "10.0.0.2", port: 9 };
  deepEqual(
    socatTalkerArgs({ ...to, protocol: "udp", priority: 5 }).at(-1),
    "UDP4-SENDTO:10.0.0.2:9,so-priority=5",
  );
  deepEqual(
    socatTalkerArgs({ ...to, protocol: "udp", priority: null }).at(-1),
    "UDP4-SENDTO:10.0.0.2:9",
  );
  deepEqual(
    socatTalkerArgs({ ...to, protocol: "tcp", priority: 0 }).at(-1),
    "TCP4:10.0.0.2:9,so-priority=0",
  );
  deepEqual(socatTalkerArgs({ ...to, protocol: "tcp", priority: null }).at(-1), "TCP4:10.0.0.2:9");
});
