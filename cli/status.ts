/**
 * `tsnproxy status`: what tsn-proxy is doing on this node, read from the datapath's state file and
 * its pins, so it works while the agent is down (stopped, crash-looping, being upgraded).
 *
 *   tsnproxy status [--json] [--state-dir DIR | --bpffs DIR]
 *
 * - `--state-dir DIR` (default `/var/run/tsn-proxy`, the agent's `stateDir`): `datapath.json`
 *   (kernel side) and `attachments.json` (CNI side: which pod each saver belongs to), and the
 *   agent's socket, asked for its readiness.
 * - `--bpffs DIR`: the datapath pinned there. Its state file is found when one names DIR (the
 *   agent's, or the one `tsnproxy datapath` keeps); without one, status is rebuilt from the pins
 *   alone (strategy and clamps from the pinned `.rodata`, savers and restorers from the pin
 *   directories; pod netns unknown).
 *
 * Shows the strategy, tracker state, restorers (with TSN interfaces that do not exist), per-pod
 * attachments (with missing pins and gone netns), records (live, stale, capacity) and the BPF
 * counters, and the clock behind the txtimes (system clock sync state and TAI offset, each TSN
 * interface's PTP hardware clock, linuxptp's daemons and ptp4l's offset). Exit code 0 when the datapath is up and intact (a missing TSN interface is listed as a
 * problem, not a failure), 1 when it is not up or pins are missing, 2 on bad usage.
 *
 * @example
 * ```sh
 * sudo tsnproxy status --json
 * ```
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  Datapath,
  loadState,
  NO_CLAMP,
  PinLayout,
  type TrackerState,
} from "@tsn-proxy/bpf/datapath";
import { getLink, type PodLinkVerdict, podLinkVerdict, withNetns } from "@tsn-proxy/bpf/libbpf";
import { STRATEGIES } from "@tsn-proxy/strategies";
import { AgentUnavailableError, callAgent, statusRequest } from "@tsn-proxy/cni/protocol";
import { type ClockFacts, clockVerdict, isTimex, probeClock } from "@tsn-proxy/agent/clock";
import { AttachmentIndex, type AttachmentRecord } from "@tsn-proxy/agent/attachments";
import { UsageError, wantsHelp } from "./args.ts";
import { defaultStateFile } from "./datapath.ts";
import { existsSync } from "node:fs";
import { forwardUpdatesPriority } from "./doctor_netkit.ts";

/** The agent's default state dir (agent config `stateDir`). */
const DEFAULT_STATE_DIR = "/var/run/tsn-proxy";

/** The CNI side of an attachment (the agent's attachments.json). */
export type CniSide = Pick<
  AttachmentRecord,
  "network" | "containerId" | "podNamespace" | "podName" | "optInSource" | "status" | "since"
>;

/** One pod saver. */
export interface PodStatus {
  readonly id: string;
  readonly netns: string;
  /** null: unknown (pins-only view). */
  readonly netnsExists: boolean | null;
  readonly ifname: string;
  readonly mode: string;
  /** null: no clamp. */
  readonly maxPriority: number | null;
  /** The pod's default class (absent: none). */
  readonly defaultPriority?: number;
  /** The txtime rule, horizon in ns as a decimal string (absent: allowed, no horizon). */
  readonly txtime?: { readonly allowed: boolean; readonly horizonNs: string };
  readonly missingPins: readonly string[];
  readonly cni?: CniSide;
  /**
   * The pod's device as the kernel reports it (read in the pod's netns) and whether its crossing
   * zeroes the priority: a netkit pair with scrub none does not, so its saver is not needed.
   * Absent: the netns or the device could not be read.
   */
  readonly link?: PodLinkVerdict;
}

/** Reads the pod's device in its netns; undefined when either is gone or unreadable. */
function podLink(netns: string, ifname: string): PodLinkVerdict | undefined {
  if (!netns || !ifname || !existsSync(netns)) return undefined;
  try {
    const fwd = forwardUpdatesPriority();
    return podLinkVerdict(
      withNetns(netns, () => getLink({ name: ifname })),
      fwd === undefined ? {} : { forwardUpdatesPriority: fwd },
    );
  } catch {
    return undefined;
  }
}

