/**
 * `tsnproxy agent`: the node agent's command line.
 *
 *   tsnproxy agent --config FILE              run until SIGTERM/SIGINT
 *   tsnproxy agent --config FILE --uninstall  remove tsn-proxy from the node
 *   tsnproxy agent --config FILE --check      validate the config and exit
 *
 * Exit codes: 0 success, 1 failure, 2 bad usage or config.
 *
 * @example
 * ```ts ignore
 * import { agentCommand } from "@tsn-proxy/agent";
 * Deno.exit(await agentCommand(["--config", "/etc/tsn-proxy/agent.yaml"]));
 * ```
 */
import { parseArgs } from "node:util";
import { runAgent, uninstall } from "./agent.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createLog, LOG_FORMATS, type LogFormat } from "./log.ts";

/** Usage text. */
export const AGENT_USAGE = `usage: tsnproxy agent --config FILE [--uninstall | --check]
                      [--log-format text|json]

  --config FILE      agent configuration (YAML or JSON; see agent/README.md)
  --uninstall        remove the conf entry, every saver, the pins, the plugin and the state
  --check            validate the configuration and exit
  --log-format FMT   text (default) or json: one JSON object per line (overrides logFormat)
`;

/** Entry point of `tsnproxy agent`; resolves with the exit code. */
export async function agentCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        uninstall: { type: "boolean" },
        check: { type: "boolean" },
        "log-format": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`tsnproxy agent: ${(e as Error).message}\n\n${AGENT_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(AGENT_USAGE);
    return 0;
  }
  if (!values.config) {
    console.error(`tsnproxy agent: --config is required\n\n${AGENT_USAGE}`);
    return 2;
  }
  const format = values["log-format"];
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) {
    console.error(`tsnproxy agent: --log-format must be text or json, got "${format}"`);
    return 2;
  }
  let cfg;
  try {
    cfg = await loadConfig(values.config);
  } catch (e) {
    console.error(`tsnproxy agent: config error: ${(e as Error).message}`);
    return e instanceof ConfigError ? 2 : 1;
  }
  if (format !== undefined) cfg = { ...cfg, logFormat: format as LogFormat };
  const log = createLog(cfg.logFormat);
  if (values.check) {
    console.log(JSON.stringify(cfg, null, 2));
    return 0;
  }
  try {
    if (values.uninstall) {
      await uninstall(cfg, log);
      log("uninstalled", { event: "agent.uninstalled" });
      return 0;
    }
    const agent = await runAgent(cfg, { log });
    log(`serving on ${cfg.socketPath}`, { event: "agent.serving", socket: cfg.socketPath });
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      Deno.addSignalListener("SIGTERM", stop);
      Deno.addSignalListener("SIGINT", stop);
    });
    log("stopping (datapath and conf entry stay in place)", { event: "agent.stopping" });
    await agent.stop();
    return 0;
  } catch (e) {
    log((e as Error).message, { event: "agent.failed", level: "error" });
    return 1;
  }
}
