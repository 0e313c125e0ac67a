/**
 * The agent's end of the plugin protocol: a Unix stream socket (mode 0600, root only), one JSON
 * request line and one JSON response line per connection (see @tsn-proxy/cni/protocol).
 *
 * @example
 * ```ts ignore
 * import { serveCni } from "./server.ts";
 * const server = await serveCni("/var/run/tsn-proxy/cni.sock", (req) => handler.handle(req));
 * await server.close();
 * ```
 */
import { dirname } from "node:path";
import type { AgentRequest, AgentResponse } from "@tsn-proxy/cni/protocol";
import { callAgent, readLine, statusRequest, writeMessage } from "@tsn-proxy/cni/protocol";
import { ErrorCode } from "@tsn-proxy/cni";

/** A running server. */
export interface CniServer {
  readonly path: string;
  /** Stops accepting, waits for requests in flight, removes the socket file. */
  close(): Promise<void>;
}

const COMMANDS = new Set(["ADD", "DEL", "CHECK", "GC", "STATUS"]);

/** Validates a request line; returns an error response for anything malformed. */
export function parseRequest(line: string): AgentRequest | AgentResponse {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { v: 1, ok: false, code: ErrorCode.DecodingFailure, msg: "request is not JSON" };
  }
  const r = v as Record<string, unknown>;
  const strings = ["network", "cniVersion", "containerId", "netns", "ifname", "optInSource"];
  const args = r?.args as Record<string, unknown> | null | undefined;
  const valid = r?.validAttachments;
  if (
    typeof v !== "object" || v === null || Array.isArray(v) || r.v !== 1 ||
    typeof r.command !== "string" || !COMMANDS.has(r.command) ||
    strings.some((k) => typeof r[k] !== "string") ||
    typeof r.optIn !== "string" || !["yes", "no", "unknown"].includes(r.optIn) ||
    typeof args !== "object" ||
    args === null || Array.isArray(args) ||
    Object.values(args).some((x) => typeof x !== "string") ||
    (valid !== undefined &&
      (!Array.isArray(valid) ||
        valid.some((a) =>
          typeof a !== "object" || a === null || typeof a.containerID !== "string" ||
          typeof a.ifname !== "string"
        )))
  ) {
    return {
      v: 1,
      ok: false,
      code: ErrorCode.AgentProtocol,
      msg: "malformed request",
      details: line.slice(0, 300),
    };
  }
  return v as AgentRequest;
}

/** True when an agent answers on the socket at path. */
export async function socketInUse(path: string): Promise<boolean> {
  try {
    await callAgent(path, statusRequest(), 1000);
    return true;
  } catch {
    return false;
  }
}

/**
 * Listens on path and answers each request with handle(). Refuses to start when another agent
 * answers on the socket; a stale socket file (nobody listening) is replaced.
 */
export async function serveCni(
  path: string,
  handle: (req: AgentRequest) => Promise<AgentResponse>,
  log: (msg: string) => void = () => {},
): Promise<CniServer> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  if (await socketInUse(path)) {
    throw new Error(`another tsn-proxy agent answers on ${path}; stop it first`);
  }
  await Deno.remove(path).catch(() => {});
  // Bound under a temporary name, made 0600, then renamed into place: the socket is never
  // reachable with the mode the process umask gave it.
  const tmp = `${path}.tmp`;
  await Deno.remove(tmp).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path: tmp });
  try {
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (e) {
    listener.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  const inFlight = new Set<Promise<void>>();

  const serveConn = async (conn: Deno.UnixConn) => {
    try {
      let line: string;
      try {
        line = await readLine(conn);
      } catch (e) {
        // Too large (or a broken connection): answer with the reason when the peer still listens.
        await writeMessage(conn, {
          v: 1,
          ok: false,
          code: ErrorCode.AgentProtocol,
          msg: "unreadable request",
          details: e instanceof Error ? e.message : String(e),
        }).catch(() => {});
        throw e;
      }
      const parsed = parseRequest(line);
      const res = "command" in parsed ? await handle(parsed) : parsed;
      await writeMessage(conn, res);
    } catch (e) {
      log(`cni socket: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      try {
        conn.close();
      } catch { /* closed by the peer */ }
    }
  };

  const loop = (async () => {
    for await (const conn of listener) {
      const p = serveConn(conn);
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    }
  })().catch(() => {/* listener closed */});

  return {
    path,
    async close() {
      try {
        listener.close();
      } catch { /* already closed */ }
      await loop;
      await Promise.all([...inFlight]);
      await Deno.remove(path).catch(() => {});
    },
  };
}