/** The agent as its socket answers. */
export interface AgentStatus {
  readonly socket: string;
  readonly state: "ready" | "not-ready" | "down" | "unknown";
  readonly detail?: string;
}

/** Everything `tsnproxy status` reports. */
export interface NodeStatus {
  /** Where it was read from. */
  readonly source: {
    readonly bpffs: string;
    readonly stateFile: string | null;
    readonly attachmentsFile: string | null;
    readonly pinsOnly: boolean;
  };
  readonly up: boolean;
  readonly strategy: string | null;
  readonly store: string | null;
  readonly maxAgeMs: number | null;
  readonly trackers: readonly TrackerState[];
  /**
   * One per TSN interface: `attached` false when the link pin is gone, the interface was deleted
   * (`missing`), or it never existed (`pending`: the datapath was brought up without it; the
   * agent attaches its restorer when it appears, mode "none" until then).
   */
  readonly restorers: ReadonlyArray<
    { ifname: string; mode: string; attached: boolean; missing?: boolean; pending?: boolean }
  >;
  readonly pods: readonly PodStatus[];
  readonly records: { live: number; stale: number; capacity: number } | null;
  readonly counters: Readonly<Record<string, string>>;
  readonly missingPins: readonly string[];
  /** Attachments the agent recorded that the datapath does not hold (or the reverse). */
  readonly orphans: readonly string[];
  readonly agent: AgentStatus | null;
  /**
   * The clock behind the txtimes; `synced` is the verdict `txtime.requireSyncedClock` acts on
   * (absent: not probed).
   */
  readonly clock?: ClockFacts & { readonly synced: boolean; readonly reasons: readonly string[] };
  /** What is wrong, one line each; empty when healthy. */
  readonly problems: readonly string[];
}

async function agentStatus(socket: string): Promise<AgentStatus> {
  if (!existsSync(socket)) return { socket, state: "down", detail: "no socket" };
  try {
    const res = await callAgent(socket, statusRequest("tsnproxy status"), 2000);
    if (res.ok) return { socket, state: "ready" };
    return { socket, state: "not-ready", detail: res.details ?? res.msg };
  } catch (e) {
    if (e instanceof AgentUnavailableError) return { socket, state: "down", detail: e.message };
    return { socket, state: "unknown", detail: e instanceof Error ? e.message : String(e) };
  }
}

/** The CNI side of each attachment the agent recorded, by attachment id. */
function readAttachments(path: string): Map<string, CniSide> {
  return new Map(
    new AttachmentIndex(path).list().map((a) => [a.id, {
      network: a.network,
      containerId: a.containerId,
      ...(a.podNamespace ? { podNamespace: a.podNamespace } : {}),
      ...(a.podName ? { podName: a.podName } : {}),
      optInSource: a.optInSource,
      status: a.status,
      since: a.since,
    }]),
  );
}

/** Where to read from. */
export interface StatusOptions {
  /** The agent's state dir (datapath.json, attachments.json, cni.sock). */
  readonly stateDir?: string;
  /** A datapath's bpffs dir (state file looked up, else pins only). */
  readonly bpffs?: string;
  /** Reads the clock facts for the TSN interfaces (tests inject a fake node). */
  readonly clock?: (ifaces: readonly string[]) => Promise<ClockFacts>;
}

async function clockStatus(
  probe: (ifaces: readonly string[]) => Promise<ClockFacts>,
  ifaces: readonly string[],
): Promise<NonNullable<NodeStatus["clock"]>> {
  const facts = await probe(ifaces);
  return { ...facts, ...clockVerdict(facts, { maxPtpOffsetNs: 0 }) };
}

/** Finds the state file that names `bpffs`, if any. */
export function stateFileFor(bpffs: string, candidates: readonly string[]): string | null {
  for (const file of candidates) {
    try {
      if (loadState(file)?.bpffs === bpffs) return file;
    } catch { /* a corrupt or foreign file is not ours */ }
  }
  return null;
}

