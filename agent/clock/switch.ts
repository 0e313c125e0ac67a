/**
 * The clock switch as a BPF map: a single-entry `BPF_MAP_TYPE_ARRAY` (key u32 0, value u32) that
 * the restorer reads before it restores a txtime; 1 = refuse. Zero, the value of a fresh map, is
 * today's behaviour (restore), so a datapath the agent has not judged yet, or one loaded without
 * the setting, restores as before.
 *
 * The map belongs to the BPF core (the lead adds it, pinned beside the counters); this module is
 * the userspace half, so wiring it is one line in the agent:
 * `mapClockSwitch(() => BpfMap.fromPinned(pins.clock))`.
 *
 * @example
 * ```ts ignore
 * import { BpfMap } from "@tsn-proxy/bpf/libbpf";
 * import { mapClockSwitch } from "./switch.ts";
 * mapClockSwitch(() => BpfMap.fromPinned("/sys/fs/bpf/tsn-proxy/clock")).setRefuse(true);
 * ```
 */
import type { BpfMap } from "@tsn-proxy/bpf/libbpf";
import type { ClockSwitch } from "./gate.ts";

/** Key and value layout of the switch map. */
export const CLOCK_SWITCH = { keySize: 4, valueSize: 4, refuse: 1, restore: 0 } as const;

/** A switch over the map `open` returns (opened per write: the pin may be replaced by `up`). */
export function mapClockSwitch(open: () => BpfMap): ClockSwitch {
  return {
    setRefuse(refuse: boolean) {
      const map = open();
      try {
        if (map.keySize !== CLOCK_SWITCH.keySize || map.valueSize < CLOCK_SWITCH.valueSize) {
          throw new Error(
            `map ${map.name}: key ${map.keySize} / value ${map.valueSize} bytes, want 4 / 4`,
          );
        }
        const value = new Uint8Array(map.valueSize);
        new DataView(value.buffer).setUint32(
          0,
          refuse ? CLOCK_SWITCH.refuse : CLOCK_SWITCH.restore,
          true,
        );
        map.update(new Uint8Array(CLOCK_SWITCH.keySize), value);
      } finally {
        map.close();
      }
    },
  };
}
