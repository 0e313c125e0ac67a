import assert from "node:assert/strict";
import { readNewc } from "./cpio.ts";
import { BIN } from "@tsn-proxy/sim/netns";
import {
  appletLinks,
  busyboxTarget,
  E2E_LINKS,
  E2E_TOOLS,
  hashPlan,
  INIT_SCRIPT,
  materialize,
  planInitramfs,
  withParents,
} from "./initramfs.ts";

Deno.test("busybox applet links skip ip and tc (iproute2's binaries take those names)", () => {
  const links = appletLinks("bin/busybox\nbin/sh\nsbin/ip\nsbin/tc\nusr/bin/awk\nsbin/insmod\n");
  assert.deepEqual(links, ["bin/sh", "usr/bin/awk", "sbin/insmod"]);
  assert.equal(busyboxTarget("bin/sh"), "../bin/busybox");
  assert.equal(busyboxTarget("usr/bin/awk"), "../../bin/busybox");
});

Deno.test("withParents adds missing folders, parents first", () => {
  const out = withParents([{ type: "symlink", path: "a/b/c", target: "x" }]);
  assert.deepEqual(out.map((e) => `${e.type}:${e.path}`), ["dir:a", "dir:a/b", "symlink:a/b/c"]);
});

Deno.test("planInitramfs + materialize: init, tools, libraries, modules in load order", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsnlab-test-" });
  try {
    const mods = `${tmp}/lib/modules/9.9.9`;
    await Deno.mkdir(`${mods}/kernel/net`, { recursive: true });
    await Deno.writeTextFile(`${mods}/kernel/net/dep.ko`, "DEP-MODULE");
    await Deno.writeTextFile(`${mods}/kernel/net/top.ko`, "TOP-MODULE");
    const xz = new Deno.Command("xz", { args: ["-z", "-k", `${mods}/kernel/net/top.ko`] });
    assert.ok((await xz.output()).success);
    const host = async (name: string) => {
      await Deno.writeTextFile(`${tmp}/${name}`, `binary ${name}`);
      return `${tmp}/${name}`;
    };
    const plan = planInitramfs({
      release: "9.9.9",
      modulesDir: mods,
      modules: {
        order: ["kernel/net/dep.ko", "kernel/net/top.ko.xz"],
        status: { top: "module", virtio_pci: "builtin" },
      },
      tools: {
        busybox: await host("busybox"),
        ip: await host("ip"),
        tc: await host("tc"),
        bpftool: await host("bpftool"),
        extras: [{ path: "usr/bin/nsenter", src: await host("nsenter") }],
      },
      applets: ["bin/sh", "sbin/insmod", "usr/bin/nsenter"],
      libs: new Map([["libc.so.6", await host("libc")]]),
      loader: await host("ld"),
      init: await Deno.readFile(INIT_SCRIPT),
    });
    const members = readNewc(await materialize(plan));
    const get = (p: string) => members.find((m) => m.path === p);
    const text = (p: string) => new TextDecoder().decode(get(p)?.data);
    assert.equal(get("init")?.mode, 0o100755);
    assert.match(text("init"), /poweroff -f/);
    assert.equal(text("bin/ip"), "binary ip");
    assert.equal(text("bin/tc"), "binary tc");
    assert.equal(text("bin/bpftool"), "binary bpftool");
    assert.equal(text("bin/sh"), "../bin/busybox");
    assert.equal(get("sbin/ip"), undefined);
    // The e2e toolkit's programs at its own paths; the real nsenter wins over busybox's applet.
    assert.equal(text("usr/bin/nsenter"), "binary nsenter");
    assert.equal(text("usr/sbin/ip"), "../../bin/ip");
    assert.equal(text("usr/sbin/bpftool"), "../../bin/bpftool");
    assert.match(text("etc/passwd"), /^tcpdump:x:101:101:/m);
    assert.equal(text("lib64/ld-linux-x86-64.so.2"), "binary ld");
    assert.equal(text("lib/x86_64-linux-gnu/libc.so.6"), "binary libc");
    assert.equal(get("dev/console")?.rdevMajor, 5);
    assert.equal(get("tmp")?.mode, 0o041777);
    // .ko.xz is stored decompressed; the load list names the plain files, dependencies first.
    assert.equal(text("lib/modules/9.9.9/kernel/net/top.ko"), "TOP-MODULE");
    assert.equal(get("lib/modules/9.9.9/kernel/net/top.ko.xz"), undefined);
    assert.equal(
      text("etc/lab/modules"),
      "9.9.9/kernel/net/dep.ko\n9.9.9/kernel/net/top.ko\n",
    );
    assert.deepEqual(JSON.parse(text("etc/lab/modules.json")), {
      top: "module",
      virtio_pci: "builtin",
    });
    // Parents precede children, so the kernel can unpack it in one pass.
    const index = new Map(members.map((m, i) => [m.path, i]));
    for (const m of members) {
      const parent = m.path.includes("/") ? m.path.slice(0, m.path.lastIndexOf("/")) : undefined;
      if (parent) assert.ok((index.get(parent) ?? Infinity) < (index.get(m.path) ?? -1), m.path);
    }
    // The cache key follows the content of the inputs.
    const h1 = await hashPlan(plan, "k");
    await Deno.writeTextFile(`${tmp}/tc`, "binary tc v2");
    assert.notEqual(await hashPlan(plan, "k"), h1);
    assert.notEqual(await hashPlan(plan, "other kernel"), await hashPlan(plan, "k"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("every program the e2e toolkit runs is in the initramfs at its path", () => {
  const paths = new Set([...E2E_TOOLS, ...E2E_LINKS].map((t) => `/${t.path}`));
  for (const [name, path] of Object.entries(BIN)) assert.ok(paths.has(path), `${name}: ${path}`);
});
