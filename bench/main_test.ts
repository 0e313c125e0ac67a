import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { parseBenchArgs } from "./main.ts";

Deno.test("parseBenchArgs: --quick is the smoke configuration, full matrix", () => {
  const p = parseBenchArgs(["--quick"], new Date("2026-01-02T03:04:05.678Z"));
  ok(p !== "help");
  equal(p.opts.mode, "quick");
  equal(p.opts.datapaths.length, 9, "7 veth datapaths and 2 with netkit pods");
  equal(p.opts.traffic.length, 3);
  equal(p.opts.cniPods, 6);
  deepStrictEqual(p.opts.podCounts, [10, 30], "the pod dimension's smoke point");
  deepStrictEqual(p.opts.strategies, ["skb-addr", "skb-data"]);
  deepStrictEqual(p.opts.kernels, ["host", "6.1", "6.12"], "every kernel unless --kernel says");
  deepStrictEqual(p.opts.lab.datapaths, ["bridge-nat"]);
  ok(p.opts.outDir.endsWith("bench/results/2026-01-02T03-04-05Z"));
  equal(p.latest, false, "a quick run never replaces the committed full report");
  const full = parseBenchArgs([]);
  ok(full !== "help");
  equal(full.latest, true, "a full run becomes latest/");
  deepStrictEqual(full.opts.podCounts, [10, 250]);
  const pods = parseBenchArgs(["--pod-counts", "5, 50,500"]);
  ok(pods !== "help");
  deepStrictEqual(pods.opts.podCounts, [5, 50, 500]);
  throws(() => parseBenchArgs(["--pod-counts", "50,10"]), /must ascend/);
  throws(() => parseBenchArgs(["--pod-counts", "10,5000"]), /pod-counts/);
});

Deno.test("parseBenchArgs: narrowing, --out and a fixed tool", () => {
  const p = parseBenchArgs([
    "--datapath",
    "vxlan+taps",
    "--traffic",
    "tcp-prio",
    "--strategy",
    "skb-addr",
    "--store",
    "lru",
    "--out",
    "/tmp/x",
    "--tool",
    "socat",
    "--procs",
    "3",
    "--rounds",
    "0",
    "--cni-pods",
    "0",
  ]);
  ok(p !== "help");
  deepStrictEqual(p.opts.datapaths.map((d) => d.id), ["vxlan+taps"]);
  deepStrictEqual(p.opts.traffic.map((t) => t.id), ["tcp-prio"]);
  equal(p.opts.store, "lru");
  equal(p.opts.outDir, "/tmp/x");
  equal(p.latest, false);
  deepStrictEqual(p.opts.floodTools, [{ kind: "socat", procs: 3 }]);
  equal(p.opts.calibrateMs, 0);
  equal(p.opts.rounds, 0);
  equal(p.opts.cniPods, 0);
  deepStrictEqual(p.opts.kernels, ["host", "6.1", "6.12"]);
  const host = parseBenchArgs(["--kernel", "host"]);
  ok(host !== "help");
  deepStrictEqual(host.opts.kernels, ["host"]);
  equal(parseBenchArgs(["-h"]), "help");
});

Deno.test("parseBenchArgs refuses unknown dimensions", () => {
  throws(() => parseBenchArgs(["--datapath", "geneve"]), /unknown datapath/);
  throws(() => parseBenchArgs(["--strategy", "magic"]), /unknown strategy/);
  throws(() => parseBenchArgs(["--kernel", "5.10"]), /unknown kernel/);
  throws(() => parseBenchArgs(["--store", "ring"]), /unknown store/);
  throws(() => parseBenchArgs(["--rounds", "x"]), /--rounds/);
});
