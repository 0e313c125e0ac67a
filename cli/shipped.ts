/**
 * The entry point of the shipped `tsnproxy` (dist/tsnproxy, the agent's container image): the
 * node-side commands only, without the demo and the simulator it runs.
 *
 *   tsnproxy agent --config FILE [...]                  the node agent
 *   tsnproxy status [--json] [--state-dir D|--bpffs D]  what tsn-proxy does on this node
 *   tsnproxy doctor [...]                               is this node fit for tsn-proxy?
 *
 * @example
 * ```sh
 * kubectl -n tsn-system exec ds/tsn-proxy-agent -- /opt/tsn-proxy/tsnproxy status
 * ```
 */
import { agentCommand } from "@tsn-proxy/agent";
import { UsageError } from "./args.ts";
import { doctorCommand } from "./doctor.ts";
import { statusCommand } from "./status.ts";

/** The shipped commands, by name (tests walk it: each answers --help). */
export const SHIPPED_COMMANDS: Readonly<Record<string, (argv: string[]) => Promise<number>>> = {
  agent: agentCommand,
  status: statusCommand,
  doctor: doctorCommand,
};

const SHIPPED_USAGE = "usage: tsnproxy agent|status|doctor [options]; tsnproxy COMMAND --help";

/** Runs a shipped command; returns the exit code. */
export async function shipped(argv: string[]): Promise<number> {
  // `tsnproxy --config FILE` (no command word) is the agent, as agent/main.ts has it.
  if (argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
    console.log(SHIPPED_USAGE);
    return 0;
  }
  const [name = "", ...rest] = argv[0]?.startsWith("-") ? ["agent", ...argv] : argv;
  const command = SHIPPED_COMMANDS[name];
  if (!command) {
    console.error(`${SHIPPED_USAGE} (got "${name}")`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (e) {
    console.error(`tsnproxy ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await shipped(Deno.args));
