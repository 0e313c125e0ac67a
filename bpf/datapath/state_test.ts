import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { join } from "node:path";
import { emptyState, loadState, parseState, removeState, saveState } from "./state.ts";

Deno.test("saveState() and loadState() round-trip, leaving no temp file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "sub", "datapath.json");
    const s = emptyState("/sys/fs/bpf/t", "skb-data", "lru", 5n);
    s.restorers.push({ ifname: "nic0", ifindex: 4, mode: { kind: "tcx" } });
    saveState(path, s);
    deepStrictEqual(loadState(path), s);
    deepStrictEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["datapath.json"]);
    equal(Deno.statSync(path).mode! & 0o777, 0o600);
    removeState(path);
    equal(loadState(path), undefined);
    removeState(path);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadState() refuses a file that is not a datapath state", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "x.json");
    Deno.writeTextFileSync(path, '{"version": 7}');
    throws(() => loadState(path), /not a tsn-proxy datapath state/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("parseState() names the field that breaks a state file, and why", () => {
  const good = emptyState("/sys/fs/bpf/t", "skb-addr", "buckets", 100_000_000n);
  good.restorers.push({ ifname: "nic0", ifindex: 4, mode: { kind: "tcx" } });
  good.pendingRestorers = ["nic1"];
  good.trackers.push({ program: "tsn_track_clone", state: "unavailable", reason: "EPERM: x" });
  good.pods.push({
    id: "p1",
    netns: "/run/netns/p1",
    ifname: "eth0",
    ifindex: 2,
    owner: 7,
    maxPriority: 3,
    defaultPriority: 2,
    txtime: { allowed: false, horizonNs: "0" },
    mode: { kind: "clsact", handle: 1, priority: 49152 },
  });
  deepStrictEqual(parseState(JSON.stringify(good), "f.json"), good);
  // deno-lint-ignore no-explicit-any
  type Loose = Record<string, any>;
  const refuses = (edit: (s: Loose) => void, why: RegExp) => {
    const s = JSON.parse(JSON.stringify(good)) as Loose;
    edit(s);
    throws(() => parseState(JSON.stringify(s), "f.json"), why);
  };
  throws(() => parseState("{", "f.json"), /f\.json: not a tsn-proxy datapath state \(not JSON/);
  throws(() => parseState("[]", "f.json"), /f\.json: the file: not an object/);
  refuses((s) => s.version = 2, /not a tsn-proxy datapath state \(version 2\)/);
  refuses((s) => delete s.bpffs, /f\.json: bpffs: missing, not a string/);
  refuses((s) => s.store = "disk", /f\.json: store: not one of buckets, lru/);
  refuses((s) => s.maxAgeNs = 100, /maxAgeNs: a number, not a decimal string/);
  refuses((s) => s.maxAgeNs = "1".repeat(21), /maxAgeNs: a string, not a decimal string/);
  refuses((s) => s.maxAgeNs = "18446744073709551616", /maxAgeNs: a string, not a decimal/);
  refuses((s) => s.trackers[0].state = "on", /trackers\[0\]\.state: not attached or unavailable/);
  refuses((s) => s.restorers = {}, /restorers: an object, not a list/);
  refuses((s) => s.restorers[0].ifindex = "4", /restorers\[0\]\.ifindex: a string, not an integer/);
  refuses((s) => s.restorers[0].ifindex = -1, /restorers\[0\]\.ifindex: a number, not an integer/);
  refuses((s) => s.restorers[0].ifname = "x".repeat(16), /restorers\[0\]\.ifname: longer than 15/);
  refuses((s) => s.restorers[0].mode = { kind: "xdp" }, /restorers\[0\]\.mode\.kind: not tcx or/);
  refuses((s) => s.restorers[0].mode.handle = 1, /restorers\[0\]\.mode: unknown field "handle"/);
  refuses((s) => s.pendingRestorers = [7], /pendingRestorers\[0\]: not an interface name/);
  refuses((s) => s.pods[0].owner = 2 ** 32, /pods\[0\]\.owner: a number, not an integer/);
  refuses((s) => s.pods[0].id = "x".repeat(129), /pods\[0\]\.id: longer than 128/);
  refuses((s) => s.pods[0].txtime.allowed = "no", /pods\[0\]\.txtime\.allowed: not a boolean/);
  refuses((s) => delete s.pods[0].mode.priority, /pods\[0\]\.mode\.priority: missing/);
  refuses((s) => s.pods[0].admin = true, /pods\[0\]: unknown field "admin"/);
  refuses((s) => s.extra = 1, /f\.json: the file: unknown field "extra"/);
});
