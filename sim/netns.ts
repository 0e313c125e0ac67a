/**
 * Network namespaces for the simulator: create and delete named netns (`/run/netns/NAME`), and
 * run commands inside one through `nsenter --net=PATH` (never `ip netns exec`, which also remounts
 * /sys and would hide the bpffs pins).
 *
 * @module
 */

import {
  exec,
  type ExecOptions,
  type ExecResult,
  type Proc,
  spawn,
  type SpawnOptions,
} from "./process.ts";

/** Absolute paths of the tools the toolkit runs (root's PATH may lack /usr/sbin). */
export const BIN = {
  ip: "/usr/sbin/ip",
  tc: "/usr/sbin/tc",
  nft: "/usr/sbin/nft",
  sysctl: "/usr/sbin/sysctl",
  bpftool: "/usr/sbin/bpftool",
  nsenter: "/usr/bin/nsenter",
  socat: "/usr/bin/socat",
  tcpdump: "/usr/bin/tcpdump",
  ss: "/usr/bin/ss",
} as const;

/** Where `ip netns` keeps its named namespaces. */
const NETNS_DIR = "/run/netns";

/** A named network namespace. */
export interface Netns {
  /** Name under /run/netns. */
  readonly name: string;
  /** `/run/netns/NAME`, for `nsenter --net=` and setns(). */
  readonly path: string;
}

/** The netns handle of a name (the namespace itself may or may not exist). */
export function netns(name: string): Netns {
  return { name, path: `${NETNS_DIR}/${name}` };
}

/** A fresh per-run prefix: `tsnt` + 4 random hex digits. */
export function uniquePrefix(): string {
  const b = crypto.getRandomValues(new Uint8Array(2));
  return `tsnt${[...b].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
}

/** argv that runs cmd inside ns. */
export function nsCommand(ns: Netns, cmd: readonly string[]): string[] {
  return [BIN.nsenter, `--net=${ns.path}`, "--", ...cmd];
}

/** Runs cmd to completion inside ns; throws on failure unless opts.allowFail. */
export function run(
  ns: Netns,
  cmd: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  return exec(nsCommand(ns, cmd), opts);
}

/** Starts a long-running cmd inside ns (nsenter execs it, so the Proc's pid is cmd's pid). */
export function spawnIn(ns: Netns, cmd: readonly string[], opts: SpawnOptions = {}): Proc {
  return spawn(nsCommand(ns, cmd), opts);
}

/** Runs `ip -batch -` inside ns with one ip command per line (without the leading "ip"). */
export async function ipBatch(ns: Netns, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await exec([BIN.ip, "-n", ns.name, "-batch", "-"], { stdin: lines.join("\n") + "\n" });
}

/** Sets sysctls inside ns (`key=value` words); unknown keys are ignored. */
export async function sysctl(ns: Netns, settings: Record<string, string | number>): Promise<void> {
  const words = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  await run(ns, [BIN.sysctl, "-q", "-e", "-w", ...words]);
}

/**
 * Creates a named netns with loopback up and IPv6 on (the topologies are dual-stack). Duplicate
 * address detection is off: a test assigns unique addresses itself, and DAD would keep each new
 * address tentative (unusable as a source) for about a second. Router solicitations are off too:
 * no router in these namespaces answers them. Throws, leaving nothing behind, when the name is
 * taken or the setup fails. `ipv6: false` turns IPv6 off instead, for pods whose CNI plugins
 * configure IPv4 only: the kernel's own MLD and ND packets (sent with TC_PRIO_CONTROL, so an
 * opted-in pod's saver records them) would otherwise add to the node-wide counters a test reads.
 */
export async function createNetns(
  name: string,
  opts: { ipv6?: boolean } = {},
): Promise<Netns> {
  const ns = netns(name);
  await exec([BIN.ip, "netns", "add", name]);
  try {
    await ipBatch(ns, ["link set lo up"]);
    // "default" before any link exists, so every link created in ns inherits it.
    await sysctl(
      ns,
      opts.ipv6 === false
        ? { "net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1 }
        : {
          "net.ipv6.conf.all.accept_dad": 0,
          "net.ipv6.conf.default.accept_dad": 0,
          "net.ipv6.conf.default.router_solicitations": 0,
        },
    );
  } catch (e) {
    await deleteNetns(ns).catch(() => {});
    throw e;
  }
  return ns;
}

/** Deletes a named netns; a missing one is not an error. */
export async function deleteNetns(ns: Netns): Promise<void> {
  if (!(await exists(ns.path))) return;
  await exec([BIN.ip, "netns", "delete", ns.name]);
}

/** Names under /run/netns that start with prefix. */
export async function listNetns(prefix: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(NETNS_DIR)) {
      if (e.name.startsWith(prefix)) out.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}

/** True when path exists (without following a dangling link's target). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Polls `ss` inside ns until a socket listens on proto/port; false after timeoutMs. */
export async function waitListening(
  ns: Netns,
  proto: "udp" | "tcp",
  port: number,
  timeoutMs = 3000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 500 && Date.now() < deadline; i++) {
    const r = await run(ns, [BIN.ss, "-Hln", proto === "udp" ? "-u" : "-t", `sport = :${port}`], {
      allowFail: true,
    });
    if (r.success && r.stdout.trim() !== "") return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
