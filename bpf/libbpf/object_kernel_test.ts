/**
 * Kernel tests of BpfObject, BpfMap and BpfProgram on the tsn_core object (root).
 */
import { deepStrictEqual, equal, match, notEqual, ok, throws } from "node:assert/strict";
import { removeBpffsDir } from "./bpffs.ts";
import { BpfError } from "./errors.ts";
import { BpfMap, MapUpdateFlags, possibleCpus } from "./map.ts";
import { BpfObject } from "./object.ts";
import { probeFexit } from "./probe.ts";
import { BpfProgram } from "./program.ts";
import {
  BAD_BOUNDS,
  buildBadBounds,
  CORE_OBJECT,
  kernelTest,
  prebuiltBpf,
  TC_ONLY,
  tempBpffsDir,
  udpFrame,
} from "./testutil.ts";
import {
  MAPS,
  TsnConfig,
  TsnCounters,
  TsnKey,
  TsnRecord,
  TsnStore,
  VARIABLES,
} from "../gen/tsn_core.ts";

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);
/** Edits tsn_cfg in .rodata: owner and age bound, records in the LRU map (these tests use it). */
function setConfig(bytes: Uint8Array, owner: number, maxAgeNs: bigint): void {
  const at = VARIABLES.tsnCfg.offset;
  const cfg = TsnConfig.decode(bytes, at);
  TsnConfig.encode({ ...cfg, owner, maxAgeNs, store: TsnStore.TSN_STORE_LRU }, bytes, at);
}
/** One counter of struct tsn_counters, summed over CPUs. */
function counter(map: BpfMap, name: keyof TsnCounters): bigint {
  let sum = 0n;
  for (const slot of map.lookupPerCpu(u32(0)) ?? []) sum += TsnCounters.decode(slot)[name];
  return sum;
}

