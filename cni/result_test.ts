import { deepEqual, equal, throws } from "node:assert/strict";
import { passThrough } from "./result.ts";
import { CniError } from "./spec.ts";

const v1 = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "eth0", mac: "02:00:00:00:00:01", sandbox: "/run/netns/p" }],
  ips: [{ interface: 0, address: "10.244.1.2/24", gateway: "10.244.1.1" }, {
    address: "fd00::2/64",
  }],
  dns: {},
};

Deno.test("passThrough() returns the very same object when versions match", () => {
  equal(passThrough(v1, "1.0.0"), v1);
});

Deno.test("passThrough() converts 1.x to 0.4.0 by adding each ip's version", () => {
  const out = passThrough(v1, "0.4.0");
  equal(out.cniVersion, "0.4.0");
  deepEqual((out.ips as { version: string }[]).map((i) => i.version), ["4", "6"]);
  equal(v1.cniVersion, "1.0.0", "input untouched");
});

Deno.test("passThrough() converts 0.3.1 to 1.1.0 by dropping ip versions", () => {
  const old = { cniVersion: "0.3.1", ips: [{ version: "4", address: "10.0.0.2/24" }] };
  deepEqual(passThrough(old, "1.1.0"), { cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/24" }] });
});

Deno.test("passThrough() refuses results older than 0.3.0 and fills a missing version", () => {
  throws(() => passThrough({ cniVersion: "0.2.0", ip4: {} }, "1.0.0"), CniError);
  deepEqual(passThrough({ ips: [] }, "1.0.0"), { cniVersion: "1.0.0", ips: [] });
});
