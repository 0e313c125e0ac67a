/**
 * The BPF core on the running kernel, through BPF_PROG_TEST_RUN: the saver's records decoded with
 * the generated layout must match a TypeScript oracle of the fingerprint, and every skip, clamp
 * and refusal must land in its counter. Needs root and bpffs.
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { BpfError, BpfMap, ensureBpffsDir, probeFexit, removeBpffsDir } from "./libbpf/mod.ts";
import {
  coreConfig,
  type CoreSettings,
  openCore,
  type StoreName,
  STORES,
} from "./datapath/core.ts";
import { listRecords, sumCounters } from "./datapath/stats.ts";
import {
  PROGRAMS,
  type TsnConfig,
  TsnCounters,
  TsnKey,
  TsnKeyMode,
  TsnRecord,
  TsnRecordFlags,
} from "./gen/tsn_core.ts";
import { arpFrame, payload, tcpFrame, udpFrame } from "./testdata/packets.ts";
import { expectedOrigin, expectedWindows, fingerprint } from "./testdata/fingerprint_oracle.ts";

// struct __sk_buff (include/uapi/linux/bpf.h) holds unions the codegen refuses; BPF_PROG_TEST_RUN
// accepts only a few fields of it, and these two offsets are fixed ABI.
const SKB_CTX_SIZE = 192, SKB_PRIORITY = 32, SKB_TSTAMP = 152;
const TC_ACT_UNSPEC = 0xffffffff;

function skbCtx(priority: number, tstamp = 0n): Uint8Array {
  const ctx = new Uint8Array(SKB_CTX_SIZE);
  const v = new DataView(ctx.buffer);
  v.setUint32(SKB_PRIORITY, priority, true);
  v.setBigUint64(SKB_TSTAMP, tstamp, true);
  return ctx;
}

function config(
  keyMode: number,
  maxPriority = 0xffffffff,
  store: StoreName = "buckets",
): TsnConfig {
  return coreConfig({ keyMode, store, maxAgeNs: 100_000_000n, owner: 77, maxPriority });
}

/** Loads one saver instance with its own maps; returns helpers and a cleanup. */
function loadSaver(cfg: TsnConfig) {
  const obj = openCore({
    programs: [PROGRAMS.tsnSaver.name, PROGRAMS.tsnRestorer.name],
    config: cfg,
  });
  obj.load();
  const saver = obj.program(PROGRAMS.tsnSaver.name);
  const restorer = obj.program(PROGRAMS.tsnRestorer.name);
  const records = obj.map("tsn_records");
  const counters = obj.map("tsn_counters");
  const buckets = obj.map("tsn_buckets");
  const held = () => listRecords(cfg.store, { records, buckets });
  return {
    obj,
    save: (frame: Uint8Array, priority: number, tstamp = 0n) =>
      saver.testRun({ data: frame, ctx: skbCtx(priority, tstamp) }).retval,
    restore: (frame: Uint8Array) => restorer.testRun({ data: frame, ctx: skbCtx(0) }).retval,
    records: () => held().map((h) => ({ key: h.key, rec: h.record })),
    counters: () => sumCounters(counters.lookupPerCpu(new Uint8Array(4)) ?? []),
  };
}