/** Reads the node's tsn-proxy status. Needs root for the pins (BPF syscalls). */
export async function collectStatus(o: StatusOptions = {}): Promise<NodeStatus> {
  let stateFile: string | null;
  let attachmentsFile: string | null = null;
  let socket: string | null = null;
  let bpffs: string;
  if (o.bpffs !== undefined) {
    bpffs = o.bpffs.replace(/\/+$/, "");
    stateFile = stateFileFor(bpffs, [
      join(DEFAULT_STATE_DIR, "datapath.json"),
      defaultStateFile(bpffs),
    ]);
    if (stateFile?.startsWith(DEFAULT_STATE_DIR + "/")) {
      attachmentsFile = join(DEFAULT_STATE_DIR, "attachments.json");
      socket = join(DEFAULT_STATE_DIR, "cni.sock");
    }
  } else {
    const dir = (o.stateDir ?? DEFAULT_STATE_DIR).replace(/\/+$/, "");
    stateFile = join(dir, "datapath.json");
    attachmentsFile = join(dir, "attachments.json");
    socket = join(dir, "cni.sock");
    bpffs = loadState(stateFile)?.bpffs ?? "";
  }
  const agent = socket ? await agentStatus(socket) : null;
  const probe = o.clock ?? ((ifaces) => probeClock({ ifaces }));
  const state = stateFile ? loadState(stateFile) : undefined;
  const pinsOnly = state === undefined && o.bpffs !== undefined;
  const datapath = state
    ? Datapath.open({ stateFile: stateFile! })
    : pinsOnly
    ? Datapath.fromPins(bpffs, (k) => STRATEGIES.find((s) => s.keyMode === k)?.name)
    : null;
  const effective = state ?? datapath?.state();
  const cni = attachmentsFile ? readAttachments(attachmentsFile) : new Map<string, CniSide>();
  const problems: string[] = [];
  const source = {
    bpffs,
    stateFile: state ? stateFile : null,
    attachmentsFile: cni.size ? attachmentsFile : null,
    pinsOnly,
  };
  if (!effective) {
    problems.push(
      o.bpffs !== undefined
        ? `no datapath pinned in ${bpffs}`
        : `the datapath is not up (no ${stateFile})`,
    );
    return {
      source,
      up: false,
      strategy: null,
      store: null,
      maxAgeMs: null,
      trackers: [],
      restorers: [],
      pods: [],
      records: null,
      counters: {},
      missingPins: [],
      orphans: [...cni.keys()],
      agent,
      clock: await clockStatus(probe, []),
      problems: agent?.state === "ready"
        ? problems
        : [...problems, `agent: ${agent?.state ?? "unknown"}`],
    };
  }
  const stats = datapath!.stats();
  const pins = new PinLayout(effective.bpffs);
  const pods: PodStatus[] = effective.pods.map((p) => {
    const missing = stats.missingPins.filter((m) => m.startsWith(pins.podDir(p.id) + "/"));
    const side = cni.get(p.id);
    const link = podLink(p.netns, p.ifname);
    return {
      id: p.id,
      netns: p.netns,
      netnsExists: p.netns ? existsSync(p.netns) : null,
      ifname: p.ifname,
      mode: p.mode.kind,
      maxPriority: p.maxPriority === NO_CLAMP ? null : p.maxPriority,
      ...(p.defaultPriority ? { defaultPriority: p.defaultPriority } : {}),
      ...(p.txtime ? { txtime: p.txtime } : {}),
      missingPins: missing,
      ...(side ? { cni: side } : {}),
      ...(link ? { link } : {}),
    };
  });
  const restorers: NodeStatus["restorers"] = [
    ...effective.restorers.map((r) => {
      const gone = stats.detachedRestorers.includes(r.ifname);
      return {
        ifname: r.ifname,
        mode: r.mode.kind,
        attached: !gone && !stats.missingPins.includes(pins.restorerLink(r.ifname)),
        ...(gone ? { missing: true } : {}),
      };
    }),
    ...(effective.pendingRestorers ?? []).map((ifname) => ({
      ifname,
      mode: "none",
      attached: false,
      missing: true,
      pending: true,
    })),
  ];
  const orphans = [
    ...[...cni.keys()].filter((id) => !effective.pods.some((p) => p.id === id)).map((id) =>
      `${id}: recorded by the agent, no saver in the datapath`
    ),
  ];
  for (const t of effective.trackers) {
    if (t.state !== "attached") {
      problems.push(`tracker ${t.program} unavailable (${t.reason ?? "?"}): strategy degraded`);
    }
  }
  for (const r of restorers.filter((r) => r.missing)) {
    problems.push(
      r.pending
        ? `TSN interface ${r.ifname} does not exist: no restorer on it yet (the agent attaches ` +
          "one when it appears; packets leaving by it are not restored)"
        : `TSN interface ${r.ifname} was deleted: its restorer is detached until the agent ` +
          "re-attaches it to the re-created interface",
    );
  }
  if (stats.missingPins.length) problems.push(`missing pins: ${stats.missingPins.join(", ")}`);
  for (const p of pods) {
    if (p.netnsExists === false) {
      problems.push(`${p.id}: its netns ${p.netns} is gone (the agent's sweep removes it)`);
    }
  }
  problems.push(...orphans);
  if (agent && agent.state !== "ready") {
    problems.push(`agent ${agent.state}${agent.detail ? `: ${agent.detail}` : ""}`);
  }
  return {
    source,
    up: true,
    strategy: effective.strategy,
    store: effective.store,
    maxAgeMs: Number(BigInt(effective.maxAgeNs) / 1_000_000n),
    trackers: effective.trackers,
    restorers,
    pods,
    records: { live: stats.records, stale: stats.staleRecords, capacity: stats.recordsMax },
    counters: Object.fromEntries(Object.entries(stats.counters).map(([k, v]) => [k, String(v)])),
    missingPins: stats.missingPins,
    orphans,
    agent,
    clock: await clockStatus(probe, restorers.map((r) => r.ifname)),
    problems,
  };
}

