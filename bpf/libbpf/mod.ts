/**
 * @module
 * A thin, typed libbpf (1.1.2, Debian 12) binding for Deno through FFI: open/load objects with
 * `.rodata` config, maps and programs by fd or bpffs pin, TCX and tracing links, legacy clsact,
 * running-kernel enum values from BTF, network namespace switching, bpffs directories. Every call
 * is synchronous; failures throw `BpfError` with errno name and the libbpf/verifier log tail.
 *
 * @example
 * ```ts
 * import { attachTcx, BpfObject, ifindex, withNetns } from "./mod.ts";
 * using obj = BpfObject.open("bpf/obj/tsn_core.bpf.o", { autoload: { tsn_track_clone: false } });
 * obj.load();
 * const link = withNetns("pod1", () => attachTcx(obj.program("tsn_saver"), ifindex("eth0"), "egress"));
 * link.pin("/sys/fs/bpf/tsn-proxy/pod1-saver");
 * ```
 */

export {
  BpfError,
  type BpfErrorOptions,
  describeErrno,
  ERRNO,
  errnoName,
  errnoNumber,
  isBpfError,
} from "./errors.ts";
export {
  captureLog,
  configureLog,
  disposeLog,
  type LibbpfLogLevel,
  type LogOptions,
  LogRing,
  recentLog,
} from "./log.ts";
export {
  type BpfMapEntry,
  BpfObject,
  type BpfObjectOpenOptions,
  type BpfProgramEntry,
} from "./object.ts";
export {
  BpfProgram,
  type BpfProgramInfo,
  type TestRunOptions,
  type TestRunResult,
} from "./program.ts";
export { BpfMap, type BpfMapInfo, MapUpdateFlags, possibleCpus } from "./map.ts";
export { attachTracing, BpfLink, type BpfLinkInfo, type TcDirection } from "./link.ts";
export {
  attachNetkit,
  attachTcx,
  BPF_MPROG_FLAGS,
  type NetkitHook,
  netkitQuery,
  type TcxAttachOptions,
  tcxQuery,
} from "./tcx.ts";
export {
  tcAttach,
  tcDetach,
  type TcFilter,
  type TcFilterId,
  tcHookCreate,
  tcHookDestroy,
  tcQuery,
} from "./tc_legacy.ts";
export {
  kernelAttachType,
  kernelEnum,
  kernelEnumName,
  kernelEnumValue,
  kernelHasTcx,
} from "./btf_kernel.ts";
export { currentNetnsInode, netnsPath, type NotPromise, withNetns } from "./netns.ts";
export { ifindex, ifname } from "./iface.ts";
export {
  createNetkit,
  decodeLink,
  deleteLink,
  getLink,
  type LinkInfo,
  listLinks,
  type NetkitInfo,
  type NetkitMode,
  type NetkitScrub,
  type NetkitSpec,
  type PodLinkVerdict,
  podLinkVerdict,
} from "./rtnetlink.ts";
export { type NetkitProbe, probeNetkit } from "./netkit_probe.ts";
export { BPF_FS_MAGIC, bpffsMounts, ensureBpffsDir, removeBpffsDir, unpin } from "./bpffs.ts";
export { monotonicNs } from "./clock.ts";
export { kernelKeepsTxtimes, probeFexit, type ProbeOutcome } from "./probe.ts";
