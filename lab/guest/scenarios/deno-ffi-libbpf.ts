/**
 * Smoke scenario: Deno runs from the 9p share and reaches libbpf through FFI.
 * Result: `{ major, minor, version, path, deno }`.
 */
import { writeResult } from "../result.ts";

const lib = Deno.dlopen("libbpf.so.1", {
  libbpf_major_version: { parameters: [], result: "u32" },
  libbpf_minor_version: { parameters: [], result: "u32" },
  libbpf_version_string: { parameters: [], result: "pointer" },
});
try {
  const major = lib.symbols.libbpf_major_version();
  const minor = lib.symbols.libbpf_minor_version();
  const ptr = lib.symbols.libbpf_version_string();
  const version = ptr === null ? null : Deno.UnsafePointerView.getCString(ptr);
  // Which file the dynamic loader picked.
  const maps = await Deno.readTextFile("/proc/self/maps");
  const path = /\s(\/\S*libbpf\.so[^\s]*)$/m.exec(maps)?.[1] ?? null;
  console.log(`libbpf ${major}.${minor} (${version}) from ${path}`);
  await writeResult({ major, minor, version, path, deno: Deno.version.deno });
} finally {
  lib.close();
}