/**
 * Exit code of a status: 0 up and intact, 1 otherwise. A degraded tracker or a missing TSN
 * interface (no restorer on it until it appears) is not a failure: the node stays ready.
 */
export function statusExitCode(s: NodeStatus): number {
  if (!s.up || s.missingPins.length) return 1;
  if (s.pods.some((p) => p.netnsExists === false)) return 1;
  return 0;
}

const COUNTERS_SHOWN = [
  "saved",
  "restored",
  "restoredTstamp",
  "tstampKept",
  "missed",
  "rejectedFingerprint",
  "rejectedOrigin",
  "rejectedStale",
  "saveClamped",
  "saveDefaulted",
  "txtimeDenied",
  "txtimeBeyondHorizon",
  "tstampDropped",
  "clonesTracked",
  "saveErrors",
  "errors",
];

/** The human-readable view. */
export function formatStatus(s: NodeStatus): string {
  const lines: string[] = [];
  const src = s.source.pinsOnly
    ? `${s.source.bpffs} (pins only: no state file names it)`
    : `${s.source.stateFile ?? "-"} (pins in ${s.source.bpffs || "-"})`;
  lines.push(`datapath      ${s.up ? "up" : "NOT UP"}, from ${src}`);
  if (s.agent) {
    lines.push(
      `agent         ${s.agent.state}${
        s.agent.detail ? ` (${s.agent.detail})` : ""
      }, ${s.agent.socket}`,
    );
  }
  if (s.up) {
    lines.push(`strategy      ${s.strategy}, store ${s.store}, max age ${s.maxAgeMs} ms`);
    lines.push(
      `trackers      ${
        s.trackers.map((t) => `${t.program}: ${t.state}${t.reason ? ` (${t.reason})` : ""}`)
          .join("; ") || "none (the strategy needs none)"
      }`,
    );
    lines.push(
      `restorers     ${
        s.restorers.map((r) =>
          `${r.ifname} (${
            r.pending
              ? "NO SUCH INTERFACE: attached when it appears"
              : `${r.mode}${r.missing ? ", INTERFACE GONE" : r.attached ? "" : ", LINK PIN GONE"}`
          })`
        ).join(", ") || "none"
      }`,
    );
    if (s.records) {
      lines.push(
        `records       ${s.records.live} live, ${s.records.stale} stale, capacity ${s.records.capacity}`,
      );
    }
    lines.push(`pods          ${s.pods.length} saver(s)`);
    for (const p of s.pods) {
      const who = p.cni?.podName
        ? `${p.cni.podNamespace ?? "?"}/${p.cni.podName}`
        : p.cni
        ? p.cni.containerId.slice(0, 12)
        : "(not recorded by the agent)";
      const clamp = (p.maxPriority === null ? "no clamp" : `max priority ${p.maxPriority}`) +
        (p.defaultPriority ? `, default class ${p.defaultPriority}` : "") +
        (!p.txtime
          ? ""
          : !p.txtime.allowed
          ? ", txtimes denied"
          : p.txtime.horizonNs !== "0"
          ? `, txtimes up to ${Number(p.txtime.horizonNs) / 1e6} ms ahead`
          : "");
      const netns = p.netnsExists === false
        ? `, NETNS GONE (${p.netns})`
        : p.netns
        ? `, ${p.netns}`
        : "";
      const missing = p.missingPins.length ? `, MISSING ${p.missingPins.join(" ")}` : "";
      lines.push(`  ${p.id}  ${who}  ${p.ifname} ${p.mode}, ${clamp}${netns}${missing}`);
      if (p.link?.netkit) {
        const nk = p.link.netkit;
        lines.push(
          `    netkit ${nk.mode ?? "?"}, scrub ${nk.scrub ?? "not reported"}: ${p.link.reason}`,
        );
      }
    }
    lines.push("counters");
    for (const k of COUNTERS_SHOWN) {
      if (k in s.counters) lines.push(`  ${k.padEnd(22)} ${s.counters[k]}`);
    }
  }
  if (s.clock) lines.push(...formatClock(s.clock));
  lines.push(s.problems.length ? "problems" : "problems      none");
  for (const p of s.problems) lines.push(`  - ${p}`);
  return lines.join("\n");
}

