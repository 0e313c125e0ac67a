/**
 * The clock probes against this kernel (root): adjtimex as busybox's applet reads it, the TAI
 * offset as CLOCK_TAI - CLOCK_REALTIME shows it, ETHTOOL_GET_TS_INFO on a veth in a netns the test
 * creates (veth has no PHC: reported as none) and on a missing interface, and the clock switch
 * written into a real BPF array map. Never skipped: without root it fails with the reason.
 */
import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { BpfMap } from "@tsn-proxy/bpf/libbpf";
import { readPhc } from "./phc.ts";
import { mapClockSwitch } from "./switch.ts";
import { readTimex, STA_UNSYNC } from "./timex.ts";

function requireRoot(): void {
  if (Deno.uid() !== 0) throw new Error("clock kernel tests need root (netns, BPF maps)");
}

async function sh(...argv: string[]): Promise<string> {
  const out = await new Deno.Command(argv[0]!, { args: argv.slice(1), stderr: "piped" }).output();
  const d = new TextDecoder();
  if (!out.success) throw new Error(`${argv.join(" ")}: ${d.decode(out.stderr)}`);
  return d.decode(out.stdout);
}

const libc = Deno.dlopen("libc.so.6", {
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "buffer", "u32"], result: "i64" },
});

function clockNs(id: number): bigint {
  const ts = new BigInt64Array(2);
  equal(libc.symbols.clock_gettime(id, new Uint8Array(ts.buffer)), 0);
  return ts[0]! * 1_000_000_000n + ts[1]!;
}

Deno.test("readTimex() agrees with busybox adjtimex and with CLOCK_TAI - CLOCK_REALTIME", async () => {
  requireRoot();
  const t = readTimex();
  const bb = await sh("busybox", "adjtimex");
  const ret = Number(/return value: (\d+)/.exec(bb)?.[1]);
  const status = Number(/status:\s+(\d+)/.exec(bb)?.[1]);
  equal(t.synchronized, ret !== 5 && (status & STA_UNSYNC) === 0, bb);
  equal(t.status & STA_UNSYNC, status & STA_UNSYNC, bb);
  const tai = Number((clockNs(11) - clockNs(0) + 500_000_000n) / 1_000_000_000n);
  equal(t.taiOffsetS, tai, "CLOCK_TAI is CLOCK_REALTIME + the kernel's tai offset");
  console.log(`this host: ${t.state}, status 0x${t.status.toString(16)}, tai ${t.taiOffsetS} s`);
});

Deno.test("readPhc() through the ioctl: a veth in a netns has no PHC, a missing interface says ENODEV", async () => {
  requireRoot();
  const ns = `tsn-clock-${crypto.randomUUID().slice(0, 8)}`;
  await sh("ip", "netns", "add", ns);
  try {
    await sh("ip", "-n", ns, "link", "add", "tsn0", "type", "veth", "peer", "name", "tsn0p");
    deepEqual(readPhc("tsn0", { netns: ns }), {
      ifname: "tsn0",
      phcIndex: null,
      source: "ioctl",
      hardwareTx: false,
      hardwareRx: false,
    });
    const gone = readPhc("nope0", { netns: ns });
    equal(gone.source, "none");
    match(gone.error ?? "", /ENODEV/);
    // In the test's netns only: this netns has no tsn0.
    equal(readPhc("tsn0").source, "none");
    let phcs = 0;
    try {
      phcs = [...Deno.readDirSync("/sys/class/ptp")].length;
    } catch { /* no PTP clock class: no PHC at all */ }
    console.log(`/sys/class/ptp: ${phcs} PHC(s); lo: ${JSON.stringify(readPhc("lo"))}`);
    equal(readPhc("lo").phcIndex, null);
  } finally {
    await sh("ip", "netns", "del", ns);
  }
});

Deno.test("mapClockSwitch() writes the refuse flag into a real single-entry array map", () => {
  requireRoot();
  const create = (valueSize: number): number => {
    // union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries
    const attr = new Uint8Array(72);
    const v = new DataView(attr.buffer);
    v.setUint32(0, 2, true); // BPF_MAP_TYPE_ARRAY
    v.setUint32(4, 4, true);
    v.setUint32(8, valueSize, true);
    v.setUint32(12, 1, true);
    const fd = Number(libc.symbols.syscall(321n, 0n, attr, attr.length)); // bpf(BPF_MAP_CREATE)
    ok(fd >= 0, "bpf(BPF_MAP_CREATE) failed");
    return fd;
  };
  const fd = create(4);
  const bad = create(2);
  try {
    const flag = () => {
      using map = BpfMap.fromFd(fd, { owned: false });
      return new DataView(map.lookup(new Uint8Array(4))!.buffer).getUint32(0, true);
    };
    equal(flag(), 0, "a fresh map restores (today's behaviour)");
    const sw = mapClockSwitch(() => BpfMap.fromFd(fd, { owned: false }));
    sw.setRefuse(true);
    equal(flag(), 1);
    sw.setRefuse(false);
    equal(flag(), 0);
    throws(
      () => mapClockSwitch(() => BpfMap.fromFd(bad, { owned: false })).setRefuse(true),
      /value 2 bytes, want 4/,
    );
  } finally {
    BpfMap.fromFd(fd).close();
    BpfMap.fromFd(bad).close();
  }
});
