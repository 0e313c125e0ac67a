import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { join } from "node:path";
import { Datapath } from "./datapath.ts";
import { emptyState, saveState } from "./state.ts";

const strategy = { name: "skb-addr", keyMode: 0, trackers: [] };

Deno.test("Datapath.open() touches nothing; a datapath that is not up says so", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const stateFile = join(dir, "datapath.json");
    const dp = Datapath.open({ stateFile });
    equal(dp.state(), undefined);
    deepStrictEqual(dp.check(), []);
    throws(() => dp.stats(), /the datapath is not up \(no state at .*datapath\.json\); run 'up'/);
    throws(() => dp.detach("p1"), /the datapath is not up/);
    throws(() => dp.attach({ id: "p1", netns: "/x", ifname: "eth0" }), /the datapath is not up/);
    throws(() => dp.up({ strategy, restoreOn: [] }), /Datapath\.up needs a bpffs directory/);
    throws(() => dp.down(), /no datapath state at .* and no bpffs given/);
    deepStrictEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Datapath refuses a corrupt state file with the field and the reason", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const stateFile = join(dir, "datapath.json");
    const s = emptyState(join(dir, "bpffs"), "skb-addr", "buckets", 1n);
    saveState(stateFile, {
      ...s,
      restorers: [{ ifname: "nic0", ifindex: -4, mode: { kind: "tcx" } }],
    });
    const dp = Datapath.open({ stateFile });
    throws(() => dp.state(), /datapath\.json: restorers\[0\]\.ifindex: a number, not an integer/);
    throws(() => dp.stats(), /restorers\[0\]\.ifindex/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Datapath.fromPins() is null where nothing is pinned", () => {
  const dir = Deno.makeTempDirSync();
  try {
    equal(Datapath.fromPins(dir), null);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
