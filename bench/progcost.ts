/**
 * Per-program cost by `BPF_PROG_TEST_RUN`: the kernel runs a program `repeat` times on one sk_buff
 * built from a 64-byte IPv4/UDP frame and a `__sk_buff` ctx (priority, tstamp) and reports the mean
 * time per run. Several samples per variant; the median is reported.
 *
 * Variants, for every record store of the core and every strategy key mode:
 * - `saver`: a packet with a priority (and, in the txtime variant, a tstamp) to save;
 * - `restorer (miss)`: a restorer whose store holds nothing for the packet;
 * - `saver+restorer (hit)`: both on the same packet, inlined into one program (see
 *   bpf/costs.bpf.c): the only way to make the restorer hit inside a test run, since the key is the
 *   test run's own sk_buff. `restorer (hit)` is derived as pair minus saver.
 * - `restorer (hit, own program)` and `restorer (miss, own program)`: the saver and the restorer as
 *   the separate programs of production, one test run each (single runs: the restorer's sk_buff is
 *   a new one, at the address the saver's run freed, and carries the saver's tag through `mark`;
 *   see bpf/costs.bpf.c), above `empty (single runs)`, the same timer around an empty program.
 * Plus two references: `empty` (the floor: what the test-run loop itself costs per run) and
 * `lru update+delete` (one update and one delete in an LRU hash with the records' sizes); and the
 * restorer's origin check on its own: `origin check (in place)` and `origin check (conntrack)`,
 * each measured as parse + check minus the parse alone (derived rows), side by side in one run.
 *
 * @module
 */
import { BpfObject, type BpfProgram, possibleCpus } from "@tsn-proxy/bpf/libbpf";
import { DEFAULT_MAX_AGE_NS, STORES, sumCounters } from "@tsn-proxy/bpf/datapath";
import { PROGRAMS, TsnConfig, VARIABLES } from "@tsn-proxy/bpf/gen/tsn_core";
import { getStrategy } from "@tsn-proxy/strategies";
import { BENCH_PROGRAMS, type BenchObjects } from "./bpf/objects.ts";
import { SKB_MARK_OFFSET, skbCtx, udpFrame } from "./frames.ts";
import { round, summarize } from "./stats.ts";

/** The test packets: priority only, or priority and a txtime. */
export type TestPacket = "prio" | "prio+txtime";

/** One measured (or derived) program variant. */
export interface ProgCostRow {
  /** `empty`, `lru update+delete`, `saver`, `restorer (miss)`, `saver+restorer (hit)`, ... */
  program: string;
  /** Strategy whose key mode was loaded (null for the references). */
  strategy: string | null;
  /** Record store (null for the references). */
  store: string | null;
  /** The test packet. */
  packet: TestPacket;
  /** Median ns per run over the samples. */
  nsPerRun: number;
  /** Median minus the `empty` floor of the same run. */
  nsAboveFloor: number | null;
  /** Every sample's ns per run. */
  samples: number[];
  /** Runs per sample. */
  repeat: number;
  /** Restorer runs: restored / runs (pair: 1 = every run a hit; miss: 0 = no run restored). */
  hitRate: number | null;
  /** True for rows computed from others (restorer hit = pair - saver). */
  derived: boolean;
  /** The possible CPUs of the kernel it ran on (the CPU dimension: see bench/report.ts). */
  cpus: number;
}

/** Options of {@link measureProgCosts}. */
export interface ProgCostOptions {
  /** The benchmark's compiled objects. */
  objects: BenchObjects;
  /** Strategies (names) whose key modes are measured. */
  strategies: readonly string[];
  /** Stores to measure; default every store of the core. */
  stores?: readonly string[];
  /** Runs per sample (BPF_PROG_TEST_RUN repeat). */
  repeat: number;
  /** Samples per variant. */
  samples: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

const PRIORITY = 5;
const TSTAMP = 1_700_000_000_123_456_789n;

function ctxOf(packet: TestPacket): Uint8Array {
  return skbCtx(PRIORITY, packet === "prio" ? 0n : TSTAMP);
}

function sample(
  run: () => number,
  samples: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) out.push(run());
  return out;
}

