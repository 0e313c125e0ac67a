/**
 * What a running datapath is doing: its strategy and config (read back from the pinned `.rodata`),
 * tracker outcome, restorers and pod savers (with whether their pins still exist), the summed
 * per-CPU counters and how many records the map holds.
 *
 * @example
 * ```ts ignore
 * import { readStats } from "./stats.ts";
 * const s = readStats(state);
 * console.log(s.counters.restored, s.records);
 * ```
 */
import { BpfMap, monotonicNs } from "../libbpf/mod.ts";
import { STORES as STORE_OF } from "./core.ts";
import {
  MAPS,
  TsnBucket,
  TsnConfig,
  TsnCounters,
  TsnKey,
  TsnRecord,
  TsnStore,
  VARIABLES,
} from "../gen/tsn_core.ts";
import { PinLayout } from "./layout.ts";
import type { DatapathState } from "./state.ts";
import { tcxLinkIfindex } from "./tc.ts";
import { existsSync } from "node:fs";

/** A snapshot of one datapath. */
export interface DatapathStats {
  readonly state: DatapathState;
  /** The node instance's config, as the kernel holds it. */
  readonly config: TsnConfig;
  /** Counters summed over every CPU. */
  readonly counters: TsnCounters;
  /** Records that a restorer could still apply (younger than the age bound). */
  readonly records: number;
  /**
   * Records past the age bound: their packets never reached a restorer (delivered on the node,
   * dropped). Every restorer refuses them; the slot store overwrites them in time.
   */
  readonly staleRecords: number;
  /** The map's capacity. */
  readonly recordsMax: number;
  /** Pins that the state names but bpffs no longer has (something removed them). */
  readonly missingPins: string[];
  /**
   * TSN interfaces whose TCX restorer link is pinned but no longer on the recorded device (the
   * interface was deleted: the link is defunct until the agent re-attaches it).
   */
  readonly detachedRestorers: string[];
}

/** Sums per-CPU `TsnCounters` values. */
export function sumCounters(perCpu: readonly Uint8Array[]): TsnCounters {
  const total = TsnCounters.decode(new Uint8Array(TsnCounters.size));
  const keys = Object.keys(TsnCounters.fields) as (keyof TsnCounters)[];
  for (const bytes of perCpu) {
    const c = TsnCounters.decode(bytes);
    for (const k of keys) total[k] += c[k];
  }
  return total;
}

/** The maps of a core's record stores (every store's map exists; one holds the records). */
export interface StoreMaps {
  readonly records: BpfMap;
  readonly buckets: BpfMap;
}

/** A record held by the datapath, with the CPU its saver ran on (LRU: undefined). */
export interface HeldRecord {
  readonly key: bigint;
  readonly record: TsnRecord;
  readonly cpu?: number;
}

/**
 * Every record a store holds: the LRU map's entries, or the published ways of the bucket table.
 * Reads a snapshot; the datapath keeps running while it is taken.
 */
export function listRecords(store: number, maps: StoreMaps): HeldRecord[] {
  const { records, buckets } = maps;
  if (store === TsnStore.TSN_STORE_LRU) {
    return [...records.keys()].flatMap((k) => {
      const v = records.lookup(k);
      return v ? [{ key: TsnKey.decode(k).id, record: TsnRecord.decode(v) }] : [];
    });
  }
  const out: HeldRecord[] = [];
  const index = new Uint8Array(4);
  const view = new DataView(index.buffer);
  for (let i = 0; i < buckets.maxEntries; i++) {
    view.setUint32(0, i, true);
    const bytes = buckets.lookup(index);
    if (!bytes) continue;
    const b = TsnBucket.decode(bytes);
    // Key 1 (TSN_KEY_BUSY) is a way being written: not a record yet.
    b.keys.forEach((key, way) => {
      if (key > 1n) out.push({ key, record: b.recs[way]!, cpu: b.recs[way]!.cpu });
    });
  }
  return out;
}

/** Reads the stats of the datapath that `state` describes, from its pins. */
export function readStats(state: DatapathState): DatapathStats {
  const pins = new PinLayout(state.bpffs);
  const expected = [
    pins.records,
    pins.buckets,
    pins.clockGate,
    pins.counters,
    pins.nodeConfig,
    pins.restorer,
    ...state.restorers.filter((r) => r.mode.kind === "tcx").map((r) => pins.restorerLink(r.ifname)),
    ...state.trackers.filter((t) => t.state === "attached").map((t) => pins.trackerLink(t.program)),
    ...state.pods.flatMap((
      p,
    ) => [pins.podSaver(p.id), ...(p.mode.kind === "tcx" ? [pins.podLink(p.id)] : [])]),
  ];
  using config = BpfMap.fromPinned(pins.nodeConfig);
  using counters = BpfMap.fromPinned(pins.counters);
  using records = BpfMap.fromPinned(pins.records);
  using buckets = BpfMap.fromPinned(pins.buckets);
  const zero = new Uint8Array(4);
  const held = listRecords(STORE_OF[state.store], { records, buckets });
  const now = monotonicNs();
  const live = held.filter((h) => now - h.record.savedNs <= BigInt(state.maxAgeNs)).length;
  return {
    state,
    records: live,
    staleRecords: held.length - live,
    config: TsnConfig.decode(
      config.lookup(zero) ?? new Uint8Array(MAPS.rodata.valueSize),
      VARIABLES.tsnCfg.offset,
    ),
    counters: sumCounters(counters.lookupPerCpu(zero) ?? []),
    recordsMax: {
      lru: records.maxEntries,
      buckets: buckets.maxEntries * TsnBucket.fields.recs.size / TsnRecord.size,
    }[state.store],
    missingPins: expected.filter((p) => !existsSync(p)),
    detachedRestorers: state.restorers.filter((r) => {
      if (r.mode.kind !== "tcx") return false;
      const at = tcxLinkIfindex(pins.restorerLink(r.ifname));
      return at !== undefined && at !== r.ifindex;
    }).map((r) => r.ifname),
  };
}
