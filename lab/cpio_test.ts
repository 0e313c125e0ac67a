import assert from "node:assert/strict";
import { cpioNewc, gunzip, gzip, readNewc } from "./cpio.ts";

const enc = new TextEncoder();

const ENTRIES = [
  { type: "dir", path: "bin", mode: 0o755 },
  { type: "file", path: "bin/hello", mode: 0o755, data: enc.encode("#!/bin/sh\necho hi\n") },
  { type: "file", path: "empty", mode: 0o644, data: new Uint8Array() },
  { type: "file", path: "odd-1", mode: 0o600, data: enc.encode("x") },
  { type: "symlink", path: "bin/sh", target: "busybox" },
  { type: "char", path: "console", mode: 0o600, major: 5, minor: 1 },
] as const;

Deno.test("cpioNewc: members round-trip with 4-byte alignment and a trailer", () => {
  const archive = cpioNewc(ENTRIES);
  assert.equal(archive.length % 4, 0);
  const members = readNewc(archive);
  assert.deepEqual(members.map((m) => m.path), ENTRIES.map((e) => e.path));
  const byPath = new Map(members.map((m) => [m.path, m]));
  assert.equal(byPath.get("bin")?.mode, 0o040755);
  assert.equal(new TextDecoder().decode(byPath.get("bin/hello")?.data), "#!/bin/sh\necho hi\n");
  assert.equal(byPath.get("bin/hello")?.mode, 0o100755);
  assert.equal(byPath.get("bin/sh")?.mode, 0o120777);
  assert.equal(new TextDecoder().decode(byPath.get("bin/sh")?.data), "busybox");
  assert.equal(byPath.get("console")?.mode, 0o020600);
  assert.equal(byPath.get("console")?.rdevMajor, 5);
  assert.equal(byPath.get("console")?.rdevMinor, 1);
  assert.ok(new TextDecoder().decode(archive.slice(-140)).includes("TRAILER!!!"));
  // Deterministic: the same entries give the same bytes.
  assert.deepEqual(cpioNewc(ENTRIES), archive);
});

Deno.test("cpioNewc rejects absolute, parent and duplicate paths", () => {
  assert.throws(() => cpioNewc([{ type: "dir", path: "/abs", mode: 0o755 }]), /bad cpio path/);
  assert.throws(() => cpioNewc([{ type: "dir", path: "a/../b", mode: 0o755 }]), /bad cpio path/);
  assert.throws(
    () =>
      cpioNewc([{ type: "dir", path: "a", mode: 0o755 }, { type: "dir", path: "a", mode: 0o755 }]),
    /duplicate/,
  );
});

Deno.test("GNU cpio reads our archive (format cross-check)", async () => {
  const archive = cpioNewc(ENTRIES);
  const child = new Deno.Command("cpio", {
    args: ["-t", "-v", "--quiet"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(archive);
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const listing = new TextDecoder().decode(out.stdout);
  assert.match(listing, /^drwxr-xr-x .* bin$/m);
  assert.match(listing, /^-rwxr-xr-x .* 18 .* bin\/hello$/m);
  assert.match(listing, /^lrwxrwxrwx .* bin\/sh -> busybox$/m);
  assert.match(listing, /^crw------- .* 5,\s*1 .* console$/m);
});

Deno.test("gzip round-trips and starts with the gzip magic", async () => {
  const data = cpioNewc(ENTRIES);
  const gz = await gzip(data);
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
  assert.deepEqual(await gunzip(gz), data);
});
