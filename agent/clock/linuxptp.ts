/**
 * linuxptp on the node: which of its daemons run (`/proc/PID/comm`), and ptp4l's last offset to
 * its master through its management socket with `pmc -u -b 0 'GET TIME_STATUS_NP'`.
 *
 * Why these sources: the process table answers without any configuration; ptp4l answers `pmc`
 * on its UDS (/var/run/ptp4l) whatever its logging is set to, and `master_offset` there is the
 * value ptp4l's own "master offset" log line prints. phc2sys has no management interface (its
 * offset exists only in its log, whose path is deployment-specific), but what it does to the
 * system clock is visible in adjtimex (./timex.ts): it clears STA_UNSYNC while locked.
 *
 * @example
 * ```ts ignore
 * import { findLinuxptp, queryPtp4l } from "./linuxptp.ts";
 * console.log(findLinuxptp("/proc")); // [{ name: "ptp4l", pid: 812 }, { name: "phc2sys", pid: 820 }]
 * console.log(await queryPtp4l());    // { masterOffsetNs: -15, gmPresent: true, ... }
 * ```
 */

/** The linuxptp daemons looked for. */
export const LINUXPTP_DAEMONS = ["ptp4l", "phc2sys", "ts2phc", "timemaster"] as const;

/** A running linuxptp daemon. */
export interface PtpProcess {
  readonly name: string;
  readonly pid: number;
  /** Interfaces named with `-i IF` on its command line (empty: from a config file, or none). */
  readonly ifaces: readonly string[];
}

/**
 * The `-i IF` interfaces of a NUL-separated command line.
 *
 * @example
 * ```ts
 * import { cmdlineIfaces } from "./linuxptp.ts";
 * console.log(cmdlineIfaces("ptp4l\0-i\0eth1\0-ieth2\0-s\0")); // ["eth1", "eth2"]
 * ```
 */
export function cmdlineIfaces(cmdline: string): string[] {
  const args = cmdline.split("\0");
  const out: string[] = [];
  args.forEach((a, i) => {
    if (a === "-i" && args[i + 1]) out.push(args[i + 1]!);
    else if (a.startsWith("-i") && a.length > 2) out.push(a.slice(2));
  });
  return out;
}

/** Running linuxptp daemons under `procRoot` (the host's /proc: the agent needs hostPID or a mount). */
export function findLinuxptp(procRoot = "/proc"): PtpProcess[] {
  const out: PtpProcess[] = [];
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync(procRoot);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e.name)) continue;
    let comm: string;
    try {
      comm = Deno.readTextFileSync(`${procRoot}/${e.name}/comm`).trim();
    } catch {
      continue; // exited meanwhile
    }
    if ((LINUXPTP_DAEMONS as readonly string[]).includes(comm)) {
      let cmdline = "";
      try {
        cmdline = Deno.readTextFileSync(`${procRoot}/${e.name}/cmdline`);
      } catch { /* exited meanwhile: no interfaces */ }
      out.push({ name: comm, pid: Number(e.name), ifaces: cmdlineIfaces(cmdline) });
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** ptp4l's time status (TIME_STATUS_NP). */
export interface Ptp4lStatus {
  /** Offset of the local clock to the master, ns (0 when ptp4l is the grandmaster itself). */
  readonly masterOffsetNs: number;
  /** A grandmaster is present (false: no master heard, or this clock is the grandmaster). */
  readonly gmPresent: boolean;
  readonly gmIdentity: string | null;
}

/**
 * Parses pmc's answer to `GET TIME_STATUS_NP`; null when it holds no response (ptp4l did not
 * answer: pmc prints only "sending: GET TIME_STATUS_NP").
 *
 * @example
 * ```ts
 * import { parsePmcTimeStatus } from "./linuxptp.ts";
 * const text = "\t001122.fffe.334455-0 seq 0 RESPONSE MANAGEMENT TIME_STATUS_NP\n" +
 *   "\t\tmaster_offset 42\n\t\tgmPresent true\n\t\tgmIdentity 001122.fffe.334455\n";
 * console.log(parsePmcTimeStatus(text)?.masterOffsetNs); // 42
 * ```
 */
export function parsePmcTimeStatus(text: string): Ptp4lStatus | null {
  if (!/RESPONSE MANAGEMENT TIME_STATUS_NP/.test(text)) return null;
  const field = (name: string) => new RegExp(`^\\s*${name}\\s+(\\S+)`, "m").exec(text)?.[1];
  const offset = field("master_offset");
  if (offset === undefined || !/^[+-]?\d+$/.test(offset)) return null;
  return {
    masterOffsetNs: Number(offset),
    gmPresent: field("gmPresent") === "true",
    gmIdentity: field("gmIdentity") ?? null,
  };
}

/** Runs a command; null when it cannot start. */
export type Runner = (
  cmd: string,
  args: string[],
) => Promise<{ success: boolean; stdout: string; stderr: string } | null>;

/** Runs a real command with a time limit (a pmc waiting on a dead socket must not hang a probe). */
export const runCommand: Runner = async (cmd, args) => {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: AbortSignal.timeout(3000),
    }).output();
    const d = new TextDecoder();
    return { success: out.success, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  } catch {
    return null;
  }
};

/** The outcome of asking ptp4l. */
export type Ptp4lQuery =
  | { readonly ok: true; readonly status: Ptp4lStatus }
  | { readonly ok: false; readonly reason: string };

/**
 * Asks ptp4l for its time status with `pmc` (found on PATH). `-b 0`: this ptp4l only, not the
 * boundary clocks behind it; pmc waits ~1 s for an answer.
 */
export async function queryPtp4l(
  run: Runner = runCommand,
  pmc = "pmc",
  socket: string | null = null,
): Promise<Ptp4lQuery> {
  const args = ["-u", "-b", "0", ...(socket ? ["-s", socket] : []), "GET TIME_STATUS_NP"];
  const r = await run(pmc, args);
  if (r === null) {
    return { ok: false, reason: `${pmc} not found (install linuxptp to read offsets)` };
  }
  const status = parsePmcTimeStatus(r.stdout);
  if (status) return { ok: true, status };
  const err = r.stderr.trim().split("\n")[0];
  return { ok: false, reason: `ptp4l did not answer ${pmc}${err ? `: ${err}` : ""}` };
}
