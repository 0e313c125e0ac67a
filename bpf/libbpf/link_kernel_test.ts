/**
 * Kernel tests of TCX links, tracing links and the legacy clsact path, on a veth pair in a fresh
 * network namespace (root).
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { removeBpffsDir } from "./bpffs.ts";
import { BpfError } from "./errors.ts";
import { ifindex } from "./iface.ts";
import { attachTracing, BpfLink } from "./link.ts";
import { attachTcx } from "./tcx.ts";
import type { BpfMap } from "./map.ts";
import { withNetns } from "./netns.ts";
import { BpfObject } from "./object.ts";
import { BpfProgram } from "./program.ts";
import { kernelAttachType } from "./btf_kernel.ts";
import { tcAttach, tcDetach, tcHookCreate, tcHookDestroy, tcQuery } from "./tc_legacy.ts";
import {
  CORE_OBJECT,
  createNetns,
  deleteNetns,
  kernelTest,
  sh,
  TC_ONLY,
  tempBpffsDir,
  type TestNetns,
} from "./testutil.ts";
import { TsnCounters } from "../gen/tsn_core.ts";

function missed(counters: BpfMap): bigint {
  let sum = 0n;
  for (const slot of counters.lookupPerCpu(new Uint8Array(4)) ?? []) {
    sum += TsnCounters.decode(slot).missed;
  }
  return sum;
}

/** socket/sendto through FFI: runs on this thread, so it sends from the current netns. */
const sock = Deno.dlopen("libc.so.6", {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
});

/**
 * Sends one UDP datagram to addr:9 from the current netns. To an unused address of veth0's subnet
 * this sends an ARP request out of veth0 at once (veth1's own address would be routed over lo).
 */
function sendUdp(addr: [number, number, number, number]): void {
  const fd = sock.symbols.socket(2, /* AF_INET */ 2, /* SOCK_DGRAM */ 0);
  ok(fd >= 0, "socket()");
  try {
    const sa = new Uint8Array(16);
    const v = new DataView(sa.buffer);
    v.setUint16(0, 2, true);
    v.setUint16(2, 9, false);
    sa.set(addr, 4);
    const payload = new TextEncoder().encode("tsn-test");
    ok(Number(sock.symbols.sendto(fd, payload, BigInt(payload.length), 0, sa, 16)) > 0, "sendto()");
  } finally {
    sock.symbols.close(fd);
  }
}

