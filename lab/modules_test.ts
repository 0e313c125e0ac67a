import assert from "node:assert/strict";
import {
  MissingModuleError,
  moduleName,
  moduleStatus,
  parseModulesDep,
  resolveModules,
  resolveSoft,
} from "./modules.ts";

// A trimmed copy of Debian 6.12's modules.dep/.builtin/.softdep/.alias for the lab's modules.
const DEP = `
kernel/net/sched/sch_taprio.ko.xz: kernel/net/sched/sch_mqprio_lib.ko.xz
kernel/net/sched/sch_mqprio_lib.ko.xz:
kernel/net/sched/sch_mqprio.ko.xz: kernel/net/sched/sch_mqprio_lib.ko.xz
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet.ko.xz: kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
kernel/fs/netfs/netfs.ko.xz:
kernel/net/netfilter/nf_tables.ko.xz: kernel/net/netfilter/nfnetlink.ko.xz kernel/lib/libcrc32c.ko.xz
kernel/net/netfilter/nfnetlink.ko.xz:
kernel/lib/libcrc32c.ko.xz:
kernel/crypto/crc32c_generic.ko.xz:
kernel/arch/x86/crypto/crc32c-intel.ko.xz:
kernel/net/8021q/8021q.ko.xz: kernel/net/802/garp.ko.xz kernel/net/802/stp.ko.xz kernel/net/802/mrp.ko.xz kernel/net/llc/llc.ko.xz
kernel/net/802/garp.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz
kernel/net/802/stp.ko.xz: kernel/net/llc/llc.ko.xz
kernel/net/802/mrp.ko.xz:
kernel/net/llc/llc.ko.xz:
`;
const BUILTIN = "kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/virtio/virtio.ko\n";
const SOFTDEP = "# comment\nsoftdep libcrc32c pre: crc32c\nsoftdep xt_LOG pre: nf_log_syslog\n";
const ALIAS =
  "alias crypto-crc32c crc32c_intel\nalias crc32c crc32c_intel\nalias crc32c crc32c_generic\n" +
  "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n";

const index = parseModulesDep(DEP, BUILTIN, SOFTDEP, ALIAS);
const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);

Deno.test("moduleName normalises paths, suffixes and dashes", () => {
  assert.equal(moduleName("kernel/net/sched/sch_taprio.ko.xz"), "sch_taprio");
  assert.equal(moduleName("kernel/arch/x86/crypto/crc32c-intel.ko"), "crc32c_intel");
  assert.equal(moduleName("kernel/fs/9p/9p.ko.zst"), "9p");
});

Deno.test("resolveModules puts every dependency before its user, each once", () => {
  const r = resolveModules(index, ["9p", "9pnet_virtio", "sch_taprio", "sch_mqprio", "8021q"]);
  const order = r.order.map(base);
  assert.deepEqual(order, [
    "netfs.ko.xz",
    "9pnet.ko.xz",
    "9p.ko.xz",
    "9pnet_virtio.ko.xz",
    "sch_mqprio_lib.ko.xz",
    "sch_taprio.ko.xz",
    "sch_mqprio.ko.xz",
    "llc.ko.xz",
    "stp.ko.xz",
    "garp.ko.xz",
    "mrp.ko.xz",
    "8021q.ko.xz",
  ]);
  assert.equal(new Set(r.order).size, r.order.length);
});

Deno.test("soft dependencies load first; the generic implementation wins an alias", () => {
  assert.equal(resolveSoft(index, "crc32c"), "crc32c_generic");
  const order = resolveModules(index, ["nf_tables"]).order.map(base);
  assert.ok(order.indexOf("crc32c_generic.ko.xz") < order.indexOf("libcrc32c.ko.xz"));
  assert.ok(order.indexOf("libcrc32c.ko.xz") < order.indexOf("nf_tables.ko.xz"));
  assert.ok(!order.includes("crc32c-intel.ko.xz"));
});

Deno.test("built-in modules need no loading; missing ones are an error naming them", () => {
  const r = resolveModules(index, ["virtio_pci", "netfs"]);
  assert.deepEqual(r.status, { virtio_pci: "builtin", netfs: "module" });
  assert.deepEqual(r.order.map(base), ["netfs.ko.xz"]);
  assert.deepEqual(moduleStatus(index, ["fscache"]), { fscache: "missing" });
  assert.throws(
    () => resolveModules(index, ["veth", "sch_taprio", "fscache"], "linux-image-6.12"),
    (e: unknown) =>
      e instanceof MissingModuleError && e.message.includes("veth, fscache") &&
      e.message.includes("linux-image-6.12"),
  );
});

Deno.test("a dependency cycle or a dangling dependency is reported", () => {
  const cyc = parseModulesDep("a.ko: b.ko\nb.ko: a.ko\n", "");
  assert.throws(() => resolveModules(cyc, ["a"]), /cycle: a.ko -> b.ko -> a.ko/);
  const dangling = parseModulesDep("a.ko: gone.ko\n", "");
  assert.throws(() => resolveModules(dangling, ["a"]), /gone.ko/);
  assert.throws(() => parseModulesDep("no colon here\n", ""), /bad modules.dep line/);
});
