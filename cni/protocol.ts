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
const MAX_MESSAGE_BYTES = 1 << 20;

/** The commands the agent handles (VERSION never reaches it). */
export type AgentCommand = "ADD" | "DEL" | "CHECK" | "GC" | "STATUS";

/** Every {@link AgentCommand}. */
const AGENT_COMMANDS: readonly AgentCommand[] = ["ADD", "DEL", "CHECK", "GC", "STATUS"];

/** Upper bound of one string field of a message (a netns path is at most PATH_MAX). */
export const MAX_FIELD_CHARS = 4096;

/** Upper bound of the `CNI_ARGS` entries of a request. */
export const MAX_ARGS = 64;

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

/** A message that is not a protocol message; the text says which field is wrong and why. */
export class AgentProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentProtocolError";
  }
}

function fail(why: string): never {
  throw new AgentProtocolError(why);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Refuses fields the protocol does not define: a peer that sends them speaks another protocol. */
function onlyFields(r: Record<string, unknown>, known: readonly string[], where: string): void {
  const extra = Object.keys(r).find((k) => !known.includes(k));
  if (extra !== undefined) fail(`${where}: unknown field ${JSON.stringify(extra.slice(0, 64))}`);
}

/**
 * A string field. Request fields are bounded by {@link MAX_FIELD_CHARS}; an answer's text (a
 * kernel's error, say) only by the message bound.
 */
function str(r: Record<string, unknown>, k: string, where: string, optional = false): void {
  const v = r[k];
  if (v === undefined && optional) return;
  if (typeof v !== "string") fail(`${where}.${k}: ${describe(v)}, not a string`);
  if (where.startsWith("request") && v.length > MAX_FIELD_CHARS) {
    fail(`${where}.${k}: longer than ${MAX_FIELD_CHARS} characters`);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

const REQUEST_FIELDS = [
  "v",
  "command",
  "network",
  "cniVersion",
  "containerId",
  "netns",
  "ifname",
  "args",
  "optIn",
  "optInSource",
  "defaultPriority",
  "defaultPriorityProblem",
  "validAttachments",
] as const satisfies readonly (keyof AgentRequest)[];

/**
 * Checks a decoded request field by field; throws {@link AgentProtocolError} naming the first
 * field that is wrong (missing, wrong type, out of range, oversized, or not a protocol field).
 *
 * @example
 * ```ts
 * import { checkRequest, statusRequest } from "./protocol.ts";
 * checkRequest(JSON.parse(JSON.stringify(statusRequest())));
 * ```
 */
export function checkRequest(v: unknown): AgentRequest {
  if (!isRecord(v)) fail(`request: ${describe(v)}, not an object`);
  onlyFields(v, REQUEST_FIELDS, "request");
  if (v.v !== PROTOCOL_VERSION) fail(`request.v: not protocol version ${PROTOCOL_VERSION}`);
  if (!AGENT_COMMANDS.includes(v.command as AgentCommand)) {
    fail(`request.command: not one of ${AGENT_COMMANDS.join(", ")}`);
  }
  for (const k of ["network", "cniVersion", "containerId", "netns", "ifname", "optInSource"]) {
    str(v, k, "request");
  }
  if (!["yes", "no", "unknown"].includes(v.optIn as string)) {
    fail("request.optIn: not one of yes, no, unknown");
  }
  const args = v.args;
  if (!isRecord(args)) fail(`request.args: ${describe(args)}, not an object`);
  if (Object.keys(args).length > MAX_ARGS) fail(`request.args: more than ${MAX_ARGS} entries`);
  for (const k of Object.keys(args)) str(args, k, "request.args");
  const prio = v.defaultPriority;
  if (
    prio !== undefined &&
    (typeof prio !== "number" || !Number.isInteger(prio) || prio < 1 || prio > 0xffffffff)
  ) {
    fail("request.defaultPriority: not an integer 1..4294967295");
  }
  str(v, "defaultPriorityProblem", "request", true);
  const valid = v.validAttachments;
  if (valid !== undefined) {
    if (!Array.isArray(valid)) fail(`request.validAttachments: ${describe(valid)}, not a list`);
    valid.forEach((a, i) => {
      const where = `request.validAttachments[${i}]`;
      if (!isRecord(a)) fail(`${where}: ${describe(a)}, not an object`);
      onlyFields(a, ["containerID", "ifname"], where);
      str(a, "containerID", where);
      str(a, "ifname", where);
    });
  }
  return v as unknown as AgentRequest;
}

/**
 * Checks a decoded response field by field; throws {@link AgentProtocolError} naming the first
 * field that is wrong.
 *
 * @example
 * ```ts
 * import { checkResponse } from "./protocol.ts";
 * checkResponse({ v: 1, ok: false, code: 11, msg: "not ready" });
 * ```
 */
export function checkResponse(v: unknown): AgentResponse {
  if (!isRecord(v)) fail(`response: ${describe(v)}, not an object`);
  if (v.v !== PROTOCOL_VERSION) fail(`response.v: not protocol version ${PROTOCOL_VERSION}`);
  if (v.ok === true) {
    onlyFields(v, ["v", "ok", "attached", "detail"], "response");
    if (v.attached !== undefined && typeof v.attached !== "boolean") {
      fail(`response.attached: ${describe(v.attached)}, not a boolean`);
    }
    str(v, "detail", "response", true);
  } else if (v.ok === false) {
    onlyFields(v, ["v", "ok", "code", "msg", "details"], "response");
    const code = v.code;
    if (typeof code !== "number" || !Number.isInteger(code) || code < 1 || code > 999) {
      fail("response.code: not a CNI error code (an integer 1..999)");
    }
    str(v, "msg", "response");
    str(v, "details", "response", true);
  } else {
    fail(`response.ok: ${describe(v.ok)}, not a boolean`);
  }
  return v as unknown as AgentResponse;
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
function encodeMessage(msg: unknown): Uint8Array {
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

/** Decodes and checks an agent response line ({@link checkResponse}). */
export function parseResponse(text: string): AgentResponse {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AgentProtocolError(`agent answered non-JSON: ${text.slice(0, 200)}`);
  }
  try {
    return checkResponse(v);
  } catch (e) {
    if (!(e instanceof AgentProtocolError)) throw e;
    throw new AgentProtocolError(
      `agent answered a malformed message (${e.message}): ${text.slice(0, 200)}`,
    );
  }
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
