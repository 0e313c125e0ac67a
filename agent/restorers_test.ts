import { deepEqual, equal } from "node:assert/strict";
import type { RestorerCheck } from "@tsn-proxy/bpf/datapath";
import type { LogFields } from "./log.ts";
import { RestorerWatch } from "./restorers.ts";

/** A watch over scripted check results; records events, gauges and counts. */
function scripted(rounds: (RestorerCheck[] | Error)[]) {
  const events: LogFields[] = [];
  const missing = new Map<string, number>();
  const reattached: string[] = [];
  let i = 0;
  const watch = new RestorerWatch({
    check: () => {
      const r = rounds[Math.min(i++, rounds.length - 1)]!;
      if (r instanceof Error) throw r;
      return r;
    },
    log: (_msg, f) => events.push(f ?? {}),
    metrics: {
      reattached: (ifname) => reattached.push(ifname),
      missing: (ifname, m) => missing.set(ifname, m ? 1 : 0),
    },
  });
  /** Runs one check; the events it logged, as "event ifname". */
  const step = () => {
    const from = events.length;
    watch.run();
    return events.slice(from).map((e) => `${e.event}${e.ifname ? ` ${e.ifname}` : ""}`);
  };
  return { watch, step, events, missing, reattached };
}

const ok = (ifname: string, ifindex = 3): RestorerCheck => ({ ifname, outcome: "ok", ifindex });
const missing = (ifname: string): RestorerCheck => ({ ifname, outcome: "missing" });
const gone = (ifname: string): RestorerCheck => ({ ifname, outcome: "gone" });

Deno.test("RestorerWatch: a missing interface warns once, then its restorer is attached once", () => {
  const w = scripted([
    [ok("eth1"), missing("eth2")],
    [ok("eth1"), missing("eth2")],
    [ok("eth1"), missing("eth2")],
    [ok("eth1"), { ifname: "eth2", outcome: "attached", ifindex: 9 }],
    [ok("eth1"), ok("eth2", 9)],
  ]);
  deepEqual(w.step(), ["restorer.missing eth2"]);
  equal(w.events[0]!.level, "warn");
  deepEqual(w.watch.absent(), ["eth2"]);
  deepEqual([...w.missing], [["eth1", 0], ["eth2", 1]]);
  deepEqual(w.step(), [], "no repeat while it stays missing");
  deepEqual(w.step(), []);
  deepEqual(w.step(), ["restorer.attached eth2"]);
  equal(w.events.at(-1)!.ifindex, 9);
  equal(w.events.at(-1)!.was, "missing");
  deepEqual(w.watch.absent(), []);
  equal(w.missing.get("eth2"), 0);
  deepEqual(w.reattached, [], "a first attach is not a re-attach");
  deepEqual(w.step(), []);
});

Deno.test("RestorerWatch: gone, back (re-attached, counted), gone again warns again", () => {
  const w = scripted([
    [ok("eth1")],
    [gone("eth1")],
    [gone("eth1")],
    [{ ifname: "eth1", outcome: "reattached", ifindex: 7, previousIfindex: 3 }],
    [gone("eth1")],
  ]);
  deepEqual(w.step(), []);
  deepEqual(w.step(), ["restorer.lost eth1"]);
  equal(w.missing.get("eth1"), 1);
  deepEqual(w.step(), []);
  deepEqual(w.step(), ["restorer.reattached eth1"]);
  deepEqual(w.reattached, ["eth1"]);
  equal(w.missing.get("eth1"), 0);
  deepEqual(w.step(), ["restorer.lost eth1"], "a new transition is logged again");
});

Deno.test("RestorerWatch: an interface never seen that appears and vanishes again", () => {
  const w = scripted([
    [missing("eth2")],
    [{ ifname: "eth2", outcome: "attached", ifindex: 5 }],
    [gone("eth2")], // attached now: the datapath reports it gone, not missing
  ]);
  deepEqual(w.step(), ["restorer.missing eth2"]);
  deepEqual(w.step(), ["restorer.attached eth2"]);
  deepEqual(w.step(), ["restorer.lost eth2"]);
  deepEqual(w.watch.absent(), ["eth2"]);
});

Deno.test("RestorerWatch: failures are logged once per reason; the check failing too", () => {
  const fail = (error: string): RestorerCheck => ({
    ifname: "eth2",
    outcome: "failed",
    ifindex: 5,
    error,
  });
  const w = scripted([
    [missing("eth2")],
    [fail("EBUSY")],
    [fail("EBUSY")],
    [fail("EPERM")],
    new Error("state file corrupt"),
    new Error("state file corrupt"),
    [{ ifname: "eth2", outcome: "attached", ifindex: 5 }],
  ]);
  deepEqual(w.step(), ["restorer.missing eth2"]);
  deepEqual(w.step(), ["restorer.reattach_failed eth2"]);
  equal(w.missing.get("eth2"), 0, "it exists now, attaching failed");
  deepEqual(w.watch.absent(), []);
  deepEqual(w.step(), []);
  deepEqual(w.step(), ["restorer.reattach_failed eth2"]);
  deepEqual(w.step(), ["restorer.check_failed"]);
  deepEqual(w.step(), []);
  deepEqual(w.step(), ["restorer.attached eth2"]);
});

Deno.test("RestorerWatch: nothing up yet (no checks) logs nothing and reports nothing", () => {
  const w = scripted([[]]);
  deepEqual(w.step(), []);
  deepEqual(w.watch.absent(), []);
  equal(w.missing.size, 0);
});
