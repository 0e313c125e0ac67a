import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import { checkPodId } from "@tsn-proxy/bpf/datapath";
import { attachmentId, AttachmentIndex, type AttachmentRecord } from "./attachments.ts";

Deno.test("attachmentId() is readable, stable, valid for the datapath and per network", () => {
  const cid = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
  const id = attachmentId("k8s", cid, "eth0");
  ok(id.startsWith("3f2a9c1b7d4e-eth0-"), id);
  equal(attachmentId("k8s", cid, "eth0"), id);
  notEqual(attachmentId("other", cid, "eth0"), id);
  notEqual(attachmentId("k8s", cid, "net1"), attachmentId("k8s", cid, "net2"));
  for (const [c, i] of [[cid, "eth0"], ["a", "x@y"], ["_.-x", "e"]] as const) {
    checkPodId(attachmentId("n", c, i));
  }
});

Deno.test("AttachmentIndex keeps records across instances and replaces by id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-index-" });
  try {
    const path = `${dir}/sub/attachments.json`;
    const rec: AttachmentRecord = {
      id: "a-eth0-1",
      network: "k8s",
      containerId: "a",
      ifname: "eth0",
      netns: "/run/netns/a",
      maxPriority: 3,
      optInSource: "test",
      status: "pending",
      since: new Date(0).toISOString(),
    };
    const i1 = new AttachmentIndex(path);
    deepEqual(i1.list(), []);
    i1.put(rec);
    i1.put({ ...rec, status: "attached" });
    const i2 = new AttachmentIndex(path);
    deepEqual(i2.list(), [{ ...rec, status: "attached" }]);
    equal(i2.remove("a-eth0-1"), true);
    equal(i2.remove("a-eth0-1"), false);
    i2.clear();
    i2.clear();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
