/**
 * Kernel tests of TCX ordering and revisions (root, kernel 6.6+).
 */
import { deepStrictEqual, throws } from "node:assert/strict";
import { kernelHasTcx } from "./btf_kernel.ts";
import { BpfError } from "./errors.ts";
import { ifindex } from "./iface.ts";
import { withNetns } from "./netns.ts";
import { BpfObject } from "./object.ts";
import { attachTcx, tcxQuery } from "./tcx.ts";
import { CORE_OBJECT, createNetns, deleteNetns, kernelTest, sh, TC_ONLY } from "./testutil.ts";

kernelTest({
  name: "TCX order: appended by default, first with { first: true }; stale revision refused",
  fn() {
    if (!kernelHasTcx()) {
      throw new Error("this kernel has no TCX (no BPF_TCX_EGRESS in its BTF; TCX needs 6.6+)");
    }
    const ns = createNetns();
    try {
      sh("ip", "-n", ns.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
      using obj = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
      obj.load();
      const saver = obj.program("tsn_saver");
      const restorer = obj.program("tsn_restorer");
      using obj2 = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
      obj2.load();
      const other = obj2.program("tsn_saver"); // a second instance: another program
      const [saverId, restorerId, otherId] = [saver.info().id, restorer.info().id, other.info().id];
      withNetns(ns.path, () => {
        const idx = ifindex("veth0");
        deepStrictEqual(tcxQuery(idx, "egress"), []);
        using a = attachTcx(saver, idx, "egress");
        using b = attachTcx(restorer, idx, "egress", { first: true });
        deepStrictEqual(tcxQuery(idx, "egress"), [restorerId, saverId]);
        // The same program twice on one hook is refused.
        throws(
          () => attachTcx(saver, idx, "egress"),
          (e: unknown) => e instanceof BpfError && e.code === "EEXIST",
        );
        using c = attachTcx(other, idx, "egress");
        deepStrictEqual(tcxQuery(idx, "egress"), [restorerId, saverId, otherId]);
        deepStrictEqual(tcxQuery(idx, "ingress"), []);
        throws(
          () => attachTcx(saver, idx, "egress", { expectedRevision: 1n }),
          (e: unknown) =>
            e instanceof BpfError && e.code === "ESTALE" && e.op === "bpf(BPF_LINK_CREATE)",
        );
        b.detach();
        deepStrictEqual(tcxQuery(idx, "egress"), [saverId, otherId]);
        a.detach();
        c.detach();
        deepStrictEqual(tcxQuery(idx, "egress"), []);
        throws(
          () => attachTcx(saver, 0x7ffffff0, "egress", { first: true }),
          (e: unknown) => e instanceof BpfError && e.code === "ENODEV",
        );
      });
    } finally {
      deleteNetns(ns);
    }
  },
});
