import { deepStrictEqual } from "node:assert/strict";
import { parseMounts } from "./bpffs.ts";

Deno.test("parseMounts() reads mount point and type, decoding octal escapes", () => {
  deepStrictEqual(
    parseMounts(
      "sysfs /sys sysfs rw 0 0\nbpf /sys/fs/bpf bpf rw,relatime,mode=700 0 0\n" +
        "bpf /run/my\\040bpf bpf rw 0 0\n",
    ),
    [
      { mountPoint: "/sys", fstype: "sysfs" },
      { mountPoint: "/sys/fs/bpf", fstype: "bpf" },
      { mountPoint: "/run/my bpf", fstype: "bpf" },
    ],
  );
});
