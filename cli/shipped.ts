/**
 * The entry point of the shipped `tsnproxy` (dist/tsnproxy, the agent's container image): the
 * node-side commands only ({@link SHIPPED_COMMANDS} of cli/commands.ts), without the demo and its
 * simulation toolkit.
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
import { dispatch, SHIPPED_COMMANDS } from "./commands.ts";

export { SHIPPED_COMMANDS } from "./commands.ts";

/** Runs a shipped command; returns the exit code. */
export function shipped(argv: string[]): Promise<number> {
  // `tsnproxy --config FILE` (no command word) is the agent.
  const named = argv[0]?.startsWith("-") && !["--help", "-h"].includes(argv[0])
    ? ["agent", ...argv]
    : argv;
  return dispatch(SHIPPED_COMMANDS, named);
}

if (import.meta.main) Deno.exit(await shipped(Deno.args));
