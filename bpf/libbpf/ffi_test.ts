import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { copyFromPointer, cString, errno, libbpf, libc, readCString } from "./ffi.ts";

Deno.test("cString() NUL-terminates and refuses embedded NULs", () => {
  deepStrictEqual([...cString("lo")], [108, 111, 0]);
  deepStrictEqual([...cString("")], [0]);
  throws(() => cString("a\0b"), TypeError);
});

Deno.test("readCString() and copyFromPointer() read native memory; NULL is undefined", () => {
  const buf = cString("tsn");
  const p = Deno.UnsafePointer.of(buf)!;
  equal(readCString(p), "tsn");
  equal(readCString(null), undefined);
  deepStrictEqual([...copyFromPointer(p, 4)], [116, 115, 110, 0]);
});

Deno.test("errno() reads the calling thread's errno right after a failing libc call", () => {
  equal(libc().close(-1), -1);
  equal(errno(), 9); // EBADF
  equal(libc().if_nametoindex(cString("tsn-no-such0")), 0);
  equal(errno(), 19); // ENODEV
});

Deno.test("libbpf.so.1 opens and answers a trivial call", () => {
  const n = libbpf().libbpf_num_possible_cpus();
  equal(Number.isInteger(n) && n >= 1, true);
});
