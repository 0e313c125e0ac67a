import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { checkIfname, parseIfnames, parseUint, required, UsageError } from "./args.ts";

Deno.test("parseIfnames() splits, trims and checks a list", () => {
  deepStrictEqual(parseIfnames("nic0, eth1.100"), ["nic0", "eth1.100"]);
});

Deno.test("parseIfnames() refuses empty lists, duplicates and bad names", () => {
  throws(() => parseIfnames(" , "), UsageError);
  throws(() => parseIfnames("nic0,nic0"), /listed twice/);
  throws(() => parseIfnames("a/b"), /invalid interface name "a\/b"/);
});

Deno.test("checkIfname() enforces IFNAMSIZ", () => {
  equal(checkIfname("a".repeat(15)), "a".repeat(15));
  throws(() => checkIfname("a".repeat(16)), UsageError);
  throws(() => checkIfname(".."), UsageError);
});

Deno.test("parseUint() accepts only whole numbers in range", () => {
  equal(parseUint("max-priority", "7", 0, 15), 7);
  throws(() => parseUint("max-priority", "16", 0, 15), /from 0 to 15, got "16"/);
  throws(() => parseUint("n", "-1"), UsageError);
  throws(() => parseUint("n", "1e3"), UsageError);
});

Deno.test("required() names the missing flag", () => {
  throws(() => required("bpffs", undefined), /--bpffs is required/);
  equal(required("bpffs", "/sys/fs/bpf/x"), "/sys/fs/bpf/x");
});
