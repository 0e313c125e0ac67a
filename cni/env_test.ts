import { deepEqual, equal, throws } from "node:assert/strict";
import { netnsPathProblem, parseCniArgs, parseCniEnv, validIfname } from "./env.ts";
import { CniError } from "./spec.ts";

const base = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c0ffee",
  CNI_NETNS: "/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
  CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p",
};

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return e.code;
    throw e;
  }
  throw new Error("no error");
}

Deno.test("parseCniEnv() reads a runtime's ADD environment", () => {
  const env = parseCniEnv(base);
  equal(env.command, "ADD");
  deepEqual(env.path, ["/opt/cni/bin", "/usr/lib/cni"]);
  deepEqual(env.args, { IgnoreUnknown: "1", K8S_POD_NAMESPACE: "ns", K8S_POD_NAME: "p" });
});

Deno.test("parseCniEnv() refuses a missing or bad variable with code 4", () => {
  equal(code(() => parseCniEnv({ ...base, CNI_COMMAND: undefined })), 4);
  equal(code(() => parseCniEnv({ ...base, CNI_COMMAND: "UP" })), 4);
  equal(code(() => parseCniEnv({ ...base, CNI_CONTAINERID: "" })), 4);
  equal(code(() => parseCniEnv({ ...base, CNI_CONTAINERID: "-bad" })), 4);
  equal(code(() => parseCniEnv({ ...base, CNI_IFNAME: "a/b" })), 4);
  equal(code(() => parseCniEnv({ ...base, CNI_NETNS: "relative" })), 4);
  equal(code(() => parseCniEnv({ ...base, CNI_ARGS: "novalue" })), 4);
});

Deno.test("parseCniEnv() lets DEL go without a netns and GC/STATUS without a container", () => {
  equal(parseCniEnv({ ...base, CNI_COMMAND: "DEL", CNI_NETNS: "" }).netns, "");
  equal(parseCniEnv({ CNI_COMMAND: "GC" }).containerId, "");
  equal(parseCniEnv({ CNI_COMMAND: "STATUS", CNI_PATH: "/x" }).ifname, "");
});

Deno.test("parseCniArgs() keeps '=' inside values; validIfname() bounds names", () => {
  deepEqual(parseCniArgs("A=b=c;;B="), { A: "b=c", B: "" });
  throws(() => parseCniArgs("=x"), CniError);
  // Oversized input is the runtime's error (code 4), refused before the agent is asked.
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof CniError ? e.code : -1;
    }
    return 0;
  };
  equal(code(() => parseCniArgs(`K8S_POD_NAME=${"x".repeat(100 * 1024)}`)), 4);
  equal(code(() => parseCniArgs(`${"k".repeat(5000)}=v`)), 4);
  equal(code(() => parseCniArgs(Array.from({ length: 65 }, (_, i) => `K${i}=v`).join(";"))), 4);
  equal(code(() => parseCniArgs(Array.from({ length: 64 }, (_, i) => `K${i}=v`).join(";"))), 0);
  equal(validIfname("eth0"), true);
  equal(validIfname("a".repeat(16)), false);
  equal(validIfname(".."), false);
});

Deno.test("netnsPathProblem() accepts the runtimes' netns names and nothing else", () => {
  for (
    const p of [
      "/var/run/netns/cni-3c1f2a4e-5b6d-7e8f-9a0b-1c2d3e4f5a6b", // containerd
      "/var/run/netns/3c1f2a4e-5b6d-7e8f-9a0b-1c2d3e4f5a6b", // CRI-O
      "/run/netns/netns-3c1f2a4e-5b6d-7e8f-9a0b-1c2d3e4f5a6b", // podman (CNI backend)
      "/run/netns/tsn-e2e-pod1", // ip netns add (the test harness)
    ]
  ) equal(netnsPathProblem(p), null, p);
  for (
    const p of [
      "/proc/1234/ns/net",
      "/run/netns/../x",
      "/run/netns/..",
      "/run/netns/.hidden",
      "/run/netns/a/b",
      "/run/netns//a",
      "/run/netns/",
      "/run/netns",
      "/var/run/docker/netns/abc",
      "run/netns/a",
      "",
    ]
  ) equal(typeof netnsPathProblem(p), "string", p);
});
