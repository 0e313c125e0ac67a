/**
 * An interface's PTP hardware clock (PHC), as `ethtool -T IF` shows it, read without ethtool (the
 * agent's image is minimal): the `SIOCETHTOOL` ioctl with `ETHTOOL_GET_TS_INFO` on a datagram
 * socket. A driver without `get_ts_info` still answers (the kernel fills in software
 * timestamping and PHC -1); veth reports no PHC. When the ioctl fails (EOPNOTSUPP, an old
 * driver) `/sys/class/net/IF/device/ptp/ptpN` is the fallback.
 *
 * @example
 * ```ts ignore
 * import { readPhc } from "./phc.ts";
 * console.log(readPhc("eth1")); // { ifname: "eth1", phcIndex: 0, source: "ioctl", hardwareTx: true, ... }
 * ```
 */
import { withNetns } from "@tsn-proxy/bpf/libbpf";
import { clockLibc, lastErrno } from "./_libc.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCETHTOOL = 0x8946;
/** ETHTOOL_GET_TS_INFO, and struct ethtool_ts_info (44 bytes: cmd, so_timestamping, phc_index...). */
export const TS_INFO = {
  cmd: 0x41,
  size: 44,
  soTimestamping: 4,
  phcIndex: 8,
  txTypes: 12,
} as const;
/** SOF_TIMESTAMPING_TX_HARDWARE, _RX_HARDWARE, _RAW_HARDWARE. */
const SOF_HW_TX = 1 << 0, SOF_HW_RX = 1 << 2, SOF_HW_RAW = 1 << 6;
/** struct ifreq: name[16], then the union whose ifr_data pointer is at 16; 40 bytes. */
const IFREQ = { size: 40, data: 16 } as const;

/** The PHC of one interface. */
export interface PhcInfo {
  readonly ifname: string;
  /** /dev/ptpN index, null: none (software timestamping only, or unknown). */
  readonly phcIndex: number | null;
  /** How it was found: the ethtool ioctl, sysfs, or neither (`error` says why). */
  readonly source: "ioctl" | "sysfs" | "none";
  /** Hardware transmit / receive timestamps (null: unknown, sysfs only). */
  readonly hardwareTx: boolean | null;
  readonly hardwareRx: boolean | null;
  /** Why nothing could be read (no such interface, EOPNOTSUPP...). */
  readonly error?: string;
}

/**
 * Decodes a filled `struct ethtool_ts_info`.
 *
 * @example
 * ```ts
 * import { decodeTsInfo, TS_INFO } from "./phc.ts";
 * const buf = new Uint8Array(TS_INFO.size);
 * new DataView(buf.buffer).setInt32(TS_INFO.phcIndex, -1, true);
 * console.log(decodeTsInfo("veth0", buf).phcIndex); // null
 * ```
 */
export function decodeTsInfo(ifname: string, buf: Uint8Array): PhcInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const so = v.getUint32(TS_INFO.soTimestamping, true);
  const phc = v.getInt32(TS_INFO.phcIndex, true);
  return {
    ifname,
    phcIndex: phc >= 0 ? phc : null,
    source: "ioctl",
    hardwareTx: (so & SOF_HW_TX) !== 0 && (so & SOF_HW_RAW) !== 0,
    hardwareRx: (so & SOF_HW_RX) !== 0 && (so & SOF_HW_RAW) !== 0,
  };
}

/** ETHTOOL_GET_TS_INFO on `ifname` in the caller's netns; throws with errno on failure. */
export function ethtoolTsInfo(ifname: string): PhcInfo {
  const name = new TextEncoder().encode(ifname);
  if (name.length === 0 || name.length > 15) throw new Error(`bad interface name "${ifname}"`);
  const info = new Uint8Array(TS_INFO.size);
  new DataView(info.buffer).setUint32(0, TS_INFO.cmd, true);
  const ifr = new Uint8Array(IFREQ.size);
  ifr.set(name);
  new DataView(ifr.buffer).setBigUint64(
    IFREQ.data,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(info))),
    true,
  );
  const c = clockLibc();
  const fd = c.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw new Error(`socket: errno ${lastErrno()}`);
  try {
    if (c.ioctl(fd, BigInt(SIOCETHTOOL), ifr) < 0) {
      const e = lastErrno();
      throw new Error(
        `SIOCETHTOOL ETHTOOL_GET_TS_INFO ${ifname}: ${ERRNO_NAMES[e] ?? `errno ${e}`}`,
      );
    }
  } finally {
    c.close(fd);
  }
  return decodeTsInfo(ifname, info);
}

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  19: "ENODEV (no such interface)",
  95: "EOPNOTSUPP",
};

/** The PHC index from `SYSFS/class/net/IF/device/ptp/ptpN` (null: none listed). */
export function phcFromSysfs(ifname: string, sysRoot = "/sys"): number | null {
  try {
    for (const e of Deno.readDirSync(`${sysRoot}/class/net/${ifname}/device/ptp`)) {
      const m = /^ptp(\d+)$/.exec(e.name);
      if (m) return Number(m[1]);
    }
  } catch { /* no device dir (virtual interface) or no ptp class */ }
  return null;
}

/** Options of {@link readPhc}. */
export interface ReadPhcOptions {
  /** The interface's netns (path or `ip netns` name); null: this one. */
  readonly netns?: string | null;
  /** Where sysfs is (tests). */
  readonly sysRoot?: string;
  /** The ioctl (tests inject failures). */
  readonly ioctl?: (ifname: string) => PhcInfo;
}

/** The ioctl first; sysfs when it fails. Never throws: `source: "none"` carries the reason. */
export function readPhc(ifname: string, o: ReadPhcOptions = {}): PhcInfo {
  const ioctl = o.ioctl ?? ethtoolTsInfo;
  try {
    return o.netns ? withNetns(o.netns, () => ioctl(ifname)) : ioctl(ifname);
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    // sysfs shows this netns's devices only; in another netns the ioctl's answer is all there is.
    const phc = o.netns ? null : phcFromSysfs(ifname, o.sysRoot);
    return phc === null
      ? { ifname, phcIndex: null, source: "none", hardwareTx: null, hardwareRx: null, error }
      : { ifname, phcIndex: phc, source: "sysfs", hardwareTx: null, hardwareRx: null, error };
  }
}