for (const store of Object.keys(STORES) as StoreName[]) {
  Deno.test(`saver (${store}) records priority, tstamp and the oracle's fingerprint for UDP`, () => {
    const core = loadSaver(config(TsnKeyMode.TSN_KEY_SKB_ADDR, 0xffffffff, store));
    try {
      const udp = udpFrame(payload(22, 1));
      equal(core.save(udp, 5, 1_700_000_000_123n), TC_ACT_UNSPEC);
      const [only, ...more] = core.records();
      equal(more.length, 0);
      const w = expectedWindows(udp)!;
      deepStrictEqual(
        { ...only!.rec, savedNs: 0n },
        {
          tstamp: 1_700_000_000_123n,
          savedNs: 0n,
          fingerprint: fingerprint(udp, w),
          priority: 5,
          owner: 77,
          anchorEnd: w.anchorEnd,
          tailLen: 16,
          tstampType: 0,
          cpu: only!.rec.cpu,
          origin: { ...expectedOrigin(udp), tag: only!.rec.origin.tag },
          flags: 0,
        },
      );
      ok(only!.rec.savedNs > 0n);
      ok(only!.key !== 0n, "keyed by the sk_buff address");
    } finally {
      core.obj.close();
    }
  });

  Deno.test(`saver (${store}) anchors TCP on the sequence number`, () => {
    const core = loadSaver(config(TsnKeyMode.TSN_KEY_SKB_ADDR, 0xffffffff, store));
    try {
      const tcp = tcpFrame(payload(100, 2), 0xdeadbeef);
      core.save(tcp, 3);
      const [only, ...more] = core.records();
      equal(more.length, 0);
      const tw = expectedWindows(tcp)!;
      equal(tw.anchorEnd, 100 + 20 - 4, "TCP anchor is the sequence number");
      equal(only!.rec.anchorEnd, tw.anchorEnd);
      equal(only!.rec.fingerprint, fingerprint(tcp, tw));
      equal(only!.rec.tstamp, 0n);
      const { tag, ...origin } = only!.rec.origin;
      deepStrictEqual(origin, expectedOrigin(tcp), "TCP origin: address and ports");
      ok(tag !== 0, "every saved packet gets a tag");
    } finally {
      core.obj.close();
    }
  });
}

Deno.test("saver payload shorter than 16 bytes hashes only the payload", () => {
  const core = loadSaver(config(TsnKeyMode.TSN_KEY_SKB_ADDR));
  try {
    const frame = udpFrame(payload(5, 3));
    core.save(frame, 1);
    const [r] = core.records();
    equal(r!.rec.tailLen, 5);
    equal(r!.rec.fingerprint, fingerprint(frame, expectedWindows(frame)!));
  } finally {
    core.obj.close();
  }
});

Deno.test("saver skips, clamps and refuses into the right counters", () => {
  const core = loadSaver(config(TsnKeyMode.TSN_KEY_SKB_DATA, 3));
  try {
    core.save(udpFrame(payload(30, 4)), 0); // nothing to save
    core.save(arpFrame(), 6); // cannot be fingerprinted
    core.save(udpFrame(payload(30, 5)), 6); // clamped to 3
    const recs = core.records();
    equal(recs.length, 1);
    equal(recs[0]!.rec.priority, 3);
    const c = core.counters();
    deepStrictEqual(
      {
        saved: c.saved,
        skipped: c.saveSkipped,
        clamped: c.saveClamped,
        unfp: c.saveUnfingerprinted,
      },
      { saved: 1n, skipped: 1n, clamped: 1n, unfp: 1n },
    );
  } finally {
    core.obj.close();
  }
});

/** Saves one packet with a fresh saver instance (its own maps); returns its record and counters. */
function saveOne(settings: Partial<CoreSettings>, priority: number, tstamp = 0n) {
  const core = loadSaver(coreConfig({
    keyMode: TsnKeyMode.TSN_KEY_SKB_DATA,
    store: "buckets",
    maxAgeNs: 100_000_000n,
    ...settings,
  }));
  try {
    core.save(udpFrame(payload(30, 11)), priority, tstamp);
    const recs = core.records();
    return { rec: recs.length === 1 ? recs[0]!.rec : undefined, counters: core.counters() };
  } finally {
    core.obj.close();
  }
}

Deno.test("saver gives a packet without a priority the pod's default class, clamped; its own wins", () => {
  const byDefault = saveOne({ maxPriority: 3, defaultPriority: 2 }, 0);
  deepStrictEqual(
    [byDefault.rec?.priority, byDefault.rec?.flags],
    [2, TsnRecordFlags.TSN_REC_DEFAULT_PRIORITY],
    "the default class",
  );
  equal(byDefault.counters.saveDefaulted, 1n);
  equal(byDefault.counters.saveSkipped, 0n, "a packet with the default class is saved");
  const own = saveOne({ maxPriority: 3, defaultPriority: 2 }, 3);
  deepStrictEqual([own.rec?.priority, own.rec?.flags], [3, 0], "the socket's own priority wins");
  equal(saveOne({ maxPriority: 1, defaultPriority: 2 }, 0).rec?.priority, 1, "clamped like any");
  equal(saveOne({}, 0).rec, undefined, "no default class: nothing to save");
});

