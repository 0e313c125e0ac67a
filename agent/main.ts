/**
 * Process entry of the agent bundle (dist/tsnproxy): `tsnproxy agent ...`. A leading "agent"
 * word is accepted, so the launcher reads like the full CLI.
 *
 * @example
 * ```sh
 * deno run -A agent/main.ts agent --config /etc/tsn-proxy/agent.yaml
 * ```
 */
import { agentCommand } from "./command.ts";

if (import.meta.main) {
  const args = Deno.args[0] === "agent" ? Deno.args.slice(1) : Deno.args;
  Deno.exit(await agentCommand(args));
}