/** Loads the costs object with `programs` and the core config of (keyMode, store). */
function openCosts(
  path: string,
  programs: readonly string[],
  keyMode: number,
  store: number,
): BpfObject {
  const wanted = new Set(programs);
  const names = [
    ...Object.values(PROGRAMS).map((p) => p.name),
    BENCH_PROGRAMS.saveRestore,
    BENCH_PROGRAMS.saverTagged,
    BENCH_PROGRAMS.restorerTagged,
    BENCH_PROGRAMS.lruCycle,
    BENCH_PROGRAMS.missSameBucket,
    BENCH_PROGRAMS.missNewBucket,
    BENCH_PROGRAMS.originParse,
    BENCH_PROGRAMS.originInPlace,
    BENCH_PROGRAMS.originConntrack,
  ];
  const obj = BpfObject.open(path, {
    autoload: Object.fromEntries(names.map((n) => [n, wanted.has(n)])),
    rodata: (bytes) => {
      const at = VARIABLES.tsnCfg.offset;
      if (bytes.length < at + TsnConfig.size) {
        throw new Error(`costs object: .rodata of ${bytes.length} bytes has no tsn_cfg`);
      }
      const defaults = TsnConfig.decode(bytes, at);
      TsnConfig.encode(
        {
          ...defaults,
          keyMode,
          store,
          maxAgeNs: DEFAULT_MAX_AGE_NS,
        },
        bytes,
        at,
      );
    },
  });
  try {
    obj.load();
  } catch (e) {
    obj.close();
    throw e;
  }
  return obj;
}

