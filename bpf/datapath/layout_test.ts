import { equal, notEqual, throws } from "node:assert/strict";
import { checkPodId, PinLayout, pinName } from "./layout.ts";

Deno.test("pinName() keeps bpffs names free of dots and distinct names distinct", () => {
  equal(pinName("eth1.100"), "eth1%2e100");
  equal(pinName("nic0"), "nic0");
  notEqual(pinName("a.b"), pinName("a%2eb"));
  equal(
    new PinLayout("/sys/fs/bpf/t").restorerLink("eth1.100"),
    "/sys/fs/bpf/t/restore/eth1%2e100",
  );
  equal(new PinLayout("/sys/fs/bpf/t").podLink("ns.1-eth0"), "/sys/fs/bpf/t/pods/ns%2e1-eth0/link");
});

Deno.test("checkPodId() refuses ids that are not safe directory names", () => {
  throws(() => checkPodId("../x"), /invalid attachment id/);
  throws(() => checkPodId(""), /invalid attachment id/);
  equal(checkPodId("cni-1234.eth0"), "cni-1234.eth0");
});
