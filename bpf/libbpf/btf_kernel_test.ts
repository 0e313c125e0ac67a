/**
 * Reads enum values from the running kernel's BTF (/sys/kernel/btf/vmlinux).
 */
import { equal, ok, throws } from "node:assert/strict";
import {
  clearKernelEnumCache,
  kernelAttachType,
  kernelEnum,
  kernelEnumName,
  kernelEnumValue,
  kernelHasTcx,
} from "./btf_kernel.ts";
import { BpfError } from "./errors.ts";

const HAS_BTF = (() => {
  try {
    return Deno.statSync("/sys/kernel/btf/vmlinux").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "kernel BTF: stable UAPI values read back, TCX present on 6.6+",
  fn() {
    if (!HAS_BTF) throw new Error("no kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)");
    clearKernelEnumCache();
    equal(kernelAttachType("BPF_CGROUP_INET_INGRESS"), 0);
    equal(kernelAttachType("BPF_TRACE_FEXIT"), 25);
    equal(kernelAttachType("TRACE_FENTRY"), 24);
    equal(kernelEnumValue("bpf_prog_type", "BPF_PROG_TYPE_SCHED_CLS"), 3);
    equal(kernelEnumValue("bpf_map_type", "BPF_MAP_TYPE_LRU_HASH"), 9);
    equal(kernelEnumName("bpf_link_type", 2), "BPF_LINK_TYPE_TRACING");
    const release = Deno.osRelease().split(".").map(Number);
    const atLeast66 = (release[0] ?? 0) > 6 || ((release[0] ?? 0) === 6 && (release[1] ?? 0) >= 6);
    equal(kernelHasTcx(), atLeast66);
    if (atLeast66) {
      const egress = kernelAttachType("BPF_TCX_EGRESS");
      equal(kernelAttachType("BPF_TCX_INGRESS"), egress - 1);
      ok(egress > 25);
      equal(kernelEnumName("bpf_attach_type", egress), "BPF_TCX_EGRESS");
      ok(kernelEnum("bpf_link_type")?.has("BPF_LINK_TYPE_TCX"));
    }
    // Enums of other kinds of names, and values the kernel lacks.
    ok((kernelEnum("tc_setup_type")?.size ?? 0) > 0);
    equal(kernelEnum("tsn_no_such_enum"), undefined);
    throws(
      () => kernelAttachType("BPF_NO_SUCH_ATTACH"),
      (e: unknown) =>
        e instanceof BpfError && e.code === "ENOENT" && /BPF_NO_SUCH_ATTACH/.test(e.message),
    );
  },
});
