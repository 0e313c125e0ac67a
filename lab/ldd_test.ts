import assert from "node:assert/strict";
import { lddClosure, parseLdd } from "./ldd.ts";

const IP = `	linux-vdso.so.1 (0x00007ff2496d5000)
	libbpf.so.1 => /lib/x86_64-linux-gnu/libbpf.so.1 (0x00007ff249574000)
	libelf.so.1 => /lib/x86_64-linux-gnu/libelf.so.1 (0x00007ff249559000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007ff24934b000)
	/lib64/ld-linux-x86-64.so.2 (0x00007ff2496d7000)
`;

Deno.test("parseLdd: libraries, loader, vdso skipped", () => {
  const r = parseLdd(IP);
  assert.deepEqual([...r.libs.keys()], ["libbpf.so.1", "libelf.so.1", "libc.so.6"]);
  assert.equal(r.libs.get("libc.so.6"), "/lib/x86_64-linux-gnu/libc.so.6");
  assert.equal(r.loader, "/lib64/ld-linux-x86-64.so.2");
  assert.equal(parseLdd("\tnot a dynamic executable\n").loader, undefined);
});

Deno.test("parseLdd: a missing library or an odd line is an error", () => {
  assert.throws(() => parseLdd("\tlibfoo.so.1 => not found\n", "tc"), /tc: library libfoo.so.1/);
  assert.throws(() => parseLdd("\tsomething odd\n"), /cannot parse/);
});

Deno.test("lddClosure of the host's libbpf has libelf and libz", async () => {
  const r = await lddClosure(["/usr/lib/x86_64-linux-gnu/libbpf.so.1"]);
  assert.ok(r.libs.has("libelf.so.1"));
  assert.ok(r.libs.has("libz.so.1"));
  assert.ok(r.loader?.endsWith("ld-linux-x86-64.so.2"));
});
