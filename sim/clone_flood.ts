/**
 * The clone path's traffic, shared by the host test (e2e/clone_kernel_test.ts) and the kernel-lab
 * guests (lab/guest/scenarios/vm-clone.ts), so both prove the same thing: topology `bridge-flood`
 * (nic0 is a port of the pods' bridge), talkers sending to a multicast group, so br_flood() hands
 * nic0 a clone of every packet. Opted-in pods a (TAI txtime) and b (socat), and pod c, which did
 * not opt in but sets a priority and a TAI txtime.
 *
 * @example
 * ```ts
 * import { cloneTalkers } from "./clone_flood.ts";
 * console.log(cloneTalkers(100).map((t) => t.name));
 * ```
 */
import type { DatapathStats, TrackerState } from "@tsn-proxy/bpf/datapath";
import { type AttachedProxy, attachProxy } from "./proxy.ts";
import { type Family, runScenario, type ScenarioResult, type TalkerSpec } from "./scenario.ts";

/** The clone path's talkers, each sending `count` records. */
export function cloneTalkers(count: number): TalkerSpec[] {
  return [
    { pod: "a", protocol: "udp", tool: "txtime", clock: "tai", priority: 5, count, name: "a-tai" },
    { pod: "b", protocol: "udp", tool: "socat", priority: 6, count, name: "b-socat" },
    {
      pod: "c",
      protocol: "udp",
      tool: "txtime",
      clock: "tai",
      priority: 3,
      count,
      name: "c-optout",
    },
  ];
}

/** One run of the clone path. */
export interface CloneFloodOptions {
  /** Strategy name. */
  readonly strategy: string;
  /** Records per talker. */
  readonly count: number;
  /** Load the strategy's trackers (default true); see ProxyOptions.trackers in proxy.ts. */
  readonly trackers?: boolean;
  /** The talkers' address family (IPv6: the group ff15::7357); default 4. */
  readonly family?: Family;
}

/** A finished run of the clone path. */
export interface CloneFloodResult extends ScenarioResult {
  /** Tracker outcome at load. */
  readonly trackers: readonly TrackerState[];
  /** The datapath's stats after the traffic, before teardown. */
  readonly stats: DatapathStats;
}

/** Runs cloneTalkers() over bridge-flood with the proxy on pods a and b. */
export async function runCloneFlood(opts: CloneFloodOptions): Promise<CloneFloodResult> {
  let proxy: AttachedProxy | undefined;
  let stats: DatapathStats | undefined;
  const result = await runScenario({
    kind: "bridge-flood",
    family: opts.family ?? 4,
    talkers: cloneTalkers(opts.count),
    hooks: {
      beforeTraffic(topo) {
        proxy = attachProxy(topo, {
          strategy: opts.strategy,
          optedIn: ["a", "b"],
          trackers: opts.trackers ?? true,
        });
      },
      afterTraffic() {
        stats = proxy!.stats();
        proxy!.down();
      },
    },
  });
  // runScenario returns only after both hooks ran.
  return { ...result, trackers: proxy!.trackers, stats: stats! };
}