kernelTest({
  name: "tsn_core: rodata config, load, pin, reopen pins, map CRUD/iteration, per-CPU counters",
  fn() {
    const dir = tempBpffsDir();
    try {
      let seen: Uint8Array | undefined;
      using obj = BpfObject.open(CORE_OBJECT, {
        autoload: TC_ONLY,
        rodata: (bytes) => {
          seen = bytes.slice();
          setConfig(bytes, 77, 123_456_789n);
        },
      });
      // The .rodata hook saw the compiled defaults: max_priority 0xffffffff, max_age 100 ms.
      equal(seen?.length, MAPS.rodata.valueSize);
      const dflt = TsnConfig.decode(seen!, VARIABLES.tsnCfg.offset);
      equal(dflt.maxPriority, 0xffffffff);
      equal(dflt.maxAgeNs, 100_000_000n);
      ok(
        obj.maps().some((m) => m.internal && m.name.endsWith(".rodata")),
        JSON.stringify(obj.maps()),
      );
      deepStrictEqual(
        obj.programs().filter((p) => p.autoload).map((p) => p.name),
        ["tsn_saver", "tsn_restorer"],
      );
      obj.load();
      equal(obj.loaded, true);

      // The kernel's frozen .rodata holds what the hook wrote.
      const ro = obj.map(".rodata").lookup(u32(0));
      ok(ro);
      const rov = TsnConfig.decode(ro, VARIABLES.tsnCfg.offset);
      equal(rov.owner, 77);
      equal(rov.maxAgeNs, 123_456_789n);

      const records = obj.map("tsn_records");
      deepStrictEqual(
        {
          type: records.type,
          key: records.keySize,
          value: records.valueSize,
          max: records.maxEntries,
        },
        {
          type: 9, /* LRU_HASH */
          key: TsnKey.size,
          value: TsnRecord.size,
          max: MAPS.tsnRecords.maxEntries,
        },
      );
      records.pin(`${dir}/tsn_records`);
      obj.map("tsn_counters").pin(`${dir}/tsn_counters`);
      obj.program("tsn_saver").pin(`${dir}/tsn_saver`);

      using pinnedRecords = BpfMap.fromPinned(`${dir}/tsn_records`);
      equal(pinnedRecords.info().id, records.info().id);
      equal(pinnedRecords.name, "tsn_records");

      // CRUD through the pin, visible through the object's fd.
      const value = new Uint8Array(TsnRecord.size).map((_, i) => i + 1);
      pinnedRecords.update(u64(0xdeadbeefn), value);
      deepStrictEqual(records.lookup(u64(0xdeadbeefn)), value);
      pinnedRecords.update(u64(2n), new Uint8Array(TsnRecord.size));
      pinnedRecords.update(u64(3n), new Uint8Array(TsnRecord.size));
      const keys = [...pinnedRecords.keys()].map((k) =>
        new DataView(k.buffer).getBigUint64(0, true)
      );
      deepStrictEqual(keys.sort(), [2n, 3n, 0xdeadbeefn]);
      equal([...pinnedRecords.keys(2)].length, 2); // bounded
      try {
        pinnedRecords.update(u64(2n), new Uint8Array(TsnRecord.size), MapUpdateFlags.NOEXIST);
        throw new Error("NOEXIST update of an existing key succeeded");
      } catch (e) {
        ok(e instanceof BpfError, String(e));
        equal(e.code, "EEXIST");
      }
      equal(pinnedRecords.delete(u64(2n)), true);
      equal(pinnedRecords.delete(u64(2n)), false);
      equal(pinnedRecords.lookup(u64(2n)), undefined);
      throws(() => pinnedRecords.lookup(new Uint8Array(4)), RangeError);
      throws(() => pinnedRecords.update(u64(1n), new Uint8Array(39)), RangeError);

      // Per-CPU counters: one struct tsn_counters per possible CPU.
      using counters = BpfMap.fromPinned(`${dir}/tsn_counters`);
      ok(counters.perCpu);
      const slots = counters.lookupPerCpu(u32(0));
      equal(slots?.length, possibleCpus());
      ok(slots?.every((s) => s.length === TsnCounters.size));
      throws(() => counters.lookup(u32(0)), TypeError);
      const filled = Array.from({ length: possibleCpus() }, (_, cpu) => {
        const zero = TsnCounters.decode(new Uint8Array(TsnCounters.size));
        return TsnCounters.encode({ ...zero, saved: BigInt(cpu + 1) });
      });
      counters.updatePerCpu(u32(0), filled);
      deepStrictEqual(counters.lookupPerCpu(u32(0)), filled);
      equal(counter(counters, "saved"), BigInt((possibleCpus() * (possibleCpus() + 1)) / 2));
      throws(() => counters.updatePerCpu(u32(0), filled.slice(1)), RangeError);

      // The pinned program is the same kernel program.
      using saver = BpfProgram.fromPinned(`${dir}/tsn_saver`);
      equal(saver.info().id, obj.program("tsn_saver").info().id);
      equal(saver.name, "tsn_saver");

      // Opening a pin as the wrong kind is refused.
      throws(
        () => BpfMap.fromPinned(`${dir}/tsn_saver`),
        (e: unknown) =>
          e instanceof BpfError && e.code === "EINVAL" && /is a prog, not a map/.test(e.message),
      );
      throws(
        () => BpfMap.fromPinned(`${dir}/missing`),
        (e: unknown) => e instanceof BpfError && e.code === "ENOENT",
      );

      obj.close();
      throws(() => records.lookup(u64(3n)), /closed/);
      // The pins keep map and program alive after the object is gone.
      ok(pinnedRecords.lookup(u64(3n)));
      equal(saver.info().name, "tsn_saver");
    } finally {
      removeBpffsDir(dir);
    }
  },
});

kernelTest({
  name: "pinMapsUnder shares node-wide maps between objects; reuseMaps takes a pinned map",
  fn() {
    const dir = tempBpffsDir();
    try {
      using a = BpfObject.open(CORE_OBJECT, { autoload: TC_ONLY, pinMapsUnder: dir });
      a.load();
      ok(Deno.statSync(`${dir}/tsn_records`).isFile);
      ok(Deno.statSync(`${dir}/tsn_counters`).isFile);
      using b = BpfObject.open(CORE_OBJECT, {
        autoload: TC_ONLY,
        pinMapsUnder: dir,
        rodata: (bytes) => setConfig(bytes, 2, 1n),
      });
      b.load();
      equal(b.map("tsn_records").info().id, a.map("tsn_records").info().id);
      equal(b.map("tsn_counters").info().id, a.map("tsn_counters").info().id);
      // Each instance keeps its own .rodata.
      notEqual(b.map(".rodata").info().id, a.map(".rodata").info().id);

      using c = BpfObject.open(CORE_OBJECT, {
        autoload: TC_ONLY,
        reuseMaps: { tsn_records: `${dir}/tsn_records` },
      });
      c.load();
      equal(c.map("tsn_records").info().id, a.map("tsn_records").info().id);
      notEqual(c.map("tsn_counters").info().id, a.map("tsn_counters").info().id);

      throws(
        () => BpfObject.open(CORE_OBJECT, { reuseMaps: { tsn_records: `${dir}/nope` } }),
        (e: unknown) => e instanceof BpfError && e.code === "ENOENT" && e.op === "bpf_obj_get",
      );
      throws(
        () => BpfObject.open(CORE_OBJECT, { autoload: { no_such_prog: false } }),
        (e: unknown) => e instanceof BpfError && e.code === "ENOENT",
      );
    } finally {
      removeBpffsDir(dir);
    }
  },
});

