/**
 * `tsnproxy`: the command line of tsn-proxy.
 *
 *   tsnproxy datapath up|attach|detach|down|stats ...   low-level datapath control
 *   tsnproxy demo [...]                                 the simulated-node demo
 *   tsnproxy status [--json] [--state-dir D|--bpffs D]  what tsn-proxy does on this node
 *   tsnproxy doctor [...]                               is this node fit for tsn-proxy?
 *
 * Exit codes: 0 success, 1 failure, 2 bad usage (nothing was changed).
 *
 * @example
 * ```sh
 * deno task tsnproxy datapath stats --bpffs /sys/fs/bpf/tsn-proxy --json
 * ```
 */
import { type CommandTable, dispatch, SHIPPED_COMMANDS } from "./commands.ts";

export type { Command, CommandEntry } from "./commands.ts";

/** Every command: the shipped ones (cli/commands.ts) and the repository's own tools. */
export const COMMANDS: CommandTable = {
  datapath: {
    summary: "load, attach, inspect and remove the BPF datapath (up|attach|detach|down|stats)",
    load: async () => (await import("./datapath.ts")).datapathCommand,
  },
  agent: SHIPPED_COMMANDS.agent!,
  demo: {
    summary: "run the simulated-node demo: traffic without and with tsn-proxy, side by side",
    load: async () => (await import("@tsn-proxy/demo")).demoCommand,
  },
  status: SHIPPED_COMMANDS.status!,
  doctor: SHIPPED_COMMANDS.doctor!,
  manifest: {
    summary: "print the Kubernetes manifest (namespace, RBAC, config, policy, DaemonSet)",
    load: async () => (await import("@tsn-proxy/k8s")).manifestCommand,
  },
};

/** Runs `tsnproxy` with `argv`; returns the exit code instead of exiting (tests call this). */
export function main(argv: string[]): Promise<number> {
  return dispatch(COMMANDS, argv);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