/** Measures every variant; returns rows in a stable order (references first). */
export function measureProgCosts(opts: ProgCostOptions): ProgCostRow[] {
  const frame = udpFrame(64);
  const rows: ProgCostRow[] = [];
  const log = opts.log ?? (() => {});
  const stores = opts.stores ?? Object.keys(STORES);
  const testRun = (prog: BpfProgram, packet: TestPacket) => () =>
    prog.testRun({ data: frame, ctx: ctxOf(packet), repeat: opts.repeat }).durationNs;

  // The floor, and the floor of single runs (the timer's own cost around one run).
  let floor = NaN, singleFloor = NaN;
  {
    using obj = BpfObject.open(opts.objects.empty);
    obj.load();
    const prog = obj.program(BENCH_PROGRAMS.empty);
    const s = sample(testRun(prog, "prio"), opts.samples);
    floor = summarize(s).median;
    rows.push(row("empty", null, null, "prio", s, opts.repeat, floor, null));
    const single = sample(
      () => prog.testRun({ data: frame, ctx: ctxOf("prio"), repeat: 1 }).durationNs,
      singleRuns(opts.repeat),
    );
    singleFloor = summarize(single).median;
    // Hundreds of single runs: the median, not every sample, goes into the report.
    rows.push({
      ...row("empty (single runs)", null, null, "prio", single, 1, NaN, null),
      samples: [],
    });
    log(`test_run empty: ${round(floor)} ns, single runs ${round(singleFloor)} ns`);
  }
  {
    using obj = openCosts(
      opts.objects.costs,
      [BENCH_PROGRAMS.lruCycle],
      0,
      Object.values(STORES)[0] ?? 0,
    );
    const s = sample(testRun(obj.program(BENCH_PROGRAMS.lruCycle), "prio"), opts.samples);
    rows.push(row("lru update+delete", null, null, "prio", s, opts.repeat, floor, null));
    log(`test_run lru update+delete: ${round(summarize(s).median)} ns`);
  }
  if (stores.includes("buckets")) {
    using obj = openCosts(
      opts.objects.costs,
      [BENCH_PROGRAMS.missSameBucket, BENCH_PROGRAMS.missNewBucket],
      0,
      STORES.buckets,
    );
    const same = sample(testRun(obj.program(BENCH_PROGRAMS.missSameBucket), "prio"), opts.samples);
    const spread = sample(testRun(obj.program(BENCH_PROGRAMS.missNewBucket), "prio"), opts.samples);
    rows.push(
      row("store miss, same bucket", null, "buckets", "prio", same, opts.repeat, floor, null),
      row(
        "store miss, a new bucket each run",
        null,
        "buckets",
        "prio",
        spread,
        opts.repeat,
        floor,
        null,
      ),
    );
    log(
      `test_run store miss: same bucket ${round(summarize(same).median)} ns, a new bucket each ` +
        `run ${round(summarize(spread).median)} ns`,
    );
  }
  rows.push(...measureOriginCheck(opts, testRun, floor));

  for (const storeName of stores) {
    const store = (STORES as Record<string, number>)[storeName];
    if (store === undefined) throw new Error(`unknown store ${storeName}`);
    for (const strategyName of opts.strategies) {
      const keyMode = getStrategy(strategyName).keyMode;
      using obj = openCosts(
        opts.objects.costs,
        [
          PROGRAMS.tsnSaver.name,
          PROGRAMS.tsnRestorer.name,
          BENCH_PROGRAMS.saveRestore,
          BENCH_PROGRAMS.saverTagged,
          BENCH_PROGRAMS.restorerTagged,
        ],
        keyMode,
        store,
      );
      const counters = obj.map("tsn_counters");
      const read = () => sumCounters(counters.lookupPerCpu(new Uint8Array(4)) ?? []);
      const runs = BigInt(opts.repeat * opts.samples);
      const tag = `${strategyName}/${storeName}`;

      // The restorer first, while the store is empty: every run misses.
      let c0 = read();
      const miss = sample(testRun(obj.program(PROGRAMS.tsnRestorer.name), "prio"), opts.samples);
      let c1 = read();
      rows.push(
        row(
          "restorer (miss)",
          strategyName,
          storeName,
          "prio",
          miss,
          opts.repeat,
          floor,
          ratio(c1.restored - c0.restored, runs),
        ),
      );
      for (const packet of ["prio", "prio+txtime"] as const) {
        const saver = sample(testRun(obj.program(PROGRAMS.tsnSaver.name), packet), opts.samples);
        rows.push(row("saver", strategyName, storeName, packet, saver, opts.repeat, floor, null));
        c0 = read();
        const pair = sample(testRun(obj.program(BENCH_PROGRAMS.saveRestore), packet), opts.samples);
        c1 = read();
        const hit = ratio(c1.restored - c0.restored, runs);
        rows.push(
          row(
            "saver+restorer (hit)",
            strategyName,
            storeName,
            packet,
            pair,
            opts.repeat,
            floor,
            hit,
          ),
        );
        const derived = summarize(pair).median - summarize(saver).median;
        rows.push({
          program: "restorer (hit)",
          strategy: strategyName,
          store: storeName,
          packet,
          nsPerRun: round(derived),
          nsAboveFloor: null,
          samples: [],
          repeat: opts.repeat,
          hitRate: hit,
          derived: true,
          cpus: possibleCpus(),
        });
        log(
          `test_run ${tag} ${packet}: saver ${round(summarize(saver).median)} ns, ` +
            `saver+restorer ${round(summarize(pair).median)} ns (hit rate ${hit})`,
        );
      }
      const own = ownPrograms(obj, read, singleFloor, singleRuns(opts.repeat));
      for (const r of own) rows.push({ ...r, strategy: strategyName, store: storeName });
      log(
        `test_run ${tag} own programs, single runs above their floor: restorer hit ` +
          `${own[0]!.nsAboveFloor} ns (hit rate ${own[0]!.hitRate}), miss ${
            own[1]!.nsAboveFloor
          } ns`,
      );
    }
  }
  return rows;
}

/**
 * Single runs per variant where one run is measured at a time: repeat / 100 within 200..1000
 * (1000 on the host; 200 in a quick run's TCG guests, where each run is a few emulated syscalls).
 */
function singleRuns(repeat: number): number {
  return Math.min(1000, Math.max(200, Math.round(repeat / 100)));
}

/**
 * The restorer as its own program, one test run at a time: after each run of the saver (tag out
 * through mark) the restorer runs on the same bytes (hit), and on bytes no saver saw (miss).
 */
