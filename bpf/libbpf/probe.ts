/**
 * @module
 * Probes of what the running kernel lets a BPF program do, independent of the project's objects:
 * each loads the smallest program of a kind (`r0 = 0; exit`) and closes it at once. Kernel tests
 * take their expectations from these instead of from one machine (docs/kernel-facts.md): the
 * 6.18 host refuses fexit with EPERM, the lab's 6.1 and 6.12 guests load it.
 */
import { closeFd, libbpfIntOr } from "./call.ts";
import { errnoName } from "./errors.ts";
import { cString, libbpf } from "./ffi.ts";
import { kernelAttachType, kernelEnum, kernelEnumValue } from "./btf_kernel.ts";

/** What a probe load gave: loaded, or refused with this errno. */
export type ProbeOutcome =
  | { readonly loads: true }
  | { readonly loads: false; readonly errno: number; readonly code: string };

/** `struct bpf_prog_load_opts` of libbpf 1.1.2: 104 bytes, the fields used here. */
const PROG_LOAD_OPTS = { size: 104, expectedAttachType: 12, attachBtfId: 32 } as const;

/** `r0 = 0; exit`: BPF_ALU64|BPF_MOV|BPF_K then BPF_JMP|BPF_EXIT. */
const RETURN_ZERO = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/**
 * Loads an fexit program on the kernel function `target` (attach id from the kernel's BTF) and
 * closes it; nothing is attached. Needs root; throws when the kernel has no BTF or no `target`.
 *
 * @example
 * ```ts ignore
 * import { probeFexit } from "./probe.ts";
 * const p = probeFexit(); // { loads: false, errno: 1, code: "EPERM" } on the 6.18 host
 * ```
 */
export function probeFexit(target = "skb_clone"): ProbeOutcome {
  const fexit = kernelAttachType("BPF_TRACE_FEXIT");
  const lib = libbpf();
  const btfId = libbpfIntOr(
    "libbpf_find_vmlinux_btf_id",
    () => lib.libbpf_find_vmlinux_btf_id(cString(target), fexit),
    [],
    { detail: target },
  );
  const opts = new Uint8Array(PROG_LOAD_OPTS.size);
  const view = new DataView(opts.buffer);
  view.setBigUint64(0, BigInt(PROG_LOAD_OPTS.size), true);
  view.setUint32(PROG_LOAD_OPTS.expectedAttachType, fexit, true);
  view.setUint32(PROG_LOAD_OPTS.attachBtfId, btfId, true);
  const fd = libbpfIntOr(
    "bpf_prog_load",
    () =>
      lib.bpf_prog_load(
        kernelEnumValue("bpf_prog_type", "BPF_PROG_TYPE_TRACING"),
        cString("tsn_probe"),
        cString("GPL"),
        RETURN_ZERO,
        BigInt(RETURN_ZERO.length / 8),
        opts,
      ),
    () => true,
    { log: false },
  );
  if (fd < 0) return { loads: false, errno: -fd, code: errnoName(-fd) };
  closeFd(fd);
  return { loads: true };
}

/**
 * Whether the kernel types skb tstamps with their clock (`SKB_CLOCK_TAI` in its BTF, 6.11+). Such
 * a kernel keeps a TAI or MONOTONIC `SCM_TXTIME` across the veth into the node; an older one gives
 * a UDP txtime no type and the crossing clears it (docs/kernel-facts.md).
 *
 * @example
 * ```ts ignore
 * import { kernelKeepsTxtimes } from "./probe.ts";
 * kernelKeepsTxtimes(); // true on 6.12 and 6.18, false on 6.1
 * ```
 */
export function kernelKeepsTxtimes(): boolean {
  return kernelEnum("skb_tstamp_type")?.has("SKB_CLOCK_TAI") ?? false;
}
