/**
 * The tsn-proxy CNI plugin: validates what the runtime passed, answers VERSION, and hands ADD,
 * DEL, CHECK, GC and STATUS to the node agent over its Unix socket. It never touches the kernel.
 *
 * Availability rules (a node agent that is down must not take the node's pods with it):
 * - a pod that did not opt in passes through without asking the agent at all;
 * - a pod whose opt-in the runtime did not tell (no annotations passed) is decided by the agent;
 *   with the agent down it passes through, with a warning on stderr;
 * - an opted-in pod fails ADD with code 11 (try again later) while the agent is down: the runtime
 *   retries, and the pod never runs without the metadata it asked for;
 * - DEL is best effort: it succeeds with the agent down (the agent sweeps attachments whose netns
 *   is gone when it starts); a pod that did not opt in is not even forwarded.
 *
 * @example
 * ```ts ignore
 * import { runPlugin } from "./plugin.ts";
 * const out = await runPlugin({ env: Deno.env.toObject(), stdin: "{...}" });
 * console.log(out.stdout);
 * ```
 */
import { localOptIn, type NetConf, parseNetConf } from "./config.ts";
import type { LocalOptIn } from "./pod.ts";
import { type CniEnv, parseCniEnv } from "./env.ts";
import {
  type AgentRequest,
  type AgentResponse,
  AgentUnavailableError,
  callAgent,
} from "./protocol.ts";
import { passThrough } from "./result.ts";
import { CNI_VERSION, CniError, ErrorCode, isSupportedVersion, versionInfo } from "./spec.ts";

/** What one invocation gets. */
export interface PluginIO {
  /** The process environment (CNI_*). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** stdin, read whole. */
  readonly stdin: string;
  /** The agent call; tests inject fakes. */
  readonly call?: (socketPath: string, req: AgentRequest, timeoutMs: number) => Promise<
    AgentResponse
  >;
  /** Where diagnostics go (stderr). */
  readonly log?: (line: string) => void;
}

/** What one invocation produced. */
export interface PluginOutcome {
  /** Process exit code: 0 or 1. */
  readonly code: number;
  /** What goes to stdout: a result, version info, or an error object. */
  readonly stdout: string;
}

function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return isSupportedVersion(v) ? v : CNI_VERSION;
  } catch {
    return CNI_VERSION;
  }
}

function json(v: unknown): string {
  return JSON.stringify(v) + "\n";
}

/** Runs one invocation; never throws (every failure becomes a spec error). */
export async function runPlugin(io: PluginIO): Promise<PluginOutcome> {
  const log = io.log ?? ((line: string) => console.error(line));
  try {
    return { code: 0, stdout: await invoke(io, log) };
  } catch (e) {
    const err = e instanceof CniError
      ? e
      : new CniError(ErrorCode.Internal, "tsn-proxy plugin failed", String(e));
    return { code: 1, stdout: json(err.toJSON(versionOf(io.stdin))) };
  }
}

async function invoke(io: PluginIO, log: (line: string) => void): Promise<string> {
  const env = parseCniEnv(io.env);
  if (env.command === "VERSION") return json(versionInfo(versionOf(io.stdin)));
  const conf = parseNetConf(io.stdin, env.command);
  const optIn = localOptIn(conf, env.args);
  const call = io.call ?? callAgent;
  const ask = (req: AgentRequest) => call(conf.socketPath, req, conf.agentTimeoutMs);
  const req = request(env, conf, optIn);

  switch (env.command) {
    case "ADD":
    case "CHECK": {
      if (optIn.decision === "no") return resultOf(conf, env);
      let res: AgentResponse;
      try {
        res = await ask(req);
      } catch (e) {
        if (!(e instanceof AgentUnavailableError)) throw agentError(e);
        if (optIn.decision === "unknown") {
          log(
            `tsn-proxy: ${env.command} ${env.containerId}: ${e.message}; opt-in unknown ` +
              "(the runtime passed no pod annotations), passing through without a saver",
          );
          return resultOf(conf, env);
        }
        throw new CniError(
          ErrorCode.TryAgainLater,
          "tsn-proxy node agent is not available",
          `${e.message}; the pod opted in (${optIn.source}) and cannot start without its ` +
            "saver; retry once the tsn-proxy agent on this node is running",
        );
      }
      check(res);
      return resultOf(conf, env);
    }
    case "DEL": {
      // Sandbox annotations do not change after ADD: a pod that did not opt in has no saver.
      if (optIn.decision === "no") return "";
      try {
        check(await ask(req));
      } catch (e) {
        if (!(e instanceof AgentUnavailableError)) throw agentError(e);
        // Best effort: the agent removes attachments whose netns is gone when it starts.
        log(`tsn-proxy: DEL ${env.containerId}: ${e.message}; left to the agent's sweep`);
      }
      return "";
    }
    case "GC": {
      try {
        check(await ask(req));
      } catch (e) {
        if (!(e instanceof AgentUnavailableError)) throw agentError(e);
        throw new CniError(
          ErrorCode.TryAgainLater,
          "tsn-proxy node agent is not available",
          e.message,
        );
      }
      return "";
    }
    case "STATUS": {
      try {
        check(await ask(req));
      } catch (e) {
        if (e instanceof CniError) throw e;
        throw new CniError(
          ErrorCode.PluginNotAvailable,
          "tsn-proxy node agent is not ready",
          e instanceof Error ? e.message : String(e),
        );
      }
      return "";
    }
  }
}

function request(env: CniEnv, conf: NetConf, optIn: LocalOptIn): AgentRequest {
  return {
    v: 1,
    command: env.command as AgentRequest["command"],
    network: conf.name,
    cniVersion: conf.cniVersion,
    containerId: env.containerId,
    netns: env.netns,
    ifname: env.ifname,
    args: env.args,
    optIn: optIn.decision,
    optInSource: optIn.source,
    ...(conf.validAttachments ? { validAttachments: conf.validAttachments } : {}),
  };
}

function resultOf(conf: NetConf, env: CniEnv): string {
  // CHECK prints nothing on success; ADD passes the previous result through.
  if (env.command === "CHECK") return "";
  return json(passThrough(conf.prevResult ?? {}, conf.cniVersion));
}

function check(res: AgentResponse): void {
  if (!res.ok) throw new CniError(res.code, res.msg, res.details ?? "");
}

function agentError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  return new CniError(
    ErrorCode.AgentProtocol,
    "unexpected answer from the tsn-proxy node agent",
    e instanceof Error ? e.message : String(e),
  );
}
