/**
 * The plugin <-> node agent protocol: one JSON request and one JSON response per connection on a
 * Unix stream socket, each a single line ending in "\n" (at most {@link MAX_MESSAGE_BYTES}). The
 * plugin sends what the runtime gave it (command, container id, netns, ifname, CNI_ARGS, network
 * name, its own reading of the opt-in and the default class); the agent answers `ok` or a CNI error code and message, which
 * the plugin prints as the spec's error object.
 *
 * @example
 * ```ts ignore
 * import { callAgent, statusRequest } from "@tsn-proxy/cni/protocol";
 * const res = await callAgent("/var/run/tsn-proxy/cni.sock", statusRequest(), 2000);
 * ```
 */
import type { Attachment } from "./config.ts";

/** Protocol version carried in every message. */
export const PROTOCOL_VERSION = 1;

/** Upper bound of one message, both ways. */
export const MAX_MESSAGE_BYTES = 1 << 20;

/** The commands the agent handles (VERSION never reaches it). */
export type AgentCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS";

/** What the plugin asks. */
export interface AgentRequest {
  readonly v: 1;
  readonly command: AgentCommand;
  /** The network (conflist) name. */
  readonly network: string;
  /** The config's version. */
  readonly cniVersion: string;
  /** `CNI_CONTAINERID` (ADD, DEL, CHECK). */
  readonly containerId: string;
  /** `CNI_NETNS` (may be empty on DEL). */
  readonly netns: string;
  /** `CNI_IFNAME`. */
  readonly ifname: string;
  /** `CNI_ARGS` (K8S_POD_NAMESPACE, K8S_POD_NAME, ...). */
  readonly args: Readonly<Record<string, string>>;
  /** The plugin's reading of the opt-in from runtimeConfig/CNI_ARGS/network config. */
  readonly optIn: "yes" | "no" | "unknown";
  /** Where that reading came from, for logs. */
  readonly optInSource: string;
  /**
   * The pod's default class as the plugin read it (annotation `tsn-proxy.io/priority`, an integer
   * 1..4294967295); absent: none, or the runtime passed no annotations.
   */
  readonly defaultPriority?: number;
  /** Why the plugin ignored the pod's default-class annotation, for the agent's log. */
  readonly defaultPriorityProblem?: string;
  /** GC: attachments still valid. */
  readonly validAttachments?: readonly Attachment[];
}

/**
 * A STATUS request that names no pod and no network: what asks whether an agent answers on a
 * socket. `optInSource` tells the agent's log who asked.
 */
export function statusRequest(optInSource = ""): AgentRequest {
  return {
    v: 1,
    command: "STATUS",
    network: "",
    cniVersion: "1.1.0",
    containerId: "",
    netns: "",
    ifname: "",
    args: {},
    optIn: "unknown",
    optInSource,
  };
}

/** The agent's answer. */
export type AgentResponse =
  | {
    readonly v: 1;
    readonly ok: true;
    /** ADD/CHECK: whether the pod has a saver now. */
    readonly attached?: boolean;
    /** A note for the plugin's log (why not attached, what GC removed). */
    readonly detail?: string;
  }
  | {
    readonly v: 1;
    readonly ok: false;
    /** A CNI error code. */
    readonly code: number;
    readonly msg: string;
    readonly details?: string;
  };

/** The agent could not be reached: no socket, nobody listening, or no answer in time. */
export class AgentUnavailableError extends Error {
  constructor(readonly socketPath: string, readonly reason: string) {
    super(`tsn-proxy node agent not reachable at ${socketPath}: ${reason}`);
    this.name = "AgentUnavailableError";
  }
}

/** The agent answered something that is not a protocol message. */
export class AgentProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentProtocolError";
  }
}

/** Something to read bytes from (a connection). */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

/** Something to write bytes to (a connection). */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one message as a JSON line. */
export function encodeMessage(msg: unknown): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(msg) + "\n");
  if (bytes.length > MAX_MESSAGE_BYTES) throw new RangeError("message too large");
  return bytes;
}

/** Reads one line (without "\n") from r; EOF ends it too. Throws past {@link MAX_MESSAGE_BYTES}. */
export async function readLine(r: ByteReader): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await r.read(buf);
    if (n === null) break;
    const chunk = buf.subarray(0, n);
    const nl = chunk.indexOf(0x0a);
    if (nl >= 0) {
      chunks.push(chunk.slice(0, nl));
      total += nl;
      break;
    }
    chunks.push(chunk.slice());
    total += n;
    if (total > MAX_MESSAGE_BYTES) throw new AgentProtocolError("message too large");
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return decoder.decode(out);
}

async function writeAll(w: ByteWriter, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}

/** Checks the shape of an agent response. */
export function parseResponse(text: string): AgentResponse {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AgentProtocolError(`agent answered non-JSON: ${text.slice(0, 200)}`);
  }
  const r = v as Record<string, unknown>;
  if (typeof v !== "object" || v === null || r.v !== PROTOCOL_VERSION) {
    throw new AgentProtocolError(`agent answered an unknown protocol: ${text.slice(0, 200)}`);
  }
  if (r.ok === true) return r as unknown as AgentResponse;
  if (r.ok === false && typeof r.code === "number" && typeof r.msg === "string") {
    return r as unknown as AgentResponse;
  }
  throw new AgentProtocolError(`agent answered a malformed message: ${text.slice(0, 200)}`);
}

/**
 * Sends one request and waits for the answer. {@link AgentUnavailableError} when the socket is
 * missing, refuses, or the answer does not come within timeoutMs.
 */
export async function callAgent(
  socketPath: string,
  req: AgentRequest,
  timeoutMs: number,
): Promise<AgentResponse> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
  } catch (e) {
    // A plugin without the permission to connect is broken, not facing an agent that is down.
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new AgentUnavailableError(socketPath, e instanceof Error ? e.message : String(e));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new AgentUnavailableError(socketPath, `no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const exchange = (async () => {
      let line: string;
      try {
        await writeAll(conn, encodeMessage(req));
        line = await readLine(conn);
      } catch (e) {
        // The agent went away mid-request (killed, restarted): it is unavailable, not confused.
        if (isConnectionLoss(e)) {
          throw new AgentUnavailableError(socketPath, `connection lost: ${(e as Error).message}`);
        }
        throw e;
      }
      if (line === "") throw new AgentUnavailableError(socketPath, "closed without an answer");
      return parseResponse(line);
    })();
    // Once the timeout has won, closing the connection fails the exchange: nobody awaits it.
    exchange.catch(() => {});
    return await Promise.race([exchange, timeout]);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** True for the errors a connection raises when its peer disappears. */
function isConnectionLoss(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted || e instanceof Deno.errors.UnexpectedEof ||
    e instanceof Deno.errors.NotConnected;
}

/** Writes one message to a connection (the agent's side). */
export async function writeMessage(w: ByteWriter, msg: unknown): Promise<void> {
  await writeAll(w, encodeMessage(msg));
}
