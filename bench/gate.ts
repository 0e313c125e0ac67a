/**
 * @module
 * The gate probe (bench/bpf/gate.bpf.c) on a topology: `gate_far` at tc ingress of the far end's
 * port (the peer of node1's NIC, `ext0` in the ext netns) and, where the kernel allows tracing
 * programs, `gate_xmit` on `net_dev_start_xmit` of node1's NIC. Each folds a packet's CLOCK_TAI
 * time into the taprio cycle and counts it per talker (UDP destination port → row).
 *
 * The program is loaded in this process through the libbpf binding; closing the probe (or the
 * process ending) detaches the tracing link, and the clsact filter goes with the ext netns.
 */
import {
  attachTracing,
  BpfLink,
  BpfObject,
  ifindex,
  tcAttach,
  tcDetach,
  withNetns,
} from "@tsn-proxy/bpf/libbpf";
import type { Netns } from "@tsn-proxy/sim";
import { BENCH_PROGRAMS } from "./bpf/objects.ts";

/** Limits of gate.bpf.c. */
const GATE_LIMITS = { hooks: 2, rows: 8, bins: 256 } as const;

/** Where a histogram was taken: the NIC's transmit (`nic`) or the far end's ingress (`far`). */
export type GateHook = "far" | "nic";

const HOOK_INDEX: Record<GateHook, number> = { far: 0, nic: 1 };

/** `gate_cfg` in .rodata: cycle_ns u64, bin_ns u64, nic_ifindex u32, nic_netns_ino u32. */
const CONFIG_SIZE = 24;

/** The clsact filter of gate_far (after any filter a test adds at a lower priority). */
const FAR_FILTER = { handle: 0x6a7e, priority: 0xfff0 };

/** Options of {@linkcode attachGate}. */
export interface GateOptions {
  /** gate.bpf.o (bench/bpf/objects.ts; in a lab guest under /lab/extra). */
  readonly object: string;
  /** The far end's netns and the interface node1's NIC traffic arrives on. */
  readonly far: { readonly ns: Netns; readonly ifname: string };
  /** node1's netns and NIC, for gate_xmit; omit to load gate_far alone. */
  readonly nic?: { readonly ns: Netns; readonly ifname: string };
  /** The cycle to fold into, ns. */
  readonly cycleNs: number;
  /** Bin width, ns; cycleNs / binNs bins, at most 256. */
  readonly binNs: number;
  /** UDP destination ports, one histogram row each, in order (at most 8). */
  readonly ports: readonly number[];
}

/** An attached gate probe. */
export interface GateProbe {
  /** `attached`, or why gate_xmit is not (`not requested`, the load or attach error). */
  readonly nic: string;
  /** Bins of the row of `port` at `hook` (cycleNs / binNs numbers). */
  bins(hook: GateHook, port: number): number[];
  /** Every packet counted at `hook`, all rows and bins (what a stray port would show up in). */
  total(hook: GateHook): number;
  /** Detaches and unloads. Idempotent; a netns that is gone already is fine. */
  close(): void;
}

