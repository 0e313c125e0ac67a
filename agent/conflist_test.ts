import { deepEqual, equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type ConfList,
  entryCount,
  hasEntryInPlace,
  parseConfFile,
  pickPrimary,
  pluginEntry,
  targetName,
  withEntry,
  withoutEntry,
} from "./conflist.ts";

const TESTDATA = fileURLToPath(new URL("./testdata/", import.meta.url));
const entry = pluginEntry({ socketPath: "/var/run/tsn-proxy/cni.sock", optIn: "annotation" });

function fixture(name: string): string {
  return Deno.readTextFileSync(TESTDATA + name);
}

Deno.test("parseConfFile() loads the Flannel, Calico, Cilium and kindnet conflists", () => {
  const expected: Record<string, string[]> = {
    "10-flannel.conflist": ["flannel", "portmap"],
    "10-calico.conflist": ["calico", "portmap", "bandwidth"],
    "05-cilium.conflist": ["cilium-cni"],
    "10-kindnet.conflist": ["ptp", "portmap"],
  };
  for (const [name, types] of Object.entries(expected)) {
    const c = parseConfFile(name, fixture(name));
    ok(!("error" in c), `${name}: ${JSON.stringify(c)}`);
    equal(c.kind, "conflist");
    deepEqual(c.list.plugins.map((p) => p.type), types);
    const placed = withEntry(c.list, entry);
    deepEqual(placed.plugins.map((p) => p.type), [...types, "tsn-proxy"]);
    ok(hasEntryInPlace(placed, entry));
    deepEqual(placed.plugins.slice(0, -1), c.list.plugins, `${name}: other entries untouched`);
  }
});

Deno.test("parseConfFile() wraps a lone .conf like libcni and targets a .conflist", () => {
  const c = parseConfFile("10-bridge.conf", fixture("10-bridge.conf"));
  ok(!("error" in c));
  equal(c.kind, "conf");
  equal(c.list.name, "bridge");
  equal(c.list.cniVersion, "0.4.0");
  equal(c.list.plugins[0]?.type, "bridge");
  equal(targetName(c), "10-bridge.conflist");
});

Deno.test("pickPrimary() takes the lexically first valid file and skips the rest", () => {
  const files = new Map([
    ["00-broken.conflist", "{"],
    ["01-empty.conflist", '{"name":"x","plugins":[]}'],
    ["02-notype.conf", '{"name":"x"}'],
    [".hidden.conflist", fixture("10-flannel.conflist")],
    ["README.md", "#"],
    ["10-flannel.conflist", fixture("10-flannel.conflist")],
    ["05-cilium.conflist", fixture("05-cilium.conflist")],
  ]);
  const { primary, skipped } = pickPrimary(files);
  equal(primary?.name, "05-cilium.conflist");
  deepEqual(skipped.map((s) => s.name), [
    "00-broken.conflist",
    "01-empty.conflist",
    "02-notype.conf",
  ]);
});

Deno.test("withEntry() removes old and duplicate entries before appending one", () => {
  const list: ConfList = {
    name: "k",
    cniVersion: "0.3.1",
    plugins: [{ type: "calico" }, { type: "tsn-proxy", socketPath: "/old" }, { type: "portmap" }, {
      type: "tsn-proxy",
    }],
  };
  equal(entryCount(list), 2);
  ok(!hasEntryInPlace(list, entry));
  const placed = withEntry(list, entry);
  deepEqual(placed.plugins.map((p) => p.type), ["calico", "portmap", "tsn-proxy"]);
  deepEqual(withoutEntry(placed).plugins.map((p) => p.type), ["calico", "portmap"]);
  ok(!hasEntryInPlace({ ...placed, plugins: [...placed.plugins, { type: "x" }] }, entry));
});
