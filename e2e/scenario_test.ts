import { resolveTalkers } from "./scenario.ts";
import { assertEquals, assertThrows } from "./testing.ts";

const pods = new Map([["a", 1], ["b", 2]]);

Deno.test("scenario: talkers get defaults, ports and pod ids", () => {
  const r = resolveTalkers(
    [
      { pod: "a", protocol: "udp", priority: 5, clock: "tai", count: 10 },
      { pod: "b", protocol: "tcp", priority: 3, count: 10 },
      { name: "x", pod: "b", protocol: "udp", tool: "socat", priority: 2, count: 1, intervalUs: 5 },
    ],
    pods,
    42000,
  );
  assertEquals(r.map((t) => [t.name, t.tool, t.clock, t.port, t.podId, t.intervalUs]), [
    ["a-udp-txtime-tai", "txtime", "tai", 42000, 1, 200],
    ["b-tcp-socat-none", "socat", "none", 42001, 2, 200],
    ["x", "socat", "none", 42002, 2, 5],
  ]);
});

Deno.test("scenario: contradictory talkers are refused", () => {
  assertThrows(
    () =>
      resolveTalkers([{ pod: "a", protocol: "tcp", tool: "txtime", priority: 1, count: 1 }], pods),
    Error,
    "UDP only",
  );
  assertThrows(
    () =>
      resolveTalkers([{
        pod: "a",
        protocol: "udp",
        tool: "socat",
        clock: "tai",
        priority: 1,
        count: 1,
      }], pods),
    Error,
    "txtime",
  );
  assertThrows(
    () => resolveTalkers([{ pod: "z", protocol: "udp", priority: 1, count: 1 }], pods),
    Error,
    "unknown pod",
  );
  assertThrows(
    () => resolveTalkers([{ pod: "a", protocol: "udp", priority: 1, count: 0 }], pods),
    RangeError,
  );
});
