/**
 * The rtnetlink client against the running kernel, in a fresh netns: a veth pair's kind and its
 * deletion, and a netkit pair where the kernel has netkit (read back with its mode and scrub), or
 * the kernel's refusal where it has not (the host's 6.18 is built without netkit; the 6.12 lab guest
 * has it: lab/netkit_vm_kernel_test.ts).
 */
import { equal, ok, throws } from "node:assert/strict";
import { BpfError } from "./errors.ts";
import { withNetns } from "./netns.ts";
import { createNetkit, deleteLink, getLink, podLinkVerdict } from "./rtnetlink.ts";
import { createNetns, deleteNetns, kernelTest, sh } from "./testutil.ts";

kernelTest({
  name: "rtnetlink: a veth's kind, deletion, and netkit created or refused as the kernel can",
  fn() {
    const ns = createNetns();
    try {
      sh("ip", "-n", ns.name, "link", "add", "v0", "type", "veth", "peer", "name", "v1");
      withNetns(ns.path, () => {
        const v0 = getLink({ name: "v0" });
        equal(v0.kind, "veth");
        equal(v0.netkit, undefined);
        equal(getLink({ ifindex: v0.ifindex }).name, "v0");
        equal(podLinkVerdict(v0).saverNeeded, true);
        deleteLink("v0");
        throws(
          () => getLink({ name: "v1" }),
          (e: unknown) => e instanceof BpfError && e.code === "ENODEV",
        );

        // Whether the kernel has netkit is what this call probes; both outcomes are checked.
        let made = true;
        try {
          createNetkit({ name: "nk0", peerName: "nk1", mode: "l2" });
        } catch (e) {
          made = false;
          ok(e instanceof BpfError && e.code === "EOPNOTSUPP", String(e));
        }
        console.log(`netkit on ${Deno.osRelease()}: ${made ? "created" : "EOPNOTSUPP"}`);
        if (!made) {
          throws(() => getLink({ name: "nk0" }), (e: unknown) => e instanceof BpfError);
        } else {
          const nk = getLink({ name: "nk0" });
          equal(nk.kind, "netkit");
          equal(nk.netkit?.primary, true);
          equal(nk.netkit?.mode, "l2");
          equal(getLink({ name: "nk1" }).netkit?.primary, false);
          deleteLink("nk0");
        }
      });
    } finally {
      deleteNetns(ns);
    }
  },
});