function vethPair(ns: TestNetns): void {
  sh("ip", "-n", ns.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
  sh("ip", "-n", ns.name, "addr", "add", "10.77.0.1/24", "dev", "veth0");
  sh("ip", "-n", ns.name, "addr", "add", "10.77.0.2/24", "dev", "veth1");
  sh("ip", "-n", ns.name, "link", "set", "veth0", "up");
  sh("ip", "-n", ns.name, "link", "set", "veth1", "up");
}

kernelTest({
  name: "TCX: attach the restorer in a netns, pin, reopen from the pin, info, traffic, detach",
  fn() {
    const dir = tempBpffsDir();
    const ns = createNetns();
    try {
      vethPair(ns);
      using obj = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
      obj.load();
      const restorer = obj.program("tsn_restorer");
      const counters = obj.map("tsn_counters");
      const pin = `${dir}/restorer-veth0-egress`;

      const idx = withNetns(ns.path, () => {
        const idx = ifindex("veth0");
        const link = attachTcx(restorer, idx, "egress");
        link.pin(pin);
        link.close(); // the pin keeps it attached
        return idx;
      });
      // veth0 does not exist here: the attach really happened in the namespace.
      throws(() => ifindex("veth0"), (e: unknown) => e instanceof BpfError && e.code === "ENODEV");

      using link = BpfLink.fromPinned(pin);
      const info = link.info();
      equal(info.typeName, "BPF_LINK_TYPE_TCX");
      equal(info.progId, restorer.info().id);
      deepStrictEqual(info.tcx, {
        ifindex: idx,
        attachType: kernelAttachType("BPF_TCX_EGRESS"),
        attachTypeName: "BPF_TCX_EGRESS",
      });

      // Traffic leaving veth0 runs the restorer (ARP + UDP: no records, so "missed").
      const before = missed(counters);
      withNetns(ns.path, () => sendUdp([10, 77, 0, 3]));
      const after = missed(counters);
      ok(after > before, `restorer did not run: missed ${before} -> ${after}`);

      using watcher = BpfLink.fromPinned(pin); // a second fd on the same link
      link.detach();
      throws(() => Deno.statSync(pin), Deno.errors.NotFound);
      equal(watcher.info().tcx?.ifindex, 0, "link still attached to a device after detach");
      withNetns(ns.path, () => sendUdp([10, 77, 0, 4]));
      equal(missed(counters), after, "restorer still runs after detach");
      throws(
        () => BpfLink.fromPinned(pin),
        (e: unknown) => e instanceof BpfError && e.code === "ENOENT",
      );
    } finally {
      deleteNetns(ns);
      removeBpffsDir(dir);
    }
  },
});

kernelTest({
  name: "legacy clsact: hook create (EEXIST ok), attach, query, traffic, detach, destroy",
  fn() {
    const ns = createNetns();
    try {
      vethPair(ns);
      using obj = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY });
      obj.load();
      const restorer = obj.program("tsn_restorer");
      const counters = obj.map("tsn_counters");
      withNetns(ns.path, () => {
        const idx = ifindex("veth0");
        // No clsact yet: an error, not "no filter".
        throws(
          () => tcQuery(idx, "egress"),
          (e: unknown) =>
            e instanceof BpfError && e.code === "EINVAL" && /Parent Qdisc/.test(e.message),
        );
        equal(tcHookCreate(idx, "egress"), true);
        equal(tcHookCreate(idx, "egress"), false); // already there
        equal(tcQuery(idx, "egress", { handle: 1, priority: 1 }), undefined);
        const f = tcAttach(restorer, idx, "egress", { handle: 1, priority: 1 });
        deepStrictEqual(f, { handle: 1, priority: 1, progId: restorer.info().id });
        deepStrictEqual(tcQuery(idx, "egress", { handle: 1, priority: 1 }), f);
        throws(
          () => tcAttach(restorer, idx, "egress", { handle: 1, priority: 1 }),
          (e: unknown) => e instanceof BpfError && e.code === "EEXIST",
        );
        tcAttach(restorer, idx, "egress", { handle: 1, priority: 1, replace: true });

        const before = missed(counters);
        sendUdp([10, 77, 0, 3]);
        ok(missed(counters) > before, "clsact filter did not run");

        tcDetach(idx, "egress", { handle: 1, priority: 1 });
        equal(tcQuery(idx, "egress", { handle: 1, priority: 1 }), undefined);
        const afterDetach = missed(counters);
        sendUdp([10, 77, 0, 4]);
        equal(missed(counters), afterDetach, "filter still runs after detach");
        tcHookDestroy(idx);
        ok(!sh("tc", "-n", ns.name, "qdisc", "show", "dev", "veth0").includes("clsact"));
        throws(() => tcDetach(idx, "egress"), BpfError);
      });
    } finally {
      deleteNetns(ns);
    }
  },
});

kernelTest({
  name: "tracing link: attach tp_btf cleanup, pin, reopen, info, detach (unpin + close)",
  fn() {
    const dir = tempBpffsDir();
    try {
      using obj = BpfObject.open(CORE_OBJECT, {
        autoload: { tsn_track_clone: false, tsn_cleanup_consume: false },
      });
      obj.load();
      const prog = obj.program("tsn_cleanup_kfree");
      const pin = `${dir}/cleanup-kfree`;
      {
        using link = attachTracing(prog);
        link.pin(pin);
        equal(link.info().typeName, "BPF_LINK_TYPE_RAW_TRACEPOINT"); // tp_btf
      }
      using reopened = BpfLink.fromPinned(pin);
      const info = reopened.info();
      equal(info.progId, prog.info().id);
      equal(info.tcx, undefined);
      reopened.detach();
      throws(() => Deno.statSync(pin), Deno.errors.NotFound);
      prog.pin(`${dir}/prog`);
      using byPin = BpfProgram.fromPinned(`${dir}/prog`);
      throws(
        () => attachTracing(byPin),
        (e: unknown) =>
          e instanceof BpfError && e.code === "EINVAL" &&
          /not a program of a BpfObject/.test(e.message),
      );
    } finally {
      removeBpffsDir(dir);
    }
  },
});
