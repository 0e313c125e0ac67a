/**
 * Interface name/index lookups (if_nametoindex/if_indextoname through FFI).
 */
import { equal, throws } from "node:assert/strict";
import { BpfError } from "./errors.ts";
import { ifindex, ifname } from "./iface.ts";
import { kernelTest } from "./testutil.ts";

kernelTest({
  name: "ifindex() of an unknown name throws ENODEV; ifname() of an unknown index is undefined",
  fn() {
    throws(
      () => ifindex("tsn-no-such0"),
      (e: unknown) => e instanceof BpfError && e.code === "ENODEV" && e.op === "if_nametoindex",
    );
    throws(
      () => ifindex("x".repeat(16)),
      (e: unknown) => e instanceof BpfError && e.code === "ENODEV",
    );
    equal(ifname(0x7ffffff0), undefined);
    const lo = Number(Deno.readTextFileSync("/sys/class/net/lo/ifindex").trim());
    equal(ifindex("lo"), lo);
    equal(ifname(lo), "lo");
  },
});
