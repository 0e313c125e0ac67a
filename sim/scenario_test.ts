import { assertNoErrors, resolveTalkers } from "./scenario.ts";
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

Deno.test("scenario: a raw talker's flow label defaults to its IPv4 id", () => {
  const [a, b] = resolveTalkers(
    [
      { pod: "a", protocol: "udp", tool: "raw", priority: 0, count: 1, raw: { ipId: 0x1234 } },
      {
        pod: "b",
        protocol: "udp",
        tool: "raw",
        priority: 5,
        count: 1,
        raw: { ipId: 7, flowLabel: 0xfffff, payloadPod: "a" },
      },
    ],
    pods,
  );
  assertEquals(a?.raw, { ipId: 0x1234, flowLabel: 0x1234, payloadPodId: 1, payloadPriority: 0 });
  assertEquals(b?.raw, { ipId: 7, flowLabel: 0xfffff, payloadPodId: 1, payloadPriority: 5 });
});

Deno.test("scenario: rows with observer errors fail the run", () => {
  assertNoErrors([{ talker: "a", errors: 0 }]);
  assertThrows(
    () => assertNoErrors([{ talker: "a", errors: 0 }, { talker: "b", errors: 3 }]),
    Error,
    "b 3",
  );
});

Deno.test("scenario: only txtime talkers alternate priorities", () => {
  const [t] = resolveTalkers(
    [{ pod: "a", protocol: "udp", priority: 5, altPriority: 3, count: 2 }],
    pods,
  );
  assertEquals(t?.altPriority, 3);
  assertThrows(
    () =>
      resolveTalkers([{
        pod: "a",
        protocol: "udp",
        tool: "socat",
        priority: 5,
        altPriority: 3,
        count: 1,
      }], pods),
    Error,
    "alternate",
  );
});
