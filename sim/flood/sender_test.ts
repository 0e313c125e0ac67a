import { deepStrictEqual, throws } from "node:assert/strict";
import { parseFloodArgs, parseIpv4 } from "./sender.ts";

Deno.test("parseFloodArgs: UDP defaults make 64-byte frames in batches of 64", () => {
  deepStrictEqual(
    parseFloodArgs(["--proto", "udp", "--dst", "192.0.2.2", "--port", "45000", "--priority", "5"]),
    {
      proto: "udp",
      dst: "192.0.2.2",
      port: 45000,
      priority: 5,
      clock: "none",
      durationMs: 1000,
      maxPackets: 10_000_000,
      size: 22,
      batch: 64,
    },
  );
});

Deno.test("parseFloodArgs refuses what the sender cannot do", () => {
  const base = ["--dst", "192.0.2.2", "--port", "1", "--priority", "0"];
  throws(() => parseFloodArgs(["--proto", "sctp", ...base]), /--proto/);
  throws(() => parseFloodArgs(["--proto", "tcp", "--clock", "tai", ...base]), /txtime/);
  throws(() => parseFloodArgs(["--proto", "udp", ...base, "--duration-ms", "0"]), /duration/);
  throws(() => parseFloodArgs(["--proto", "udp", ...base, "--bogus", "1"]));
  throws(() => parseIpv4("192.0.2"), /IPv4/);
});
