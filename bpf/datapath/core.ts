/**
 * Opening instances of the BPF core: the compiled object, its `.rodata` configuration encoded with
 * the generated layout, and the node-wide maps shared through their pins.
 *
 * @example
 * ```ts ignore
 * import { openCore } from "./core.ts";
 * const obj = openCore({ programs: ["tsn_restorer"], config: { keyMode: 0, flags: 0, owner: 0,
 *   maxPriority: 0xffffffff, maxAgeNs: 100_000_000n } });
 * ```
 */
import { fileURLToPath } from "node:url";
import { BpfObject } from "../libbpf/mod.ts";
import {
  OBJECT_PATH,
  PROGRAMS,
  type TsnConfig,
  TsnConfig as TsnConfigCodec,
  VARIABLES,
} from "../gen/tsn_core.ts";
import type { PinLayout } from "./layout.ts";

/** Default record age bound: 40x the worst save-to-restore time measured (2.5 ms). */
export const DEFAULT_MAX_AGE_NS = 100_000_000n;

/** No clamp: every priority passes. */
export const NO_CLAMP = 0xffffffff;

/** The compiled core object: `TSN_PROXY_BPF_OBJECT` or the repository's committed object. */
export function coreObjectPath(): string {
  return Deno.env.get("TSN_PROXY_BPF_OBJECT") ??
    fileURLToPath(new URL(`../../${OBJECT_PATH}`, import.meta.url));
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
  const pins = instance.shareMapsOf;
  return BpfObject.open(coreObjectPath(), {
    autoload,
    rodata: (bytes) => TsnConfigCodec.encode(instance.config, bytes, VARIABLES.tsnCfg.offset),
    ...(pins ? { reuseMaps: { tsn_records: pins.records, tsn_counters: pins.counters } } : {}),
  });
}