/** The clock lines of the human-readable view. */
export function formatClock(c: NonNullable<NodeStatus["clock"]>): string[] {
  const sys = isTimex(c.system)
    ? `${c.synced ? "synchronised" : "UNSYNCHRONISED"} (adjtimex ${c.system.state}, max error ` +
      `${c.system.maxErrorUs} us), TAI offset ${c.system.taiOffsetS} s`
    : `unreadable (${c.system.error})`;
  const lines = [`clock         ${sys}`];
  for (const p of c.phcs) {
    const phc = p.phcIndex !== null
      ? `/dev/ptp${p.phcIndex}`
      : p.source === "none"
      ? `PHC unknown (${p.error ?? "?"})`
      : "no PHC (software timestamps only)";
    lines.push(`  ${p.ifname.padEnd(22)} ${phc}`);
  }
  const daemons = c.linuxptp.map((p) => `${p.name} (pid ${p.pid})`).join(", ") || "none";
  const offset = c.ptp4l === null
    ? ""
    : c.ptp4l.ok
    ? `, ptp4l master offset ${c.ptp4l.status.masterOffsetNs} ns`
    : `, ptp4l offset unknown (${c.ptp4l.reason})`;
  lines.push(`  ${"linuxptp".padEnd(22)} ${daemons}${offset}`);
  return lines;
}

/** Usage of `tsnproxy status`. */
const STATUS_USAGE = `usage: tsnproxy status [--json] [--state-dir DIR | --bpffs DIR]

What tsn-proxy does on this node, from the datapath's state file and pins (works with the agent
down). Exit 0 when the datapath is up and intact, 1 when not, 2 on bad usage.
  --state-dir DIR  the agent's state dir (default /var/run/tsn-proxy)
  --bpffs DIR      the datapath pinned there
  --json           machine-readable output`;

/** Entry point of `tsnproxy status`. */
export async function statusCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(STATUS_USAGE);
    return 0;
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      "state-dir": { type: "string" },
      bpffs: { type: "string" },
    },
    strict: true,
  });
  if (values["state-dir"] !== undefined && values.bpffs !== undefined) {
    throw new UsageError("give --state-dir or --bpffs, not both");
  }
  for (const [flag, v] of [["state-dir", values["state-dir"]], ["bpffs", values.bpffs]]) {
    if (v !== undefined && !v.startsWith("/")) {
      throw new UsageError(`--${flag} must be an absolute path, got "${v}"`);
    }
  }
  const s = await collectStatus({
    ...(values["state-dir"] !== undefined ? { stateDir: values["state-dir"] } : {}),
    ...(values.bpffs !== undefined ? { bpffs: values.bpffs } : {}),
  });
  console.log(values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
  return statusExitCode(s);
}
