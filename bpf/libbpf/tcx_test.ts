import { deepStrictEqual, equal } from "node:assert/strict";
import { BPF_MPROG_FLAGS, encodeTcxLinkCreate, TCX_LINK_CREATE_ATTR_SIZE } from "./tcx.ts";

Deno.test("encodeTcxLinkCreate() lays out union bpf_attr.link_create with the tcx member", () => {
  const raw = encodeTcxLinkCreate({
    progFd: 5,
    ifindex: 0x0203,
    attachType: 47,
    flags: BPF_MPROG_FLAGS.BEFORE,
    relativeFd: 9,
    expectedRevision: 0x1_0000_0002n,
  });
  equal(raw.length, TCX_LINK_CREATE_ATTR_SIZE);
  deepStrictEqual([...raw], [
    ...[5, 0, 0, 0], // prog_fd
    ...[3, 2, 0, 0], // target_ifindex
    ...[47, 0, 0, 0], // attach_type
    ...[8, 0, 0, 0], // flags = BPF_F_BEFORE
    ...[9, 0, 0, 0], // tcx.relative_fd
    ...[0, 0, 0, 0], // padding (expected_revision is 8-aligned)
    ...[2, 0, 0, 0, 1, 0, 0, 0], // tcx.expected_revision
  ]);
});

Deno.test("BPF_MPROG_FLAGS match linux/bpf.h", () => {
  deepStrictEqual(BPF_MPROG_FLAGS, { REPLACE: 4, BEFORE: 8, AFTER: 16, ID: 32 });
});