/** Checks cycle/bin and returns the number of bins. */
export function gateBins(cycleNs: number, binNs: number): number {
  if (!(Number.isInteger(cycleNs) && Number.isInteger(binNs) && cycleNs > 0 && binNs > 0)) {
    throw new RangeError(`gate: cycle ${cycleNs} ns, bin ${binNs} ns`);
  }
  if (cycleNs % binNs !== 0) throw new RangeError(`gate: ${binNs} ns does not divide ${cycleNs}`);
  const bins = cycleNs / binNs;
  if (bins > GATE_LIMITS.bins) throw new RangeError(`gate: ${bins} bins > ${GATE_LIMITS.bins}`);
  return bins;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function openGate(o: GateOptions, nic: { ifindex: number; ino: number } | null): BpfObject {
  return BpfObject.open(o.object, {
    autoload: { [BENCH_PROGRAMS.gateXmit]: nic !== null },
    rodata: (b) => {
      if (b.length !== CONFIG_SIZE) throw new Error(`gate: .rodata is ${b.length} bytes`);
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      v.setBigUint64(0, BigInt(o.cycleNs), true);
      v.setBigUint64(8, BigInt(o.binNs), true);
      v.setUint32(16, nic?.ifindex ?? 0, true);
      v.setUint32(20, nic?.ino ?? 0, true);
    },
  });
}

/**
 * Loads gate.bpf.o, fills its port → row map, attaches gate_far at the far end's ingress and
 * gate_xmit to the NIC's transmits (when `nic` is given and the kernel allows it: otherwise the
 * probe says why in `nic` and the far-end histogram is all there is).
 *
 * @example
 * ```ts ignore
 * import { attachGate } from "./gate.ts";
 * const gate = attachGate({
 *   object: "/lab/extra/gate.bpf.o",
 *   far: { ns: topo.ext.ns, ifname: "ext0" },
 *   nic: { ns: topo.node.ns, ifname: topo.node.nic },
 *   cycleNs: 40_000,
 *   binNs: 1_000,
 *   ports: [41000, 41001],
 * });
 * // ... traffic ...
 * console.log(gate.nic, gate.bins("nic", 41000));
 * gate.close();
 * ```
 */
export function attachGate(o: GateOptions): GateProbe {
  const nBins = gateBins(o.cycleNs, o.binNs);
  if (o.ports.length > GATE_LIMITS.rows) throw new RangeError(`gate: > ${GATE_LIMITS.rows} rows`);
  const rows = new Map(o.ports.map((p, i) => [p, i]));
  if (rows.size !== o.ports.length) throw new Error("gate: duplicate ports");

  let nicState = "not requested";
  let target: { ifindex: number; ino: number } | null = null;
  if (o.nic) {
    const nic = o.nic;
    target = {
      ifindex: withNetns(nic.ns.path, () => ifindex(nic.ifname)),
      ino: Deno.statSync(nic.ns.path).ino ?? 0,
    };
  }
  let obj: BpfObject;
  if (target) {
    obj = openGate(o, target);
    try {
      obj.load();
    } catch (e) {
      obj.close();
      nicState = `unavailable: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
      target = null;
      obj = openGate(o, null);
      obj.load();
    }
  } else {
    obj = openGate(o, null);
    obj.load();
  }

  let link: BpfLink | undefined;
  let farIndex = -1;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      if (link) {
        // A tracing link has no explicit detach: it goes with its last fd. BpfLink.close() of a
        // libbpf link disconnects and frees libbpf's struct but leaves the fd open (libbpf 1.1's
        // bpf_link__destroy skips detach once disconnected), which would keep gate_xmit running
        // for the rest of the process; a plain fd wrapper closes it.
        const fd = BpfLink.fromFd(link.fd);
        link.close();
        fd.close();
      }
      if (farIndex >= 0) {
        try {
          withNetns(o.far.ns.path, () => tcDetach(farIndex, "ingress", FAR_FILTER));
        } catch { /* the netns or the device is gone: so is the filter */ }
      }
    } finally {
      obj.close();
    }
  };
  try {
    const rowMap = obj.map("gate_rows");
    for (const [port, row] of rows) {
      const key = new Uint8Array(2);
      new DataView(key.buffer).setUint16(0, port, true);
      rowMap.update(key, u32(row));
    }
    farIndex = withNetns(o.far.ns.path, () => {
      const index = ifindex(o.far.ifname);
      tcAttach(obj.program(BENCH_PROGRAMS.gateFar), index, "ingress", FAR_FILTER);
      return index;
    });
    if (target) {
      try {
        link = attachTracing(obj.program(BENCH_PROGRAMS.gateXmit));
        nicState = "attached";
      } catch (e) {
        nicState = `unavailable: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
      }
    }
  } catch (e) {
    close();
    throw e;
  }
  const hist = obj.map("gate_hist");
  const count = (key: number) => {
    const v = hist.lookup(u32(key));
    return v ? Number(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)) : 0;
  };
  const rowStride = GATE_LIMITS.rows * GATE_LIMITS.bins;
  return {
    get nic() {
      return nicState;
    },
    bins(hook, port) {
      const row = rows.get(port);
      if (row === undefined) throw new Error(`gate: port ${port} has no row`);
      const base = (HOOK_INDEX[hook] * GATE_LIMITS.rows + row) * GATE_LIMITS.bins;
      return Array.from({ length: nBins }, (_, i) => count(base + i));
    },
    total(hook) {
      let sum = 0;
      for (let k = 0; k < rowStride; k++) sum += count(HOOK_INDEX[hook] * rowStride + k);
      return sum;
    },
    close,
  };
}
