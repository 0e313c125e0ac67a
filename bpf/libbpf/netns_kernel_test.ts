/**
 * Kernel tests of withNetns and interface lookups in network namespaces (root).
 */
import { equal, notEqual, throws } from "node:assert/strict";
import { BpfError } from "./errors.ts";
import { ifindex, ifname } from "./iface.ts";
import { currentNetnsInode, withNetns } from "./netns.ts";
import { createNetns, deleteNetns, kernelTest } from "./testutil.ts";

kernelTest({
  name: "withNetns switches this thread and restores the original namespace, also on throw",
  fn() {
    const ns = createNetns();
    try {
      const original = currentNetnsInode();
      const target = Deno.statSync(ns.path).ino;
      notEqual(original, target);

      equal(withNetns(ns.path, () => currentNetnsInode()), target);
      equal(currentNetnsInode(), original);

      let inside: number | undefined;
      throws(() =>
        withNetns(ns.name, () => { // by ip-netns name
          inside = currentNetnsInode();
          throw new RangeError("boom");
        }), RangeError);
      equal(inside, target);
      equal(currentNetnsInode(), original, "not restored after fn threw");

      // A fresh netns has only lo (down, index 1); the host's interfaces are not there.
      withNetns(ns.path, () => {
        equal(ifindex("lo"), 1);
        equal(ifname(1), "lo");
      });
    } finally {
      deleteNetns(ns);
    }
  },
});

kernelTest({
  name: "withNetns refuses async functions after restoring, and bad namespace paths",
  async fn() {
    const ns = createNetns();
    try {
      const original = currentNetnsInode();
      throws(
        // @ts-expect-error: async functions are refused by the type as well
        () => withNetns(ns.path, async () => await Promise.resolve(1)),
        TypeError,
      );
      equal(currentNetnsInode(), original);
      throws(
        // @ts-expect-error: a rejected Promise is refused too, and its rejection is handled
        () => withNetns(ns.path, () => Promise.reject(new Error("late"))),
        TypeError,
      );
      equal(currentNetnsInode(), original);
      await new Promise((r) => setTimeout(r, 10)); // an unhandled rejection would fail the test

      throws(
        () => withNetns("/run/netns/tsn-test-does-not-exist", () => 1),
        (e: unknown) => e instanceof BpfError && e.code === "ENOENT" && e.op === "open",
      );
      // Not a namespace file: setns refuses it.
      throws(
        () => withNetns("/proc/self/status", () => 1),
        (e: unknown) => e instanceof BpfError && e.code === "EINVAL" && e.op === "setns",
      );
      equal(currentNetnsInode(), original);
    } finally {
      deleteNetns(ns);
    }
  },
});
