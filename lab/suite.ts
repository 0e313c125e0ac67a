/**
 * @module
 * The VM suite: what `deno run -A lab/main.ts --kernel all` (`deno task e2e:vm`) and
 * `lab/datapath_vm_kernel_test.ts` run in one boot per kernel. The guest scenarios use the real
 * loader (`@tsn-proxy/bpf/datapath` through sim/proxy.ts) on sim topologies, so the share carries
 * bpf/, strategies/ and e2e/.
 *
 * @example
 * ```ts ignore
 * import { runLab } from "./mod.ts";
 * import { VM_SUITE } from "./suite.ts";
 * const r = await runLab({ kernel: "6.12", ...VM_SUITE });
 * ```
 */

/** The datapath scenarios (lab/guest/scenarios/vm-*.ts), in boot order. */
export const VM_SCENARIOS: readonly string[] = [
  "vm-datapath",
  "vm-clone",
  "vm-vlan",
  "vm-taprio",
  "vm-etf",
];

/** Repository paths the VM scenarios import. */
export const VM_REPO_PATHS: readonly string[] = ["bpf", "strategies", "sim", "e2e"];

/** runLab options of the VM suite (one boot). */
export const VM_SUITE = {
  scenarios: VM_SCENARIOS,
  repoPaths: VM_REPO_PATHS,
  /** Whole boot: about 2.5 min per kernel under TCG on 2 cores; room for a slow CI runner. */
  timeoutMs: 480_000,
  /** vm-datapath (13 topology runs) takes ~90-120 s under TCG. */
  scenarioTimeoutMs: 300_000,
} as const;
