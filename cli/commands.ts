/**
 * The one command table of `tsnproxy`: each command's summary and entry point, and how a command
 * line is dispatched to it. `cli/main.ts` (the repository's CLI) serves every command;
 * `cli/shipped.ts` (the agent image's binary) serves {@link SHIPPED_COMMANDS} only, so its bundle
 * leaves out the demo, the datapath tool and the manifest (a bundler follows every literal
 * `import()`, lazy ones too).
 *
 * @example
 * ```ts ignore
 * import { dispatch, SHIPPED_COMMANDS } from "./commands.ts";
 * Deno.exit(await dispatch(SHIPPED_COMMANDS, ["status", "--json"]));
 * ```
 */
import { UsageError } from "./args.ts";

/** A subcommand: takes its own argv, returns the exit code. */
export type Command = (argv: string[]) => Promise<number>;

/** A command of the table: its one-line summary and its entry point (loaded on use). */
export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

/** A command table, by name; every command answers `--help` (cli/help_test.ts walks them). */
export type CommandTable = Readonly<Record<string, CommandEntry>>;

/** The node-side commands: what the shipped binary serves. */
export const SHIPPED_COMMANDS: CommandTable = {
  agent: {
    summary: "run the node agent: datapath, CNI plugin install, conf entry, plugin socket, metrics",
    load: async () => (await import("@tsn-proxy/agent")).agentCommand,
  },
  status: {
    summary: "strategy, trackers, restorers, pod savers and counters (works with the agent down)",
    load: async () => (await import("./status.ts")).statusCommand,
  },
  doctor: {
    summary: "node pre-flight: kernel, BPF, TSN qdiscs, CNI config; exit 0 fit, 1 unfit",
    load: async () => (await import("./doctor.ts")).doctorCommand,
  },
};

/** Usage text listing every command of `table`. */
export function usage(table: CommandTable): string {
  const lines = Object.entries(table).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: tsnproxy <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n` +
    "tsnproxy <command> --help shows a command's options.\n";
}

/**
 * Runs the command `argv` names from `table`; returns the exit code: the command's, 0 for help,
 * 2 for bad usage (no or an unknown command, a {@link UsageError}), 1 for any other failure.
 */
export async function dispatch(table: CommandTable, argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(usage(table));
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!command) {
    console.error(`tsnproxy: unknown command "${name}"\n\n${usage(table)}`);
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
