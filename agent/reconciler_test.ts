import { deepEqual, equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { type ConfList, entryCount, hasEntryInPlace, pluginEntry } from "./conflist.ts";
import { ConfReconciler, type ReconcilerOptions } from "./reconciler.ts";
import type { LogFields } from "./log.ts";

const TESTDATA = fileURLToPath(new URL("./testdata/", import.meta.url));
const entry = pluginEntry({ socketPath: "/run/tsn/cni.sock", optIn: "annotation" });

async function confDir(files: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "tsn-netd-" });
  for (const f of files) await Deno.copyFile(TESTDATA + f, join(dir, f));
  return dir;
}

function read(dir: string, name: string): ConfList {
  return JSON.parse(Deno.readTextFileSync(join(dir, name)));
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

function reconciler(dir: string, o: Partial<ReconcilerOptions> = {}) {
  const logs: string[] = [];
  const events: LogFields[] = [];
  const counts = { rewrites: [] as string[], conflicts: 0 };
  const r = new ConfReconciler({
    confDir: dir,
    entry,
    minRewriteIntervalMs: 10,
    log: (m, f) => {
      logs.push(m);
      if (f) events.push(f);
    },
    metrics: {
      rewrite: (reason) => counts.rewrites.push(reason),
      conflict: () => counts.conflicts++,
      error: () => {},
    },
    ...o,
  });
  return { r, logs, events, counts };
}

async function until(pred: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    if (pred()) return true;
    await new Promise((res) => setTimeout(res, 10));
  }
  return pred();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("ConfReconciler appends the entry to the primary and keeps the file mode", async () => {
  const dir = await confDir(["10-calico.conflist", "10-flannel.conflist"]);
  try {
    await Deno.chmod(join(dir, "10-calico.conflist"), 0o600);
    const { r } = reconciler(dir);
    const res = await r.reconcileOnce();
    equal(res.state, "written");
    ok(hasEntryInPlace(read(dir, "10-calico.conflist"), entry));
    equal(entryCount(read(dir, "10-flannel.conflist")), 0, "not the primary: untouched");
    equal((await Deno.stat(join(dir, "10-calico.conflist"))).mode! & 0o777, 0o600);
    equal((await r.reconcileOnce()).state, "in-place", "a second pass changes nothing");
    deepEqual(names(dir), ["10-calico.conflist", "10-flannel.conflist"], "no temp files left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConfReconciler wraps a lone .conf into a .conflist and removes the .conf", async () => {
  const dir = await confDir(["10-bridge.conf"]);
  try {
    const { r, counts, events } = reconciler(dir);
    equal((await r.reconcileOnce()).state, "written");
    deepEqual(names(dir), ["10-bridge.conflist"]);
    deepEqual(events, [{
      event: "conf.rewrite",
      file: "10-bridge.conflist",
      wrapped: "10-bridge.conf",
      primaryType: "bridge",
      reason: "wrap-conf",
    }]);
    const list = read(dir, "10-bridge.conflist");
    deepEqual(list.plugins.map((p) => p.type), ["bridge", "tsn-proxy"]);
    equal(list.cniVersion, "0.4.0");
    deepEqual(counts.rewrites, ["wrap-conf"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConfReconciler leaves one entry, last, when a file holds duplicates", async () => {
  const dir = await confDir([]);
  try {
    const list = JSON.parse(Deno.readTextFileSync(TESTDATA + "10-kindnet.conflist"));
    list.plugins = [list.plugins[0], { ...entry }, list.plugins[1], { type: "tsn-proxy" }];
    await Deno.writeTextFile(join(dir, "10-kindnet.conflist"), JSON.stringify(list));
    const { r } = reconciler(dir);
    await r.reconcileOnce();
    deepEqual(read(dir, "10-kindnet.conflist").plugins.map((p) => p.type), [
      "ptp",
      "portmap",
      "tsn-proxy",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConfReconciler follows a rename, a removal and a new primary through the watch", async () => {
  const dir = await confDir(["10-flannel.conflist"]);
  const { r } = reconciler(dir, { resyncIntervalMs: 60_000 });
  try {
    equal((await r.start()).state, "written");
    // The primary CNI replaces its file under a new name without the entry (rename = new inode).
    const fresh = Deno.readTextFileSync(TESTDATA + "10-flannel.conflist");
    await Deno.writeTextFile(join(dir, ".tmp-flannel"), fresh);
    await Deno.rename(join(dir, ".tmp-flannel"), join(dir, "05-flannel.conflist"));
    await Deno.remove(join(dir, "10-flannel.conflist"));
    ok(
      await until(() => {
        try {
          return hasEntryInPlace(read(dir, "05-flannel.conflist"), entry);
        } catch {
          return false;
        }
      }),
      "the entry follows the renamed primary",
    );
    // A new CNI installs a file that sorts first: the entry moves there and leaves the old file.
    await Deno.copyFile(TESTDATA + "05-cilium.conflist", join(dir, "01-cilium.conflist"));
    ok(
      await until(() => {
        try {
          return hasEntryInPlace(read(dir, "01-cilium.conflist"), entry) &&
            entryCount(read(dir, "05-flannel.conflist")) === 0;
        } catch {
          return false;
        }
      }),
      "the entry moves to the new primary",
    );
    // The primary's file is removed: the next one becomes primary.
    await Deno.remove(join(dir, "01-cilium.conflist"));
    ok(await until(() => hasEntryInPlace(read(dir, "05-flannel.conflist"), entry)));
    ok(r.inPlace);
  } finally {
    await r.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConfReconciler throttles a component that keeps reverting the file and warns", async () => {
  const dir = await confDir(["05-cilium.conflist"]);
  const { r, logs, events, counts } = reconciler(dir, {
    minRewriteIntervalMs: 40,
    conflictThreshold: 2,
    maxBackoffMs: 2000,
    resyncIntervalMs: 60_000,
  });
  try {
    await r.start();
    const original = Deno.readTextFileSync(TESTDATA + "05-cilium.conflist");
    // A Cilium with cni.exclusive=true: rewrites its file whenever it changes, for 1.5 s.
    const end = Date.now() + 1500;
    for (let i = 0; i < 300 && Date.now() < end; i++) {
      if (entryCount(read(dir, "05-cilium.conflist")) > 0) {
        await Deno.writeTextFile(join(dir, "05-cilium.conflist"), original);
      }
      await sleep(5);
    }
    const writes = counts.rewrites.length;
    ok(writes >= 3, `the reconciler kept fixing the file (${writes} writes)`);
    ok(writes <= 12, `but throttled: ${writes} writes in 1.5 s at a 40 ms minimum interval`);
    ok(counts.conflicts >= 2);
    ok(logs.some((l) => l.includes("cni.exclusive=false")), logs.join("\n"));
    equal(logs.filter((l) => l.includes("WARNING")).length, 1, "warned once per window");
    const conflicts = events.filter((e) => e.event === "conf.conflict");
    equal(conflicts.length, counts.conflicts, "one conf.conflict line per revert");
    equal(conflicts[0]?.file, "05-cilium.conflist");
    equal(conflicts[0]?.primaryType, "cilium-cni");
    equal(events.filter((e) => e.event === "conf.rewrite").length, counts.rewrites.length);
    // Once the other side stops, the entry comes back.
    ok(await until(() => hasEntryInPlace(read(dir, "05-cilium.conflist"), entry), 4000));
  } finally {
    await r.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConfReconciler reports no primary, refuses pre-0.3.0 configs, and uninstalls", async () => {
  const dir = await confDir([]);
  try {
    const { r } = reconciler(dir);
    equal((await r.reconcileOnce()).state, "no-primary");
    ok(r.notReadyReason()?.includes("no valid CNI config"));
    await Deno.writeTextFile(
      join(dir, "10-old.conf"),
      '{"cniVersion":"0.2.0","name":"o","type":"bridge"}',
    );
    equal((await r.reconcileOnce()).state, "unusable");
    await Deno.remove(join(dir, "10-old.conf"));
    await Deno.copyFile(TESTDATA + "10-calico.conflist", join(dir, "10-calico.conflist"));
    equal((await r.reconcileOnce()).state, "written");
    deepEqual(await r.removeAll(), ["10-calico.conflist"]);
    deepEqual(
      read(dir, "10-calico.conflist"),
      JSON.parse(Deno.readTextFileSync(TESTDATA + "10-calico.conflist")),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConfReconciler.removeAll() gives back the primary's own bytes unless it changed", async () => {
  const dir = await confDir([]);
  const originals = await Deno.makeTempDir({ prefix: "tsn-orig-" });
  // Not the way renderList writes it: a re-rendering would show.
  const primary = '{ "cniVersion": "1.0.0", "name": "n",\n  "plugins": [ {"type": "bridge"} ] }\n';
  try {
    await Deno.writeTextFile(join(dir, "10-n.conflist"), primary);
    const { r } = reconciler(dir, { originalsDir: originals });
    equal((await r.reconcileOnce()).state, "written");
    ok(Deno.readTextFileSync(join(dir, "10-n.conflist")) !== primary);
    deepEqual(await r.removeAll(), ["10-n.conflist"]);
    equal(Deno.readTextFileSync(join(dir, "10-n.conflist")), primary);
    await Deno.stat(originals).then(() => ok(false, "saved originals left behind"), () => {});

    // The primary changed something besides the entry: its bytes are not brought back.
    const r2 = reconciler(dir, { originalsDir: originals }).r;
    equal((await r2.reconcileOnce()).state, "written");
    const withEntry = read(dir, "10-n.conflist");
    (withEntry.plugins[0] as Record<string, unknown>).mtu = 1400;
    await Deno.writeTextFile(join(dir, "10-n.conflist"), JSON.stringify(withEntry));
    deepEqual(await r2.removeAll(), ["10-n.conflist"]);
    deepEqual(read(dir, "10-n.conflist").plugins, [{ type: "bridge", mtu: 1400 }]);
    ok(Deno.readTextFileSync(join(dir, "10-n.conflist")) !== primary);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(originals, { recursive: true }).catch(() => {});
  }
});
