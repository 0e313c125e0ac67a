/**
 * Property-based tests (fast-check) of the conf reconciler over arbitrary CNI conf directories:
 * up to six files drawn from names that collide on purpose (`10-net.conf` next to
 * `10-net.conflist`, a `.json`, hidden and foreign files) and contents from valid lists and
 * confs (with tsn-proxy entries anywhere, doubled, stale) to broken JSON, wrong versions, lists
 * without plugins, plugins that are not objects.
 *
 * One pass of the reconciler never throws and leaves the directory in one of two states:
 * - the entry in place: the primary (lexically first valid file, as libcni picks it) is a list
 *   that ends with exactly one tsn-proxy entry and keeps every other plugin and key it had, in
 *   order; a lone `.conf` primary is wrapped (and removed); no other list holds an entry; files
 *   libcni skips are byte for byte the same; no other file is replaced, lost or created;
 * - refused (no primary, a version before 0.3.0, or a wrap that would overwrite another file):
 *   with a reason, and the primary untouched.
 * Either way every file written is whole JSON, no temp file is left, and a second pass
 * changes nothing. `removeAll` (uninstall) then leaves no entry anywhere and every other byte of
 * the lists' content as it was.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import {
  type ConfList,
  entryCount,
  hasEntryInPlace,
  pickPrimary,
  pluginEntry,
  targetName,
  withoutEntry,
} from "./conflist.ts";
import { ConfReconciler } from "./reconciler.ts";

const RUNS = 1000;
const entry = pluginEntry({ socketPath: "/var/run/tsn-proxy/cni.sock", optIn: "annotation" });
const staleEntry = { ...entry, socketPath: "/old/cni.sock" };

const NAMES = [
  "05-first.conflist",
  "10-net.conf",
  "10-net.conflist",
  "10-net.json",
  "20-other.conflist",
  "30-late.conf",
  ".hidden.conflist",
  "99-notes.txt",
];

const version = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("0.3.1", "0.4.0", "1.0.0", "1.1.0") },
  { weight: 1, arbitrary: fc.constantFrom("0.2.0", "", "abc", "2.0.0") },
  { weight: 1, arbitrary: fc.jsonValue() },
);
const plugin = fc.oneof(
  { weight: 5, arbitrary: fc.record({ type: fc.constantFrom("bridge", "ptp", "portmap") }) },
  { weight: 2, arbitrary: fc.constantFrom(entry, staleEntry) },
  { weight: 1, arbitrary: fc.jsonValue() },
);
const content = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      cniVersion: version,
      name: fc.constantFrom("net", "other"),
      plugins: fc.array(plugin, { minLength: 0, maxLength: 4 }),
      disableCheck: fc.boolean(),
    }, { requiredKeys: ["cniVersion", "name", "plugins"] }).map((o) => JSON.stringify(o)),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      cniVersion: version,
      name: fc.constantFrom("net", "other"),
      type: fc.constantFrom("bridge", "ptp", "", "tsn-proxy"),
      mtu: fc.integer({ min: 1000, max: 9000 }),
    }, { requiredKeys: ["cniVersion", "type"] }).map((o) => JSON.stringify(o)),
  },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"brid'),
  },
);
const confDirs = fc.dictionary(fc.constantFrom(...NAMES), content, { maxKeys: 6 });

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of Deno.readDirSync(dir)) out.set(e.name, Deno.readTextFileSync(join(dir, e.name)));
  return out;
}

function reconciler(dir: string): ConfReconciler {
  return new ConfReconciler({ confDir: dir, entry, log: () => {}, minRewriteIntervalMs: 10 });
}

function parse(text: string | undefined): unknown {
  return text === undefined ? undefined : JSON.parse(text);
}

Deno.test("fuzz: one reconciler pass over an arbitrary conf dir: entry in place exactly once, or refused; nothing else changes", async () => {
  const root = await Deno.makeTempDir({ prefix: "tsn-conf-fuzz-" });
  const states = new Map<string, number>();
  let tried = 0;
  try {
    await fc.assert(
      fc.asyncProperty(confDirs, async (files) => {
        tried++;
        const dir = join(root, String(tried));
        Deno.mkdirSync(dir);
        for (const [name, text] of Object.entries(files)) {
          Deno.writeTextFileSync(join(dir, name), text);
        }
        const before = snapshot(dir);
        const { primary, valid, skipped } = pickPrimary(before);
        const r = await reconciler(dir).reconcileOnce();
        states.set(r.state, (states.get(r.state) ?? 0) + 1);
        const after = snapshot(dir);
        ok([...after.keys()].every((n) => !n.includes("tsn-proxy-tmp")), "temp file left");
        // Files libcni skips (and foreign files) are never touched.
        for (const s of skipped) equal(after.get(s.name), before.get(s.name), `${s.name} changed`);
        for (const n of before.keys()) {
          if (!n.match(/\.(conf|conflist|json)$/) || n.startsWith(".")) {
            equal(after.get(n), before.get(n), n);
          }
        }
        if (r.state === "no-primary") {
          equal(primary, undefined);
          deepEqual(after, before);
          return;
        }
        ok(primary, `state ${r.state} without a primary`);
        const target = targetName(primary);
        if (r.state === "unusable" || r.state === "throttled") {
          equal(after.get(primary.name), before.get(primary.name), "refused, yet primary changed");
          if (r.state === "unusable" && target !== primary.name && before.has(target)) {
            equal(after.get(target), before.get(target), "the wrap target was overwritten");
          }
        } else {
          // Entry in place, exactly once, last, in the file libcni now loads.
          const now = pickPrimary(after).primary;
          ok(now && now.kind === "conflist", "the primary is not a list after the pass");
          equal(now.name, target);
          ok(hasEntryInPlace(now.list, entry), `entry not in place in ${now.name}`);
          equal(entryCount(now.list), 1);
          // Nothing of the primary lost: same plugins (minus old entries) in order, same keys.
          const was = withoutEntry(primary.list);
          deepEqual(withoutEntry(now.list), was as ConfList, "the primary's content changed");
          if (target !== primary.name) {
            ok(!after.has(primary.name), "the wrapped .conf is still there");
            if (before.has(target)) {
              // Only an earlier wrap of this config may be replaced.
              const old = valid.find((v) => v.name === target);
              ok(old && old.kind === "conflist", `${target} (not a list) was overwritten`);
              const rest = withoutEntry(old.list).plugins;
              ok(
                rest.length === 1 && rest[0]?.type === primary.list.plugins[0]?.type &&
                  old.list.name === primary.list.name,
                `${target} was overwritten by the wrap of ${primary.name}`,
              );
            }
          }
        }
        // Other lists: their entries removed, nothing else.
        for (const v of valid) {
          if (v === primary || v.name === target) continue;
          const a = after.get(v.name);
          ok(a !== undefined, `${v.name} disappeared`);
          if (v.kind === "conflist") {
            deepEqual(parse(a), withoutEntry(v.list), `${v.name}: more than the entry changed`);
          } else {
            equal(a, before.get(v.name), `${v.name} changed`);
          }
        }
        for (const [n, text] of after) {
          ok(before.has(n) || n === target, `${n} was created`);
          if (text !== before.get(n)) JSON.parse(text); // whatever was written is whole JSON
        }
        // A second pass changes nothing.
        const again = await reconciler(dir).reconcileOnce();
        deepEqual(snapshot(dir), after, "a second pass changed the dir");
        if (r.state === "written" || r.state === "in-place") equal(again.state, "in-place");
        // Uninstall: no entry anywhere, nothing else changed.
        await reconciler(dir).removeAll();
        const gone = snapshot(dir);
        for (const [n, text] of gone) {
          const v = pickPrimary(new Map([[n, text]])).valid[0];
          if (v?.kind === "conflist") equal(entryCount(v.list), 0, `${n} keeps an entry`);
          if (v?.kind === "conflist" && after.has(n)) {
            deepEqual(parse(text), withoutEntry(JSON.parse(after.get(n)!)), `${n}: uninstall`);
          }
        }
        Deno.removeSync(dir, { recursive: true });
      }),
      { numRuns: RUNS },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  console.log(`conf dirs: ${tried}, outcomes ${JSON.stringify(Object.fromEntries(states))}`);
  ok((states.get("written") ?? 0) > 0 && (states.get("unusable") ?? 0) > 0);
});

Deno.test("reconciler: a lone .conf is not wrapped over an unrelated list of the same name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-conf-wrap-" });
  try {
    const conf = '{"cniVersion":"1.0.0","name":"net","type":"bridge"}';
    const other = '{"cniVersion":"1.0.0","name":"net","plugins":[{"type":"ptp"},{"type":"x"}]}';
    Deno.writeTextFileSync(join(dir, "10-net.conf"), conf);
    Deno.writeTextFileSync(join(dir, "10-net.conflist"), other);
    const r = await reconciler(dir).reconcileOnce();
    equal(r.state, "unusable");
    ok("reason" in r && r.reason.includes("10-net.conflist"), JSON.stringify(r));
    deepEqual(
      snapshot(dir),
      new Map([["10-net.conf", conf], ["10-net.conflist", other]]),
      "nothing may change",
    );
    // An earlier wrap of the same .conf (the primary CNI wrote its .conf again) is replaced.
    const wrap = JSON.stringify({
      cniVersion: "1.0.0",
      name: "net",
      plugins: [{ type: "bridge" }],
    });
    Deno.writeTextFileSync(join(dir, "10-net.conflist"), wrap);
    equal((await reconciler(dir).reconcileOnce()).state, "written");
    deepEqual([...snapshot(dir).keys()], ["10-net.conflist"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
