import { deepStrictEqual, equal, match, ok } from "node:assert/strict";
import {
  BpfError,
  describeErrno,
  ERRNO,
  errnoName,
  errnoNumber,
  ERROR_LOG_LINES,
  isBpfError,
} from "./errors.ts";

Deno.test("errnoName() names the common errno values, also negated ones", () => {
  equal(errnoName(1), "EPERM");
  equal(errnoName(2), "ENOENT");
  equal(errnoName(-13), "EACCES");
  equal(errnoName(17), "EEXIST");
  equal(errnoName(19), "ENODEV");
  equal(errnoName(22), "EINVAL");
  equal(errnoName(95), "EOPNOTSUPP");
  equal(errnoName(524), "ENOTSUPP");
  equal(errnoName(4007), "LIBBPF_ERRNO__VERIFY");
  equal(errnoName(9999), "ERRNO_9999");
});

Deno.test("errno names and numbers are a bijection", () => {
  const numbers = Object.values(ERRNO);
  equal(new Set(numbers).size, numbers.length);
  for (const [name, n] of Object.entries(ERRNO)) {
    equal(errnoName(n), name);
    equal(errnoNumber(name), n);
  }
  equal(errnoNumber("toString"), undefined);
  equal(errnoNumber("ENOPE"), undefined);
});

Deno.test("describeErrno() uses glibc's words", () => {
  equal(describeErrno(1), "Operation not permitted");
  equal(describeErrno(-2), "No such file or directory");
  equal(describeErrno(9999), "ERRNO_9999");
});

Deno.test("BpfError carries op, errno, code and the last log lines in its message", () => {
  const log = Array.from({ length: 100 }, (_, i) => `line ${i}`);
  const e = new BpfError("bpf_object__load", -1, { log, detail: "x.bpf.o" });
  ok(e instanceof Error);
  equal(e.name, "BpfError");
  equal(e.op, "bpf_object__load");
  equal(e.errno, 1);
  equal(e.code, "EPERM");
  equal(e.log.length, ERROR_LOG_LINES);
  equal(e.log[0], "line 60");
  equal(e.log.at(-1), "line 99");
  match(e.message, /^bpf_object__load: EPERM \(Operation not permitted\): x\.bpf\.o\n/);
  match(e.message, /--- libbpf log \(last 40 lines\) ---\nline 60\n/);
  ok(!e.message.includes("line 59\n"));
  ok(Object.isFrozen(e.log));
});

Deno.test("BpfError without log has a one-line message; cause is kept", () => {
  const cause = new Error("inner");
  const e = new BpfError("bpf_obj_get", 2, { cause });
  equal(e.message, "bpf_obj_get: ENOENT (No such file or directory)");
  equal(e.cause, cause);
  deepStrictEqual(e.log, []);
});

Deno.test("isBpfError() filters by code", () => {
  const e = new BpfError("x", 17);
  ok(isBpfError(e));
  ok(isBpfError(e, "EEXIST", "ENOENT"));
  ok(!isBpfError(e, "ENOENT"));
  ok(!isBpfError(new Error("x")));
});
