import { deepEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import { checkPodId } from "@tsn-proxy/bpf/datapath";
import {
  attachmentId,
  AttachmentIndex,
  type AttachmentRecord,
  parseAttachments,
} from "./attachments.ts";

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

Deno.test("parseAttachments() names the field that breaks an index file, and why", () => {
  const rec: AttachmentRecord = {
    id: "a-eth0-1",
    network: "k8s",
    containerId: "a",
    ifname: "eth0",
    netns: "/run/netns/a",
    podNamespace: "ns",
    maxPriority: null,
    defaultPriority: 2,
    txtime: { allowed: true, horizonNs: "0" },
    optInSource: "test",
    status: "attached",
    since: new Date(0).toISOString(),
  };
  const file = (attachments: unknown[], extra = {}) =>
    JSON.stringify({ version: 1, attachments, ...extra });
  deepEqual(parseAttachments(file([rec]), "f.json"), [rec]);
  const refuses = (text: string, why: RegExp) =>
    throws(() => parseAttachments(text, "f.json"), why);
  refuses("{", /f\.json: the file: not JSON/);
  refuses('{"version":2,"attachments":[]}', /f\.json: the file: not a tsn-proxy attachment index/);
  refuses(file([], { owner: "x" }), /f\.json: the file: unknown field "owner"/);
  refuses('{"version":1,"attachments":{}}', /f\.json: attachments: an object, not a list/);
  refuses(file([7]), /attachments\[0\]: a number, not an object/);
  refuses(file([{ ...rec, admin: true }]), /attachments\[0\]: unknown field "admin"/);
  refuses(file([{ ...rec, id: undefined }]), /attachments\[0\]\.id: missing, not a string/);
  refuses(file([{ ...rec, netns: 5 }]), /attachments\[0\]\.netns: a number, not a string/);
  refuses(file([{ ...rec, netns: "x".repeat(4097) }]), /attachments\[0\]\.netns: longer than/);
  refuses(file([{ ...rec, maxPriority: "3" }]), /\.maxPriority: a string, not null or an integer/);
  refuses(file([{ ...rec, maxPriority: 2 ** 32 }]), /\.maxPriority: a number, not null or an/);
  refuses(file([{ ...rec, defaultPriority: -1 }]), /\.defaultPriority: a number, not an integer/);
  refuses(file([{ ...rec, txtime: { allowed: 1 } }]), /attachments\[0\]\.txtime: not \{ allowed/);
  refuses(file([{ ...rec, status: "gone" }]), /attachments\[0\]\.status: not pending or attached/);
  refuses(file([{ ...rec, podName: [] }]), /attachments\[0\]\.podName: a list, not a string/);
});
