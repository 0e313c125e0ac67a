import { deepStrictEqual, equal } from "node:assert/strict";
import {
  decodeTcOpts,
  encodeTcHook,
  encodeTcOpts,
  TC_HOOK_SIZE,
  TC_OPTS_SIZE,
  TcAttachPoint,
} from "./tc_legacy.ts";

Deno.test("encodeTcHook() lays out struct bpf_tc_hook (24 bytes, sz first)", () => {
  const raw = encodeTcHook({ ifindex: 0x01020304, attachPoint: TcAttachPoint.EGRESS, parent: 0xa });
  equal(raw.length, TC_HOOK_SIZE);
  deepStrictEqual(
    [...raw],
    [
      ...[24, 0, 0, 0, 0, 0, 0, 0], // size_t sz
      ...[4, 3, 2, 1], // int ifindex
      ...[2, 0, 0, 0], // enum bpf_tc_attach_point attach_point = BPF_TC_EGRESS
      ...[0xa, 0, 0, 0], // __u32 parent
      ...[0, 0, 0, 0], // padding (size_t :0)
    ],
  );
});

Deno.test("encodeTcOpts() lays out struct bpf_tc_opts (32 bytes, sz first)", () => {
  const raw = encodeTcOpts({ progFd: 7, flags: 1, progId: 0x100, handle: 2, priority: 3 });
  equal(raw.length, TC_OPTS_SIZE);
  deepStrictEqual(
    [...raw],
    [
      ...[32, 0, 0, 0, 0, 0, 0, 0], // size_t sz
      ...[7, 0, 0, 0], // int prog_fd
      ...[1, 0, 0, 0], // __u32 flags = BPF_TC_F_REPLACE
      ...[0, 1, 0, 0], // __u32 prog_id
      ...[2, 0, 0, 0], // __u32 handle
      ...[3, 0, 0, 0], // __u32 priority
      ...[0, 0, 0, 0], // padding
    ],
  );
  deepStrictEqual(decodeTcOpts(raw), { progFd: 7, flags: 1, progId: 256, handle: 2, priority: 3 });
});

Deno.test("encodeTcOpts() zero-fills what query/detach must leave zero", () => {
  const raw = encodeTcOpts({ handle: 1, priority: 1 });
  deepStrictEqual(decodeTcOpts(raw), { progFd: 0, flags: 0, progId: 0, handle: 1, priority: 1 });
});
