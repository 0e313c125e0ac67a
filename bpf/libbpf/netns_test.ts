import { equal } from "node:assert/strict";
import { netnsPath } from "./netns.ts";

Deno.test("netnsPath() maps ip-netns names to /run/netns and keeps paths", () => {
  equal(netnsPath("pod1"), "/run/netns/pod1");
  equal(netnsPath("/proc/1/ns/net"), "/proc/1/ns/net");
  equal(netnsPath("./rel/ns"), "./rel/ns");
});
