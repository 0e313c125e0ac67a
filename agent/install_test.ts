import { deepEqual, equal, rejects } from "node:assert/strict";
import { join } from "node:path";
import { installPlugin, PLUGIN_PATHS, uninstallPlugin } from "./install.ts";

async function fakePlugin(): Promise<string> {
  const src = await Deno.makeTempDir({ prefix: "tsn-src-" });
  await Deno.mkdir(join(src, "tsn-proxy.d"));
  await Deno.writeTextFile(join(src, "tsn-proxy.d/deno"), "runtime");
  await Deno.writeTextFile(join(src, "tsn-proxy.d/plugin.js"), "bundle");
  await Deno.writeTextFile(join(src, "tsn-proxy"), "#!/bin/sh\n");
  return src;
}

Deno.test("installPlugin() copies once, skips identical files and replaces changed ones", async () => {
  const src = await fakePlugin();
  const bin = await Deno.makeTempDir({ prefix: "tsn-bin-" });
  try {
    deepEqual((await installPlugin(src, bin)).written, [...PLUGIN_PATHS]);
    equal((await Deno.stat(join(bin, "tsn-proxy"))).mode! & 0o777, 0o755);
    deepEqual((await installPlugin(src, bin)).written, []);
    await Deno.writeTextFile(join(src, "tsn-proxy.d/plugin.js"), "bundle v2");
    deepEqual((await installPlugin(src, bin)).written, ["tsn-proxy.d/plugin.js"]);
    equal(await Deno.readTextFile(join(bin, "tsn-proxy.d/plugin.js")), "bundle v2");
    deepEqual([...Deno.readDirSync(join(bin, "tsn-proxy.d"))].map((e) => e.name).sort(), [
      "deno",
      "plugin.js",
    ]);
    deepEqual(await uninstallPlugin(bin), [
      "tsn-proxy",
      "tsn-proxy.d/plugin.js",
      "tsn-proxy.d/deno",
    ]);
    deepEqual([...Deno.readDirSync(bin)], []);
  } finally {
    await Deno.remove(src, { recursive: true });
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("installPlugin() refuses an incomplete source before touching the bin dir", async () => {
  const src = await fakePlugin();
  const bin = await Deno.makeTempDir({ prefix: "tsn-bin-" });
  try {
    await Deno.remove(join(src, "tsn-proxy.d/deno"));
    await rejects(installPlugin(src, bin), /lacks tsn-proxy.d\/deno/);
    deepEqual([...Deno.readDirSync(bin)], []);
  } finally {
    await Deno.remove(src, { recursive: true });
    await Deno.remove(bin, { recursive: true });
  }
});