kernelTest({
  name: "an object with the fexit tracker loads as the fexit probe does, or fails with its log",
  fn() {
    // Expectation from the running kernel (docs/kernel-facts.md): EPERM on the 6.18 host, loads
    // in the lab's guests.
    const probe = probeFexit();
    using obj = BpfObject.open(CORE_OBJECT, {
      autoload: { tsn_cleanup_kfree: false, tsn_cleanup_consume: false },
    });
    if (probe.loads) {
      obj.load();
      ok(obj.program("tsn_track_clone").fd >= 0);
      return;
    }
    throws(() => obj.load(), (e: unknown) => {
      ok(e instanceof BpfError, String(e));
      equal(e.op, "bpf_object__load");
      equal(e.code, probe.code);
      ok(e.log.length > 0, "no log captured");
      ok(e.log.some((l) => l.includes("tsn_track_clone")), e.message);
      match(e.message, /--- libbpf log/);
      return true;
    });
  },
});

kernelTest({
  name: "a program that reads out of packet bounds fails with the verifier log tail in the error",
  fn() {
    const tmp = Deno.makeTempDirSync({ prefix: "tsn-bad-bpf-" });
    try {
      const bad = prebuiltBpf(BAD_BOUNDS) ?? buildBadBounds(`${tmp}/${BAD_BOUNDS}`);
      using obj = BpfObject.open(bad);
      try {
        obj.load();
        throw new Error("the out-of-bounds program was accepted");
      } catch (e) {
        ok(e instanceof BpfError, String(e));
        equal(e.code, "EACCES"); // the verifier's refusal
        ok(e.log.length > 1 && e.log.length <= 40);
        match(e.message, /invalid access to packet/);
        match(e.message, /reads_past_packet/);
      }
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});

kernelTest({
  name:
    "BPF_PROG_TEST_RUN: tsn_saver returns TC_ACT_UNSPEC and saves a record with the rodata owner",
  fn() {
    using obj = BpfObject.open(CORE_OBJECT, {
      autoload: TC_ONLY,
      rodata: (bytes) => setConfig(bytes, 4242, 100_000_000n),
    });
    obj.load();
    const saver = obj.program("tsn_saver");
    const counters = obj.map("tsn_counters");
    const records = obj.map("tsn_records");

    const plain = saver.testRun({ data: udpFrame(), repeat: 100 });
    equal(plain.retval, 0xffffffff); // TC_ACT_UNSPEC (-1)
    equal(plain.dataOut.length, 64);
    deepStrictEqual(plain.dataOut, udpFrame()); // the saver never touches the packet
    equal(counter(counters, "saveSkipped"), 100n); // priority 0, no tstamp: nothing to save
    equal([...records.keys()].length, 0);

    // struct __sk_buff as context: priority at offset 32.
    const ctx = new Uint8Array(192);
    new DataView(ctx.buffer).setUint32(32, 5, true);
    const withPrio = saver.testRun({ data: udpFrame(), ctx });
    equal(withPrio.retval, 0xffffffff);
    equal(counter(counters, "saved"), 1n);
    const saved = [...records.keys()].map((k) => records.lookup(k)!);
    equal(saved.length, 1);
    const rec = TsnRecord.decode(saved[0]!);
    equal(rec.priority, 5);
    equal(rec.owner, 4242); // from .rodata
    notEqual(rec.fingerprint, 0n);

    const restorer = obj.program("tsn_restorer");
    equal(restorer.testRun({ data: udpFrame() }).retval, 0xffffffff);

    throws(
      () => saver.testRun({ data: new Uint8Array(4) }),
      (e: unknown) => e instanceof BpfError && e.code === "EINVAL",
    );
  },
});
