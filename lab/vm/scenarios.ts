/**
 * @module
 * What the VM suite's guest scenarios run: per scenario, the records per talker and the network
 * and qdisc set-ups (VLAN, taprio, mqprio+etf). The scenarios (lab/guest/scenarios/vm-*.ts), their
 * checks (./checks.ts) and the other users of the same set-ups (bench's taprio arm, the kind e2e,
 * the taprio demo) import them from here.
 */

/** Records per talker in vm-datapath. */
export const DATAPATH_COUNT = 100;

/** Records per talker in vm-clone. */
export const CLONE_COUNT = 100;

/** Records per talker in vm-vlan. */
export const VLAN_COUNT = 100;

/** The VLAN of vm-vlan: node1's `nic0.100` (192.0.3.1) on nic0 and ext's `br0.100` (192.0.3.2). */
export const VLAN = { id: 100, dev: "nic0.100", node: "192.0.3.1", ext: "192.0.3.2" } as const;

/** Talker → SO_PRIORITY (= expected PCP with the identity egress-qos-map) in vm-vlan. */
export const VLAN_PRIORITIES: Readonly<Record<string, number>> = {
  "a-tai": 5,
  "b-socat": 3,
  "c-optout": 6,
};

/** Records per talker in vm-taprio. */
export const TAPRIO_COUNT = 100;

/** The taprio of vm-taprio (`tc qdisc replace dev nic0 ARGS`). */
export const TAPRIO: {
  readonly handle: string;
  readonly args: readonly string[];
  readonly classOf: Readonly<Record<"a-prio1" | "b-prio2" | "c-best-effort", string>>;
  readonly bestEffort: string;
} = {
  handle: "100",
  args: [
    "parent",
    "root",
    "handle",
    "100",
    "taprio",
    "num_tc",
    "4",
    // priority 0 (and 3..15) → TC3, best effort; 1 → TC1; 2 → TC2; TC0 is unused.
    "map",
    ..."3 1 2 3 3 3 3 3 3 3 3 3 3 3 3 3".split(" "),
    "queues",
    "1@0",
    "1@1",
    "1@2",
    "1@3",
    "base-time",
    "0",
    "sched-entry",
    "S",
    "02",
    "10000",
    "sched-entry",
    "S",
    "04",
    "10000",
    "sched-entry",
    "S",
    "08",
    "20000",
    "clockid",
    "CLOCK_TAI",
  ],
  /** Talker → the taprio class its priority maps to (class 100:N is TC N-1's queue). */
  classOf: { "a-prio1": "100:2", "b-prio2": "100:3", "c-best-effort": "100:4" },
  bestEffort: "100:4",
} as const;

/** Records per talker in vm-etf. */
export const ETF_COUNT = 100;

/**
 * mqprio + etf of vm-etf (`tc qdisc replace dev nic0 ARGS`). etf dequeues a packet from
 * txtime - delta on and drops it as late (overlimits) after its txtime. Under TCG a guest's
 * softirqs can run tens of ms late when the host is busy (measured: 2 ms, 10 ms and 50 ms deltas
 * each lost 10-57 % on a loaded host), so the txtime is 500 ms ahead and etf may send it from
 * 50 ms after it was queued: the test is whether etf gets a valid txtime, not its precision.
 */
export const ETF: {
  readonly priority: number;
  readonly aheadUs: number;
  readonly deltaNs: number;
  readonly mqprio: readonly string[];
  readonly etf: readonly string[];
} = {
  priority: 3,
  aheadUs: 500_000,
  deltaNs: 450_000_000,
  mqprio: [
    ..."root handle 100: mqprio num_tc 2 map 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0".split(" "),
    ..."queues 1@0 1@1 hw 0".split(" "),
  ],
  etf: [
    ..."parent 100:2 etf clockid CLOCK_TAI delta 450000000 skip_sock_check".split(" "),
  ],
} as const;
