import { equal, throws } from "node:assert/strict";
import { fdKind, libbpfInt, libbpfIntOr, libbpfPtr, libcInt } from "./call.ts";
import { BpfError } from "./errors.ts";
import { libc } from "./ffi.ts";

Deno.test("libbpfInt() passes results through and turns -errno into BpfError", () => {
  equal(libbpfInt("op", () => 7), 7);
  throws(
    () => libbpfInt("bpf_x", () => -2, { detail: "d" }),
    (e: unknown) =>
      e instanceof BpfError && e.op === "bpf_x" && e.code === "ENOENT" && /: d$/.test(e.message),
  );
  // -1 is EPERM in libbpf 1.x, whatever errno says.
  throws(
    () => libbpfInt("bpf_y", () => -1),
    (e: unknown) => e instanceof BpfError && e.code === "EPERM",
  );
});

Deno.test("libbpfIntOr() returns allowed failures, by list or by predicate", () => {
  equal(libbpfIntOr("op", () => -2, [2]), -2);
  throws(() => libbpfIntOr("op", () => -22, [2]), BpfError);
  equal(libbpfIntOr("op", () => -22, (e, log) => e === 22 && log.length === 0), -22);
});

Deno.test("libbpfPtr() takes errno for NULL; libcInt() for -1", () => {
  throws(() =>
    libbpfPtr("ptr_op", () => {
      libc().close(-1); // sets errno = EBADF
      return null;
    }), (e: unknown) => e instanceof BpfError && e.code === "EBADF");
  throws(
    () => libcInt("close", () => libc().close(-1)),
    (e: unknown) => e instanceof BpfError && e.op === "close" && e.code === "EBADF",
  );
});

Deno.test("fdKind() says 'other' for non-BPF fds", () => {
  equal(fdKind(0), "other");
  equal(fdKind(987654), "other");
});
