/**
 * The talkers of the datapath matrix, shared by the host test (e2e/datapath_kernel_test.ts) and
 * the kernel-lab guests (lab/guest/scenarios/vm-datapath.ts), so both prove the same traffic:
 * opted-in pods a and b (TAI and MONOTONIC txtimes, socat UDP and TCP) and pod c, which did not
 * opt in but sets a priority and a TAI txtime.
 *
 * @example
 * ```ts
 * import { matrixTalkers } from "./matrix_talkers.ts";
 * console.log(matrixTalkers(100).map((t) => t.name));
 * ```
 */
import type { TalkerSpec } from "./scenario.ts";

/** The matrix's talkers, each sending `count` records. */
export function matrixTalkers(count: number): TalkerSpec[] {
  return [
    { pod: "a", protocol: "udp", tool: "txtime", clock: "tai", priority: 5, count, name: "a-tai" },
    { pod: "a", protocol: "tcp", tool: "socat", priority: 2, count, name: "a-tcp" },
    {
      pod: "b",
      protocol: "udp",
      tool: "txtime",
      clock: "mono",
      priority: 4,
      count,
      name: "b-mono",
    },
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
