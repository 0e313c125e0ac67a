/**
 * The agent's end of the plugin protocol: a Unix stream socket (mode 0600, root only), one JSON
 * request line and one JSON response line per connection (see @tsn-proxy/cni/protocol).
 *
 * The file mode is not the only guard: a hostPath mount or a chmod can expose the socket. Every
 * connection's peer is checked with the kernel's credentials ({@link peerRefusal}); a caller that
 * is not root in the agent's user namespace gets error 103 and its request is never parsed; the
 * refusal is logged (`cni.caller_refused`) and counted.
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
import {
  AgentProtocolError,
  callAgent,
  checkRequest,
  readLine,
  statusRequest,
  writeMessage,
} from "@tsn-proxy/cni/protocol";
import { ErrorCode } from "@tsn-proxy/cni";
import type { Log } from "./log.ts";
import { listenUnix, type PeerConn, type PeerCred, type UsernsMatch } from "./peer_socket.ts";

/** A running server. */
export interface CniServer {
  readonly path: string;
  /** Stops accepting, waits for requests in flight, removes the socket file. */
  close(): Promise<void>;
}

/**
 * Decodes and checks a request line (`checkRequest` of @tsn-proxy/cni/protocol); anything
 * malformed becomes the error answer, naming the field that is wrong.
 */
export function parseRequest(line: string): AgentRequest | AgentResponse {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { v: 1, ok: false, code: ErrorCode.DecodingFailure, msg: "request is not JSON" };
  }
  try {
    return checkRequest(v);
  } catch (e) {
    if (!(e instanceof AgentProtocolError)) throw e;
    return {
      v: 1,
      ok: false,
      code: ErrorCode.AgentProtocol,
      msg: `malformed request: ${e.message}`,
      details: line.slice(0, 300),
    };
  }
}

/** Why a refused caller was refused. */
export type RefusalReason = "uid" | "userns";

/**
 * Why the agent must not serve a peer, or null: the peer must be uid 0 as the agent's user
 * namespace sees it (the host's: a root in another user namespace maps to another uid or to the
 * overflow uid 65534) and, where the kernel tells, run in the agent's user namespace itself.
 * "unknown" (an old kernel and a peer pid the agent cannot see) leaves the uid to decide.
 */
function peerRefusal(
  peer: PeerCred,
  userns: UsernsMatch,
): { reason: RefusalReason; detail: string } | null {
  const who = `uid ${peer.uid} gid ${peer.gid} pid ${peer.pid || "(not visible)"}`;
  if (peer.uid !== 0) {
    return { reason: "uid", detail: `caller ${who} is not root in the agent's user namespace` };
  }
  if (userns === "foreign") {
    return { reason: "userns", detail: `caller ${who} runs in another user namespace` };
  }
  return null;
}

/** Options of {@link serveCni}. */
export interface ServeOptions {
  /** Called once per refused caller (the agent counts them). */
  readonly refused?: (reason: RefusalReason) => void;
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
  log: Log = () => {},
  opts: ServeOptions = {},
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
  const listener = listenUnix(tmp);
  try {
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (e) {
    listener.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  const inFlight = new Set<Promise<void>>();

  const serveConn = async (conn: PeerConn) => {
    try {
      const refusal = peerRefusal(conn.peer, conn.userns);
      if (refusal !== null) {
        opts.refused?.(refusal.reason);
        log(`cni socket: refused ${refusal.detail}`, {
          event: "cni.caller_refused",
          level: "error",
          reason: refusal.reason,
          uid: conn.peer.uid,
          gid: conn.peer.gid,
          pid: conn.peer.pid,
          userns: conn.userns,
        });
        await writeMessage(conn, {
          v: 1,
          ok: false,
          code: ErrorCode.CallerRefused,
          msg: "caller refused by the tsn-proxy agent",
          details: refusal.detail,
        }).catch(() => {});
        // Drained (never parsed), so a caller still writing its request reads the answer instead
        // of a broken pipe; bounded by the message limit and the connection's I/O timeout.
        await readLine(conn).catch(() => {});
        return;
      }
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
    for (let conn = await listener.accept(); conn !== null; conn = await listener.accept()) {
      const p = serveConn(conn);
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    }
  })();

  return {
    path,
    async close() {
      listener.close();
      await loop;
      await Promise.all([...inFlight]);
      await Deno.remove(path).catch(() => {});
    },
  };
}
