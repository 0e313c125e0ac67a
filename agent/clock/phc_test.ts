import { deepEqual, equal } from "node:assert/strict";
import { decodeTsInfo, phcFromSysfs, readPhc, TS_INFO } from "./phc.ts";

function tsInfo(so: number, phc: number): Uint8Array {
  const buf = new Uint8Array(TS_INFO.size);
  const v = new DataView(buf.buffer);
  v.setUint32(0, TS_INFO.cmd, true);
  v.setUint32(TS_INFO.soTimestamping, so, true);
  v.setInt32(TS_INFO.phcIndex, phc, true);
  return buf;
}

Deno.test("decodeTsInfo() reads a NIC with a PHC and hardware timestamps", () => {
  // igc-like: TX/RX/RAW hardware + software bits, /dev/ptp1
  deepEqual(decodeTsInfo("eth1", tsInfo(0x5f, 1)), {
    ifname: "eth1",
    phcIndex: 1,
    source: "ioctl",
    hardwareTx: true,
    hardwareRx: true,
  });
});

Deno.test("decodeTsInfo() reads veth's software-only answer as no PHC", () => {
  // SOF_TIMESTAMPING_TX_SOFTWARE | RX_SOFTWARE | SOFTWARE, phc_index -1
  const i = decodeTsInfo("veth0", tsInfo(0x02 | 0x08 | 0x10, -1));
  equal(i.phcIndex, null);
  equal(i.hardwareTx, false);
  equal(i.hardwareRx, false);
});

Deno.test("readPhc() falls back to sysfs when the ioctl fails, and says why", () => {
  const sys = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${sys}/class/net/eth9/device/ptp/ptp3`, { recursive: true });
    equal(phcFromSysfs("eth9", sys), 3);
    const fail = () => {
      throw new Error("SIOCETHTOOL ETHTOOL_GET_TS_INFO eth9: EOPNOTSUPP");
    };
    deepEqual(readPhc("eth9", { sysRoot: sys, ioctl: fail }), {
      ifname: "eth9",
      phcIndex: 3,
      source: "sysfs",
      hardwareTx: null,
      hardwareRx: null,
      error: "SIOCETHTOOL ETHTOOL_GET_TS_INFO eth9: EOPNOTSUPP",
    });
    const none = readPhc("eth8", { sysRoot: sys, ioctl: fail });
    equal(none.source, "none");
    equal(none.phcIndex, null);
  } finally {
    Deno.removeSync(sys, { recursive: true });
  }
});
