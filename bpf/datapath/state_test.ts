import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { join } from "node:path";
import { emptyState, loadState, removeState, saveState } from "./state.ts";

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
