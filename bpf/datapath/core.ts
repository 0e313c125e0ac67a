/**
 * Opening instances of the BPF core: the compiled object, its `.rodata` configuration encoded with
 * the generated layout, and the node-wide maps shared through their pins.
 *
 * @example
 * ```ts ignore
 * import { coreConfig, openCore } from "./core.ts";
 * const obj = openCore({
 *   programs: ["tsn_restorer"],
 *   config: coreConfig({ keyMode: 0, store: "buckets", maxAgeNs: 100_000_000n }),
 * });
 * ```
 */
import { fileURLToPath } from "node:url";
import { BpfObject } from "../libbpf/mod.ts";
import {
  OBJECT_PATH,
  PROGRAMS,
  type TsnConfig,
  TsnConfig as TsnConfigCodec,
  TsnConfigFlags,
  TsnStore,
  VARIABLES,
} from "../gen/tsn_core.ts";
import type { PinLayout } from "./layout.ts";

/** Default record age bound: 40x the worst save-to-restore time measured (2.5 ms). */
export const DEFAULT_MAX_AGE_NS = 100_000_000n;

/** No clamp: every priority passes. */
export const NO_CLAMP = 0xffffffff;

/** Record stores of the core (`tsn_cfg.store`), by the name configs use. */
export const STORES = {
  buckets: TsnStore.TSN_STORE_BUCKETS,
  lru: TsnStore.TSN_STORE_LRU,
} as const;

/**
 * The name of a store's `tsn_cfg.store` value.
 *
 * @example
 * ```ts
 * import { storeName, STORES } from "./core.ts";
 * console.log(storeName(STORES.buckets)); // "buckets"
 * ```
 */
export function storeName(value: number): StoreName {
  const found = (Object.keys(STORES) as StoreName[]).find((k) => STORES[k] === value);
  if (!found) throw new Error(`unknown record store ${value}`);
  return found;
}

/** The map that holds each store's records. */
export const STORE_MAPS: Readonly<Record<StoreName, string>> = {
  buckets: "tsn_buckets",
  lru: "tsn_records",
};

/** A record store's name. */
export type StoreName = keyof typeof STORES;

/** The default store: the node-wide bucket table. */
export const DEFAULT_STORE: StoreName = "buckets";

/** The compiled core object: `TSN_PROXY_BPF_OBJECT` or the repository's committed object. */
export function coreObjectPath(): string {
  return Deno.env.get("TSN_PROXY_BPF_OBJECT") ??
    fileURLToPath(new URL(`../../${OBJECT_PATH}`, import.meta.url));
}

/** What differs between core instances. */
export interface CoreSettings {
  readonly keyMode: number;
  readonly store: StoreName;
  readonly maxAgeNs: bigint;
  /** Saver instances: the pod's owner id (0 = node instance). */
  readonly owner?: number;
  /** Saver instances: the policy clamp. */
  readonly maxPriority?: number;
  /** Saver instances: the priority of packets whose socket set none (0 or absent: none). */
  readonly defaultPriority?: number;
  /** Saver instances: the namespace's txtime rule (absent: txtimes allowed, no horizon). */
  readonly txtime?: TxtimeRule;
}

/** What a pod's txtimes may do: the namespace policy's rule. */
export interface TxtimeRule {
  /** False: the pod's txtimes are never restored, and dropped where the kernel kept them. */
  readonly allowed: boolean;
  /** Txtimes further ahead of their clock are dropped; 0n: no bound. */
  readonly horizonNs: bigint;
}

/** The full `tsn_cfg` of an instance; every instance of a node derives it from here. */
export function coreConfig(s: CoreSettings): TsnConfig {
  return {
    keyMode: s.keyMode,
    flags: s.txtime?.allowed === false ? TsnConfigFlags.TSN_CFG_NO_TXTIME : 0,
    owner: s.owner ?? 0,
    maxPriority: s.maxPriority ?? NO_CLAMP,
    maxAgeNs: s.maxAgeNs,
    store: STORES[s.store],
    defaultPriority: s.defaultPriority ?? 0,
    txtimeHorizonNs: s.txtime?.horizonNs ?? 0n,
  };
}

/** What to open: which programs to load, with which config, sharing which pinned maps. */
export interface CoreInstance {
  /** C names of the programs to load; every other program of the object stays unloaded. */
  readonly programs: readonly string[];
  /** The instance's `tsn_cfg`. */
  readonly config: TsnConfig;
  /** Share the node-wide maps pinned in this layout instead of creating new ones. */
  readonly shareMapsOf?: PinLayout;
}

/** Opens (not loads) an instance of the core; the caller loads and closes it. */
export function openCore(instance: CoreInstance): BpfObject {
  const wanted = new Set(instance.programs);
  const autoload = Object.fromEntries(
    Object.values(PROGRAMS).map((p) => [p.name, wanted.has(p.name)]),
  );
  // The stores a node does not use still exist in the object: shrink them to one entry.
  const unused = Object.entries(STORES).filter(([, v]) => v !== instance.config.store)
    .map(([name]) => STORE_MAPS[name as StoreName]);
  const pins = instance.shareMapsOf;
  return BpfObject.open(coreObjectPath(), {
    autoload,
    rodata: (bytes) => TsnConfigCodec.encode(instance.config, bytes, VARIABLES.tsnCfg.offset),
    maxEntries: Object.fromEntries(unused.map((m) => [m, 1])),
    ...(pins
      ? {
        reuseMaps: {
          tsn_records: pins.records,
          tsn_buckets: pins.buckets,
          tsn_clock_gate: pins.clockGate,
          tsn_counters: pins.counters,
        },
      }
      : {}),
  });
}