function ownPrograms(
  obj: BpfObject,
  restored: () => { restored: bigint },
  singleFloor: number,
  runs: number,
): ProgCostRow[] {
  const saver = obj.program(BENCH_PROGRAMS.saverTagged);
  const restorer = obj.program(BENCH_PROGRAMS.restorerTagged);
  const hit: number[] = [], miss: number[] = [];
  const ctx = ctxOf("prio");
  const before = restored().restored;
  let missRestored = 0n;
  for (let i = 0; i < runs; i++) {
    // Each pair its own bytes: no record of an earlier pair can be the one found.
    const frame = udpFrame(64, 0x1000 + (i & 0xfff), i + 2);
    const out = saver.testRun({ data: frame, ctx, repeat: 1 }).ctxOut!;
    const tagged = ctx.slice();
    tagged.set(out.subarray(SKB_MARK_OFFSET, SKB_MARK_OFFSET + 4), SKB_MARK_OFFSET);
    hit.push(restorer.testRun({ data: frame, ctx: tagged, repeat: 1 }).durationNs);
    const m0 = restored().restored;
    miss.push(restorer.testRun({ data: udpFrame(64, 0x7e57, i + 2), ctx, repeat: 1 }).durationNs);
    missRestored += restored().restored - m0;
  }
  const hits = restored().restored - before - missRestored;
  return [
    row(
      "restorer (hit, own program)",
      null,
      null,
      "prio",
      hit,
      1,
      singleFloor,
      ratio(hits, BigInt(runs)),
    ),
    row(
      "restorer (miss, own program)",
      null,
      null,
      "prio",
      miss,
      1,
      singleFloor,
      ratio(missRestored, BigInt(runs)),
    ),
  ].map((r) => ({ ...r, samples: [] }));
}

/** The origin check's two paths, each as (parse + check) - parse of the same run. */
function measureOriginCheck(
  opts: ProgCostOptions,
  testRun: (prog: BpfProgram, packet: TestPacket) => () => number,
  floor: number,
): ProgCostRow[] {
  const progs = [
    BENCH_PROGRAMS.originParse,
    BENCH_PROGRAMS.originInPlace,
    BENCH_PROGRAMS.originConntrack,
  ];
  using obj = openCosts(opts.objects.costs, progs, 0, Object.values(STORES)[0] ?? 0);
  const [parse, inPlace, conntrack] = progs.map((p) =>
    sample(testRun(obj.program(p), "prio"), opts.samples)
  ) as [number[], number[], number[]];
  const base = summarize(parse).median;
  const rows = [row("origin parse", null, null, "prio", parse, opts.repeat, floor, null)];
  for (const [name, s] of [["in place", inPlace], ["conntrack", conntrack]] as const) {
    rows.push({
      program: `origin check (${name})`,
      strategy: null,
      store: null,
      packet: "prio",
      nsPerRun: round(summarize(s).median - base),
      nsAboveFloor: null,
      samples: [],
      repeat: opts.repeat,
      hitRate: null,
      derived: true,
      cpus: possibleCpus(),
    });
  }
  opts.log?.(
    `test_run origin check: in place ${rows[1]!.nsPerRun} ns, conntrack ${rows[2]!.nsPerRun} ns ` +
      `(above a parse of ${round(base)} ns)`,
  );
  return rows;
}

function ratio(n: bigint, d: bigint): number | null {
  return d > 0n ? round(Number(n) / Number(d), 4) : null;
}

function row(
  program: string,
  strategy: string | null,
  store: string | null,
  packet: TestPacket,
  samples: number[],
  repeat: number,
  floor: number,
  hitRate: number | null,
): ProgCostRow {
  const median = summarize(samples).median;
  return {
    cpus: possibleCpus(),
    program,
    strategy,
    store,
    packet,
    nsPerRun: round(median),
    nsAboveFloor: Number.isFinite(floor) && program !== "empty" ? round(median - floor) : null,
    samples,
    repeat,
    hitRate,
    derived: false,
  };
}
