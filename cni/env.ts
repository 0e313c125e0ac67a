/**
 * The CNI environment: `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_ARGS`,
 * `CNI_PATH`, validated per command as the spec requires (code 4 on anything missing or malformed).
 *
 * @example
 * ```ts
 * import { parseCniEnv } from "./env.ts";
 * const env = parseCniEnv({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0" });
 * console.log(env.command, env.containerId);
 * ```
 */
import { CniError, ErrorCode } from "./spec.ts";
import { MAX_ARGS, MAX_FIELD_CHARS } from "./protocol.ts";

/** The operations of spec 1.1.0. */
export const COMMANDS = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"] as const;

/** One operation. */
export type CniCommand = typeof COMMANDS[number];

/** The environment of one invocation, validated. */
export interface CniEnv {
  readonly command: CniCommand;
  /** Empty for VERSION, STATUS and GC. */
  readonly containerId: string;
  /** The container's netns path; empty when the runtime gave none (DEL may omit it). */
  readonly netns: string;
  /** The container-side interface name; empty for VERSION, STATUS and GC. */
  readonly ifname: string;
  /** `CNI_ARGS` as key/value pairs, in order. */
  readonly args: Readonly<Record<string, string>>;
  /** `CNI_PATH` split on ':'. */
  readonly path: readonly string[];
}

/** Linux interface names: 1-15 bytes, no '/', ':' or whitespace, not "." or "..". */
export function validIfname(name: string): boolean {
  return name.length > 0 && name.length < 16 && name !== "." && name !== ".." &&
    !/[/:\s]/.test(name);
}

/**
 * The directories where the supported runtimes create pod network namespaces: containerd
 * (`/var/run/netns/cni-<uuid>`), CRI-O (`/var/run/netns/<uuid>`), podman with CNI
 * (`/run/netns/netns-<uuid>`) and `ip netns add` (`/run/netns/<name>`); `/var/run` is `/run`.
 * `/proc/<pid>/ns/net` (Docker, cri-dockerd) is not among them: a pid is no stable identity, and an
 * agent without the host's pid namespace would resolve it to one of its own processes.
 */
export const NETNS_DIRS: readonly string[] = ["/run/netns", "/var/run/netns"];

/**
 * Why a `CNI_NETNS` path is not one a supported runtime creates, or null: a plain name directly in
 * one of {@link NETNS_DIRS}, without `.`/`..` components, doubled or trailing slashes.
 */
export function netnsPathProblem(path: string): string | null {
  const shown = JSON.stringify(path.slice(0, 200));
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash), name = path.slice(slash + 1);
  if (!NETNS_DIRS.includes(dir) || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    return `netns ${shown} is not a network namespace a supported runtime creates ` +
      `(a name in ${NETNS_DIRS.join(" or ")})`;
  }
  return null;
}

/** Container ids: alphanumerics, '-', '_', '.', starting with an alphanumeric (spec). */
export function validContainerId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id);
}

/**
 * Parses `CNI_ARGS` ("K1=V1;K2=V2"). A pair without '=', more than {@link MAX_ARGS} pairs or a key
 * or value longer than {@link MAX_FIELD_CHARS} is a code 4 error here, before the agent is asked
 * (the agent refuses such a request as malformed).
 */
export function parseCniArgs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text.trim() === "") return out;
  const invalid = (why: string) => new CniError(ErrorCode.InvalidEnv, "invalid CNI_ARGS", why);
  for (const pair of text.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw invalid(`pair "${pair.slice(0, 200)}"`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key.length > MAX_FIELD_CHARS || value.length > MAX_FIELD_CHARS) {
      throw invalid(`${key.slice(0, 200)}: longer than ${MAX_FIELD_CHARS} characters`);
    }
    out[key] = value;
    if (Object.keys(out).length > MAX_ARGS) throw invalid(`more than ${MAX_ARGS} pairs`);
  }
  return out;
}

/** Reads and validates the environment for the command it names. */
export function parseCniEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const command = env.CNI_COMMAND ?? "";
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(
      ErrorCode.InvalidEnv,
      "invalid CNI_COMMAND",
      command ? `"${command}" is not one of ${COMMANDS.join(", ")}` : "CNI_COMMAND is not set",
    );
  }
  const cmd = command as CniCommand;
  const perContainer = cmd === "ADD" || cmd === "DEL" || cmd === "CHECK";
  const containerId = perContainer ? env.CNI_CONTAINERID ?? "" : "";
  const ifname = perContainer ? env.CNI_IFNAME ?? "" : "";
  const netns = perContainer ? env.CNI_NETNS ?? "" : "";
  if (perContainer) {
    if (!validContainerId(containerId)) {
      throw new CniError(
        ErrorCode.InvalidEnv,
        "invalid CNI_CONTAINERID",
        containerId ? `"${containerId}"` : "CNI_CONTAINERID is not set",
      );
    }
    if (!validIfname(ifname)) {
      throw new CniError(
        ErrorCode.InvalidEnv,
        "invalid CNI_IFNAME",
        ifname ? `"${ifname}"` : "CNI_IFNAME is not set",
      );
    }
    // DEL may come without a netns (the sandbox is gone); ADD and CHECK need one.
    if (cmd !== "DEL" && !netns.startsWith("/")) {
      throw new CniError(
        ErrorCode.InvalidEnv,
        "invalid CNI_NETNS",
        netns ? `"${netns}" is not an absolute path` : "CNI_NETNS is not set",
      );
    }
  }
  return {
    command: cmd,
    containerId,
    netns,
    ifname,
    args: parseCniArgs(env.CNI_ARGS ?? ""),
    path: (env.CNI_PATH ?? "").split(":").filter((p) => p !== ""),
  };
}
