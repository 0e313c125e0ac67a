/**
 * What a running datapath is doing: its strategy and config (read back from the pinned `.rodata`),
 * tracker outcome, restorers and pod savers (with whether their pins still exist), the summed
 * per-CPU counters and how many records the map holds.
 *
 * @example
 * ```ts ignore
 * import { readStats } from "./stats.ts";
 * const s = readStats("/run/tsn-proxy/datapath.json");
 * console.log(s.counters.restored, s.records);
 * ```
 */
import { BpfMap } from "../libbpf/mod.ts";
import { MAPS, TsnConfig, TsnCounters, VARIABLES } from "../gen/tsn_core.ts";
import { PinLayout } from "./layout.ts";
import { type DatapathState, loadState } from "./state.ts";

/** A snapshot of one datapath. */
export interface DatapathStats {
  readonly state: DatapathState;
  /** The node instance's config, as the kernel holds it. */
  readonly config: TsnConfig;
  /** Counters summed over every CPU. */
  readonly counters: TsnCounters;
  /** Records in the map right now. */
  readonly records: number;
  /** The map's capacity. */
  readonly recordsMax: number;
  /** Pins that the state names but bpffs no longer has (something removed them). */
  readonly missingPins: string[];
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
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

/** Counts the keys of a map, stopping at its capacity (a map that changes while walked). */
export function countEntries(map: BpfMap): number {
  let n = 0;
  for (const _ of map.keys()) if (++n >= map.maxEntries) break;
  return n;
}

/** Reads the stats of the datapath recorded in `stateFile`. */
export function readStats(stateFile: string): DatapathStats {
  const state = loadState(stateFile);
  if (!state) throw new Error(`the datapath is not up (no state at ${stateFile})`);
  const pins = new PinLayout(state.bpffs);
  const expected = [
    pins.records,
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
  const zero = new Uint8Array(4);
  return {
    state,
    config: TsnConfig.decode(
      config.lookup(zero) ?? new Uint8Array(MAPS.rodata.valueSize),
      VARIABLES.tsnCfg.offset,
    ),
    counters: sumCounters(counters.lookupPerCpu(zero) ?? []),
    records: countEntries(records),
    recordsMax: records.maxEntries,
    missingPins: expected.filter((p) => !exists(p)),
  };
}
