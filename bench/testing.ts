/**
 * @module
 * Fixtures shared by the bench's unit tests.
 */
import { type TaprioArm, type TaprioMeasurement, taprioSchedule } from "./taprio.ts";

/**
 * A small taprio measurement: no proxy (a in best effort), skb-addr (a in its window), and a failed
 * skb-data arm.
 *
 * @example
 * ```ts ignore
 * const md = taprioMarkdown(taprioFixture());
 * ```
 */
export function taprioFixture(): TaprioMeasurement {
  const s = taprioSchedule();
  const bins = (at: Record<number, number>) => Array.from({ length: 40 }, (_, i) => at[i] ?? 0);
  const arm = (
    strategy: string,
    classes: Record<string, number>,
    a: Record<number, number>,
    own: number,
  ): TaprioArm => ({
    strategy,
    label: strategy,
    cycleNs: s.cycleNs,
    binNs: 1000,
    windows: s.windows,
    classes,
    talkers: [
      { talker: "a-prio1", priority: 1, tc: 1, sent: 10, received: 9, seen: 9, prioRight: 9 },
    ],
    hook: "nic",
    histogram: [{ talker: "a-prio1", priority: 1, tc: 1, bins: bins(a) }],
    farHistogram: [{ talker: "a-prio1", priority: 1, tc: 1, bins: bins({ 30: 9 }) }],
    inOwnWindow: { "a-prio1": own },
    farInOwnWindow: { "a-prio1": 0 },
    restored: strategy === "none" ? null : 9,
    nicProbe: "attached",
    ms: 1000,
  });
  return {
    kernel: "6.12.0-test",
    count: 10,
    store: "buckets",
    cycleScale: 1,
    cycleNs: s.cycleNs,
    binNs: 1000,
    windows: s.windows,
    arms: [
      arm("none", { "100:1": 0, "100:2": 0, "100:4": 31 }, { 25: 9 }, 0),
      arm("skb-addr", { "100:1": 0, "100:2": 11, "100:4": 20 }, { 3: 9 }, 0.987),
      { ...arm("skb-data", {}, {}, 0), error: "Error: boom | x\n  at y" },
    ],
    ms: 4200,
  };
}
