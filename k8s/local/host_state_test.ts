import { deepEqual, equal } from "node:assert/strict";
import { compareHost, type HostState } from "./host_state.ts";

const BEFORE: HostState = {
  sysctls: { "kernel/panic": "1", "vm/overcommit_memory": "0" },
  nftables: "table inet x {\n}\n",
  netns: ["other-a"],
  mounts: ["/ ext4", "/run/netns/other-a nsfs", "/sys/fs/bpf bpf"],
  cgroups: ["memory/libpod_parent", "memory/user.slice"],
};

Deno.test("compareHost() finds nothing when nothing changed", () => {
  deepEqual(compareHost(BEFORE, BEFORE), { ours: [], others: [] });
});

Deno.test("compareHost() blames the node for its sysctls, rules, mounts and cgroups", () => {
  const after: HostState = {
    sysctls: { "kernel/panic": "10", "vm/overcommit_memory": "0" },
    nftables: "table ip kube-proxy {\n}\n",
    netns: ["other-a", "cni-1234abcd-0000"],
    mounts: [...BEFORE.mounts, "/var/lib/kubelet ext4"],
    cgroups: [...BEFORE.cgroups, "memory/kubepods"],
  };
  const d = compareHost(BEFORE, after);
  equal(d.others.length, 0);
  deepEqual(d.ours.map((l) => l.split(" ")[0]), ["sysctl", "the", "netns", "mount", "cgroup"]);
});

Deno.test("compareHost() reports other tests' netns, netns mounts and cgroups apart", () => {
  const after: HostState = {
    ...BEFORE,
    netns: ["tsnt0a21-node"],
    mounts: ["/ ext4", "/run/netns/tsnt0a21-node nsfs", "/sys/fs/bpf bpf", "/sys/fs/bpf/t1 bpf"],
    cgroups: ["memory/user.slice"],
  };
  const d = compareHost(BEFORE, after);
  deepEqual(d.ours, []);
  equal(d.others.length, 6);
});
