import assert from "node:assert/strict";
import {
  checkRepoPath,
  GUEST_RUNNER,
  partlySharedMembers,
  partMemberConfig,
  prepareShare,
  sharedRootConfig,
  workspaceMembers,
} from "./share.ts";
import { exists } from "@tsn-proxy/sim/netns";

Deno.test("checkRepoPath accepts relative paths only", () => {
  assert.equal(checkRepoPath("./bpf/"), "bpf");
  assert.equal(checkRepoPath("sim/bpf"), "sim/bpf");
  assert.throws(() => checkRepoPath("/etc"), /relative/);
  assert.throws(() => checkRepoPath("bpf/../.."), /relative/);
  assert.throws(() => checkRepoPath(""), /relative/);
});

Deno.test("workspaceMembers reads both workspace forms", () => {
  assert.deepEqual(workspaceMembers('{"workspace":["./bpf","./e2e"]}'), ["bpf", "e2e"]);
  assert.deepEqual(workspaceMembers('{"workspace":{"members":["./cli"]}}'), ["cli"]);
  assert.deepEqual(workspaceMembers("{}"), []);
});

Deno.test("sharedRootConfig keeps only the shared members, in both workspace forms", () => {
  const text = '{"workspace":["./bpf","./e2e","./agent"],"nodeModulesDir":"auto"}';
  assert.deepEqual(JSON.parse(sharedRootConfig(text, ["deno.json", "lab", "bpf", "e2e"])), {
    workspace: ["./bpf", "./e2e"],
    nodeModulesDir: "auto",
  });
  const obj = '{"workspace":{"members":["./cli","./lab"]}}';
  assert.deepEqual(JSON.parse(sharedRootConfig(obj, ["lab"])), {
    workspace: { members: ["./lab"] },
  });
});

Deno.test("a partly shared member is listed, with its config stripped of npm imports", () => {
  const text = '{"workspace":["./bpf","./agent"]}';
  const paths = ["deno.json", "lab", "bpf", "agent/clock"];
  assert.deepEqual(partlySharedMembers(text, paths), ["agent"]);
  assert.deepEqual(JSON.parse(sharedRootConfig(text, paths)).workspace, ["./bpf", "./agent"]);
  assert.deepEqual(partlySharedMembers(text, ["bpf", "agent"]), []);
  const own = '{"name":"@tsn-proxy/agent","exports":{"./clock":"./clock/mod.ts"},' +
    '"imports":{"yaml":"npm:yaml@^2.5.0"}}';
  assert.deepEqual(JSON.parse(partMemberConfig(own)), {
    name: "@tsn-proxy/agent",
    exports: { "./clock": "./clock/mod.ts" },
  });
});

Deno.test("prepareShare: deno, its libraries, libbpf, the loader, BPF objects, repo copy", async () => {
  const plan = await Deno.makeTempFile();
  await Deno.writeTextFile(plan, '{"rounds":3}');
  const share = await prepareShare({ repoPaths: ["strategies"], files: { "plan.json": plan } });
  await Deno.remove(plan);
  try {
    const has = (p: string) => exists(`${share.dir}/${p}`);
    for (
      const p of [
        "bin/deno",
        "lib/ld-linux-x86-64.so.2",
        "lib/libbpf.so.1",
        "lib/libelf.so.1",
        "lib/libz.so.1",
        "lib/libc.so.6",
        "lib/libgcc_s.so.1",
        "obj/fexit_skb_clone.bpf.o",
        "repo/deno.json",
        "repo/lab/guest/run.sh",
        "repo/lab/guest/scenarios/taprio.sh",
        "repo/strategies/mod.ts",
      ]
    ) assert.ok(await has(p), p);
    assert.equal(GUEST_RUNNER, "/lab/repo/lab/guest/run.sh");
    assert.equal(await Deno.readTextFile(`${share.dir}/extra/plan.json`), '{"rounds":3}');
    // The shared root config names exactly the members that are shared, each with its config.
    const root = JSON.parse(await Deno.readTextFile(`${share.dir}/repo/deno.json`));
    const members = workspaceMembers(JSON.stringify(root));
    assert.deepEqual(members.sort(), ["lab", "strategies"]);
    for (const m of members) assert.ok(await has(`repo/${m}/deno.json`), m);
    // The mtime rides along (build steps compare it).
    const src = await Deno.stat(new URL("./guest/run.sh", import.meta.url));
    const dst = await Deno.stat(`${share.dir}/repo/lab/guest/run.sh`);
    assert.equal(dst.mtime?.getTime(), src.mtime?.getTime());
    // The BPF object is an ELF for the BPF machine (EM_BPF = 247), without DWARF.
    const obj = await Deno.readFile(`${share.dir}/obj/fexit_skb_clone.bpf.o`);
    assert.deepEqual([...obj.slice(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.equal(obj[18], 247);
    const sections = new TextDecoder().decode(obj);
    assert.ok(sections.includes("fexit/skb_clone"));
    assert.ok(!sections.includes(".debug_info"));
    // The shipped deno runs through the shipped loader and libraries.
    const out = await new Deno.Command(`${share.dir}/lib/ld-linux-x86-64.so.2`, {
      args: ["--library-path", `${share.dir}/lib`, `${share.dir}/bin/deno`, "--version"],
      stdout: "piped",
    }).output();
    assert.ok(out.success);
    assert.match(new TextDecoder().decode(out.stdout), /^deno 2\./);
  } finally {
    await share.cleanup();
  }
  assert.ok(!await exists(share.dir));
});

Deno.test("prepareShare refuses a path outside the repository or one that does not exist", async () => {
  await assert.rejects(() => prepareShare({ repoPaths: ["../etc"] }), /relative/);
  await assert.rejects(() => prepareShare({ repoPaths: ["no/such/dir"] }), /does not exist/);
  await assert.rejects(
    () => prepareShare({ files: { "../plan.json": "/etc/hostname" } }),
    /bad extra file name/,
  );
});