Deno.test("saver of a namespace denied txtimes marks them dropped and counts them", () => {
  const denied = { txtime: { allowed: false, horizonNs: 0n } };
  const timed = saveOne(denied, 5, 1_700_000_000_123n);
  deepStrictEqual(
    [timed.rec?.tstamp, timed.rec?.flags],
    [1_700_000_000_123n, TsnRecordFlags.TSN_REC_DROP_TSTAMP],
  );
  equal(timed.counters.txtimeDenied, 1n);
  const untimed = saveOne(denied, 5);
  deepStrictEqual([untimed.rec?.tstamp, untimed.rec?.flags], [0n, 0], "no txtime: no mark");
  equal(saveOne({}, 5, 1_700_000_000_123n).rec?.flags, 0, "allowed: no mark");
});

Deno.test("restorer without a record counts a miss and lets later tc programs run", () => {
  const core = loadSaver(config(TsnKeyMode.TSN_KEY_SKB_ADDR));
  try {
    equal(core.restore(udpFrame(payload(30, 6))), TC_ACT_UNSPEC);
    equal(core.counters().missed, 1n);
    equal(core.counters().restored, 0n);
  } finally {
    core.obj.close();
  }
});

Deno.test("generated codecs round-trip through a kernel map", () => {
  const core = loadSaver(config(TsnKeyMode.TSN_KEY_SKB_ADDR));
  const dir = ensureBpffsDir(`/sys/fs/bpf/tsn-test-core-${crypto.randomUUID().slice(0, 8)}`);
  try {
    core.obj.map("tsn_records").pin(`${dir}/records`);
    using records = BpfMap.fromPinned(`${dir}/records`);
    const rec: TsnRecord = {
      tstamp: 123456789n,
      savedNs: 42n,
      fingerprint: 0xfedcba9876543210n,
      priority: 7,
      owner: 9,
      anchorEnd: 300,
      tailLen: 16,
      tstampType: 2,
      cpu: 1,
      flags: 2,
      origin: {
        addr: [0x0201f40a, 0, 0, 0],
        ports: 0x581b409c,
        ipEnd: 60,
        l4End: 40,
        family: 4,
        proto: 17,
        tag: 7,
      },
    };
    const key = TsnKey.encode({ id: 0xffff888812345678n });
    records.update(key, TsnRecord.encode(rec));
    equal(records.valueSize, TsnRecord.size);
    equal(records.keySize, TsnKey.size);
    deepStrictEqual(TsnRecord.decode(records.lookup(key)!), rec);
    equal(TsnCounters.size * 1, core.obj.map("tsn_counters").valueSize);
  } finally {
    core.obj.close();
    removeBpffsDir(dir);
  }
});

Deno.test("fexit tracker loads where this kernel loads fexit, else its refusal is reported", () => {
  // What this kernel does with fexit comes from a probe (docs/kernel-facts.md): the 6.18 host
  // refuses every fexit program with EPERM, the lab's 6.1 and 6.12 guests load them.
  const probe = probeFexit();
  const obj = openCore({ programs: [PROGRAMS.tsnTrackClone.name], config: config(0) });
  try {
    if (probe.loads) {
      obj.load();
      ok(obj.program(PROGRAMS.tsnTrackClone.name).fd >= 0, "the tracker has a program fd");
    } else {
      throws(() => obj.load(), (e: unknown) => {
        ok(e instanceof BpfError, String(e));
        equal(e.code, probe.code, `the probe was refused with ${probe.code}`);
        ok(e.log.length > 0, "the libbpf log is captured");
        return true;
      });
    }
  } finally {
    obj.close();
  }
});
