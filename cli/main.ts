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
import { UsageError } from "./args.ts";

/** A subcommand: takes its own argv, returns the exit code. */
export type Command = (argv: string[]) => Promise<number>;

/** A command of the table: its one-line summary and its lazily imported entry point. */
export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

/** The command table: every command answers `--help` (cli/help_test.ts walks it). */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  datapath: {
    summary: "load, attach, inspect and remove the BPF datapath (up|attach|detach|down|stats)",
    load: async () => (await import("./datapath.ts")).datapathCommand,
  },
  agent: {
    summary: "run the node agent: datapath, CNI plugin install, conf entry, plugin socket, metrics",
    load: async () => (await import("@tsn-proxy/agent")).agentCommand,
  },
  demo: {
    summary: "run the simulated-node demo: traffic without and with tsn-proxy, side by side",
    load: async () => (await import("@tsn-proxy/demo")).demoCommand,
  },
  status: {
    summary: "strategy, trackers, restorers, pod savers and counters (works with the agent down)",
    load: async () => (await import("./status.ts")).statusCommand,
  },
  doctor: {
    summary: "node pre-flight: kernel, BPF, TSN qdiscs, CNI config; exit 0 fit, 1 unfit",
    load: async () => (await import("./doctor.ts")).doctorCommand,
  },
  manifest: {
    summary: "print the Kubernetes manifest (namespace, RBAC, config, policy, DaemonSet)",
    load: async () => (await import("@tsn-proxy/k8s")).manifestCommand,
  },
};

/** Usage text listing every command. */
export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: tsnproxy <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n` +
    "tsnproxy <command> --help shows a command's options.\n";
}

/** Runs `tsnproxy` with `argv`; returns the exit code instead of exiting (tests call this). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`tsnproxy: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`tsnproxy ${name}: ${e.message}`);
      return 2;
    }
    console.error(`tsnproxy ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
