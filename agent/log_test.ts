import { deepEqual, equal, ok } from "node:assert/strict";
import { createLog, jsonLine } from "./log.ts";

const T0 = new Date("2026-01-02T03:04:05.000Z");

Deno.test("createLog('json') writes one parseable object per line with event and fields", () => {
  const lines: string[] = [];
  const log = createLog("json", (l) => lines.push(l), () => T0);
  log("attached c1-eth0 (cell/talker)", {
    event: "pod.attached",
    id: "c1-eth0",
    maxPriority: 5,
    bytes: 7n,
  });
  log("tracker refused", { event: "tracker.unavailable", level: "warn", program: "x" });
  equal(lines.length, 2);
  ok(lines.every((l) => !l.includes("\n")));
  deepEqual(JSON.parse(lines[0]!), {
    time: "2026-01-02T03:04:05.000Z",
    level: "info",
    event: "pod.attached",
    msg: "attached c1-eth0 (cell/talker)",
    id: "c1-eth0",
    maxPriority: 5,
    bytes: 7,
  });
  equal(JSON.parse(lines[1]!).level, "warn");
});

Deno.test("jsonLine() keeps time, level and msg from being overridden and reads WARNING", () => {
  const o = JSON.parse(jsonLine("WARNING reverted", { msg: "x", time: "y", file: "a" }, T0));
  equal(o.msg, "WARNING reverted");
  equal(o.time, T0.toISOString());
  equal(o.level, "warn");
  equal(o.file, "a");
  equal("event" in JSON.parse(jsonLine("plain", undefined, T0)), false);
});

Deno.test("createLog('text') keeps the plain agent prefix and drops the fields", () => {
  const lines: string[] = [];
  createLog("text", (l) => lines.push(l))("datapath adopted: skb-addr", { event: "x" });
  deepEqual(lines, ["tsnproxy agent: datapath adopted: skb-addr"]);
});
