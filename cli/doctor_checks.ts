/**
 * The doctor's judgement: pure functions from facts about a node (kernel release, BPF probes,
 * `tc` output, the CNI conf dir) to one verdict per check with what to do about it. The facts
 * are gathered by ./doctor_probe.ts; tests feed fixtures.
 *
 * Verdicts: `ok`; `info` (worth knowing); `warn` (tsn-proxy works, degraded or with a risk);
 * `fail` (the node is unfit: tsn-proxy cannot work, or pods would fail). The node is fit when no
 * check fails.
 *
 * @example
 * ```ts
 * import { kernelCheck } from "./doctor_checks.ts";
 * console.log(kernelCheck("6.1.0-56-amd64").detail);
 * ```
 */
import { PLUGIN_TYPE as PLUGIN_TYPE_TSN } from "@tsn-proxy/cni";
import { pickPrimary as pickPrimaryConf, type ValidConf } from "@tsn-proxy/agent/conflist";
import type { ClockFacts } from "@tsn-proxy/agent/clock";
import { clockChecks } from "./doctor_clock.ts";
import { netkitChecks, type NetkitFacts } from "./doctor_netkit.ts";
import { parseQdiscs, tsnSchedule } from "./doctor_tc.ts";

/** A check's outcome. */
export type Verdict = "ok" | "info" | "warn" | "fail";

/** One check. */
export interface Check {
  /** Stable id (JSON consumers, tests). */
  readonly id: string;
  readonly verdict: Verdict;
  /** What was found. */
  readonly detail: string;
  /** What to do (for warn and fail). */
  readonly fix?: string;
}

/** The outcome of loading a BPF program: ok, or the errno name and first line of the error. */
export type LoadOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** Kernel-side facts. */
export interface KernelFacts {
  readonly release: string;
  readonly root: boolean;
  /** /sys/kernel/btf/vmlinux exists. */
  readonly btf: boolean;
  /** bpffs mount points. */
  readonly bpffsMounts: readonly string[];
  /** BPF_TCX_EGRESS in the kernel's BTF (null: could not read BTF). */
  readonly tcx: boolean | null;
  /** BPF_FUNC_ktime_get_tai_ns in the kernel's BTF (null: could not read BTF). */
  readonly taiHelper: boolean | null;
  /** The active lockdown mode (`none`, `integrity`, `confidentiality`), null when unknown. */
  readonly lockdown: string | null;
  /** Loading the saver and restorer of the core (null: not tried, e.g. not root). */
  readonly core: LoadOutcome | null;
  /** Loading the strategy's tracker (null: not tried or the strategy has none). */
  readonly tracker: LoadOutcome | null;
}

/** One TSN interface, as found in the node's netns. */
export interface InterfaceFacts {
  readonly name: string;
  readonly exists: boolean;
  /** `tc qdisc show dev IF` output (null: not read). */
  readonly qdiscs: string | null;
  /** TX queues of the device (null: unknown). */
  readonly txQueues: number | null;
}

/** The CNI conf dir. */
export interface CniFacts {
  readonly confDir: string;
  readonly exists: boolean;
  /** name -> text of the files libcni would consider. */
  readonly files: ReadonlyMap<string, string>;
  /** Every other file name of the dir (backups such as `*.cilium_bak`). */
  readonly others: readonly string[];
}

/** Everything the doctor judges. */
export interface DoctorFacts {
  readonly strategy: string;
  /** Trackers the strategy loads (empty: none needed). */
  readonly trackerPrograms: readonly string[];
  readonly kernel: KernelFacts;
  /** null: no TSN interfaces were named. */
  readonly interfaces: readonly InterfaceFacts[] | null;
  readonly cni: CniFacts;
  /** The clock behind the txtimes (absent: not probed). */
  readonly clock?: ClockFacts;
  /** netkit support and the pairs present (absent: not probed). */
  readonly netkit?: NetkitFacts;
}

/** `major.minor` of a kernel release, or null. */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function atLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

/** The kernel version and what it means for txtimes. */
export function kernelCheck(release: string): Check {
  const v = kernelVersion(release);
  if (!v) {
    return {
      id: "kernel",
      verdict: "warn",
      detail: `cannot read the kernel version from "${release}"`,
      fix: "check `uname -r`; tsn-proxy needs Linux 6.1 or later",
    };
  }
  if (!atLeast(v, 6, 1)) {
    return {
      id: "kernel",
      verdict: "fail",
      detail: `Linux ${v[0]}.${v[1]} is too old: the datapath needs 6.1+ ` +
        "(typed skb tstamps 5.18, bpf_ktime_get_tai_ns 6.1)",
      fix: "upgrade the node kernel (tested: Debian's 6.1 and 6.12, and 6.18)",
    };
  }
  if (!atLeast(v, 6, 11)) {
    return {
      id: "kernel",
      verdict: "ok",
      detail: `Linux ${v[0]}.${v[1]}: the veth crossing zeroes the priority and clears TAI ` +
        "txtimes (before 6.11 only MONOTONIC delivery times survive): tsn-proxy restores both",
    };
  }
  return {
    id: "kernel",
    verdict: "ok",
    detail: `Linux ${v[0]}.${v[1]}: the veth crossing zeroes the priority; TAI and MONOTONIC ` +
      "txtimes survive it (6.11+): tsn-proxy restores the priority and leaves the txtimes alone",
  };
}

function loadDetail(o: LoadOutcome & { ok: false }): string {
  const first = o.message.split("\n")[0] ?? "";
  return first.includes(o.code) ? first : `${o.code}: ${first}`;
}

/** BTF, bpffs, root, TCX, the per-CPU lookup helper, and loading the core. */
export function bpfChecks(k: KernelFacts): Check[] {
  const out: Check[] = [];
  out.push(
    k.root ? { id: "root", verdict: "ok", detail: "running as root (BPF and netlink need it)" } : {
      id: "root",
      verdict: "fail",
      detail: "not root: the BPF probes below could not run",
      fix: "run `sudo tsnproxy doctor` (the agent runs privileged in the host netns)",
    },
  );
  out.push(
    k.btf ? { id: "btf", verdict: "ok", detail: "kernel BTF present (/sys/kernel/btf/vmlinux)" } : {
      id: "btf",
      verdict: "fail",
      detail: "no /sys/kernel/btf/vmlinux: the CO-RE datapath cannot be relocated",
      fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's is)",
    },
  );
  out.push(
    k.bpffsMounts.length
      ? { id: "bpffs", verdict: "ok", detail: `bpffs mounted at ${k.bpffsMounts.join(", ")}` }
      : {
        id: "bpffs",
        verdict: "fail",
        detail: "no bpffs mounted: pins (and so a datapath that outlives the agent) are impossible",
        fix: "mount -t bpf bpf /sys/fs/bpf (and mount the host's /sys/fs/bpf into the agent pod)",
      },
  );
  if (k.tcx === null) {
    out.push({
      id: "tcx",
      verdict: "warn",
      detail: "could not read the kernel's BTF to tell TCX from legacy tc",
      fix: "see the btf check",
    });
  } else {
    out.push(
      k.tcx
        ? {
          id: "tcx",
          verdict: "ok",
          detail: "TCX (6.6+): restorers and savers are links, the restorer first on the NIC; " +
            "other tc programs still run after it",
        }
        : {
          id: "tcx",
          verdict: "info",
          detail: "no TCX (before 6.6): legacy tc clsact filters; the restorer takes the lowest " +
            "pref on the NIC and passes packets on (TC_ACT_UNSPEC)",
        },
    );
  }
  if (k.taiHelper === null) {
    out.push({
      id: "tai-helper",
      verdict: "warn",
      detail: "could not tell whether bpf_ktime_get_tai_ns exists (BTF unreadable)",
      fix: "see the btf check; the helper exists from Linux 6.1",
    });
  } else {
    out.push(
      k.taiHelper
        ? {
          id: "tai-helper",
          verdict: "ok",
          detail:
            "bpf_ktime_get_tai_ns present (6.1+): a namespace's txtime horizon is judged on " +
            "the txtime's own clock",
        }
        : {
          id: "tai-helper",
          verdict: "fail",
          detail: "no bpf_ktime_get_tai_ns (needs 6.1+): the saver cannot load",
          fix: "upgrade the kernel",
        },
    );
  }
  if (k.core === null) {
    out.push({
      id: "core-load",
      verdict: k.root ? "warn" : "fail",
      detail: "the datapath (saver + restorer) was not test-loaded",
      fix: "run as root",
    });
  } else {
    out.push(
      k.core.ok
        ? {
          id: "core-load",
          verdict: "ok",
          detail: "the datapath (saver + restorer) loads: the verifier accepts it",
        }
        : {
          id: "core-load",
          verdict: "fail",
          detail: `the datapath does not load: ${loadDetail(k.core)}`,
          fix: "run `tsnproxy datapath up` by hand to see the verifier log; report it with " +
            "`uname -r`",
        },
    );
  }
  return out;
}

/** Whether the strategy's tracker loads (fexit), and what a refusal means. */
export function trackerCheck(
  strategy: string,
  programs: readonly string[],
  k: KernelFacts,
): Check {
  if (programs.length === 0) {
    return {
      id: "tracker",
      verdict: "ok",
      detail: `${strategy} needs no tracker (clones share the key)`,
    };
  }
  const names = programs.join(", ");
  if (k.tracker === null) {
    return {
      id: "tracker",
      verdict: k.root ? "warn" : "fail",
      detail: `${names} (fexit) was not test-loaded`,
      fix: "run as root",
    };
  }
  if (k.tracker.ok) {
    return {
      id: "tracker",
      verdict: "ok",
      detail: `${names} (fexit/skb_clone) loads: clones on the node keep their metadata`,
    };
  }
  const lockdown = k.lockdown && k.lockdown !== "none"
    ? ` Kernel lockdown is "${k.lockdown}", which refuses BPF tracing.`
    : "";
  return {
    id: "tracker",
    verdict: "warn",
    detail: `${names} (fexit) refused: ${loadDetail(k.tracker)}. ${strategy} runs degraded: ` +
      "packets cloned on the node on their way to the NIC (bridge flooding, multicast, tc " +
      `mirred) lose their metadata and count as missed; nothing is restored wrongly.${lockdown}`,
    fix: "unicast pod traffic is unaffected. For clones: a kernel that allows fexit (BPF " +
      "trampolines, no lockdown), or skb-data where its paths suffice (docs/strategies.md)",
  };
}

/** One TSN interface: present, with a qdisc that schedules by priority/txtime, enough queues. */
export function interfaceCheck(i: InterfaceFacts): Check {
  const id = `interface:${i.name}`;
  if (!i.exists) {
    return {
      id,
      verdict: "fail",
      detail: `${i.name} does not exist in this network namespace`,
      fix: "check restoreOn in the agent config (the NIC's name on this node). The agent runs " +
        "without a restorer on it (ready, reported missing: tsnproxy status, " +
        "tsnproxy_datapath_interface_missing) and attaches one when it appears; until then its " +
        "packets are not restored",
    };
  }
  const q = i.qdiscs === null ? null : tsnSchedule(parseQdiscs(i.qdiscs));
  const queues = i.txQueues === null ? "" : `, ${i.txQueues} TX queue(s)`;
  if (!q || q.trafficClasses === null) {
    const what = q === null ? "qdiscs unknown" : `root qdisc ${q.root ?? "none"}`;
    const etf = q && q.etf.length ? ` (etf on ${q.etf.map((e) => e.parent).join(", ")})` : "";
    return {
      id,
      verdict: "warn",
      detail: `${i.name}: ${what}${etf}${queues}: no taprio or mqprio, so nothing on this NIC ` +
        "schedules by the restored priority",
      fix: "configure the TSN schedule, e.g. `tc qdisc replace dev " + i.name + " parent root " +
        "handle 100 taprio num_tc 3 map 2 2 1 0 ... queues 1@0 1@1 2@2 base-time 0 sched-entry " +
        "S 01 300000 ... clockid CLOCK_TAI` (+ etf per queue for txtimes)",
    };
  }
  const etf = q.etf.length
    ? `; etf on ${
      q.etf.map((e) =>
        `${e.parent} (${e.clockid ?? "?"}${e.offload === null ? "" : e.offload ? ", offload" : ""})`
      ).join(", ")
    }`
    : "";
  const base = `${i.name}: ${q.root}, ${q.trafficClasses} traffic classes` +
    `${q.clockid ? `, clockid ${q.clockid}` : ""}${etf}${queues}`;
  if (i.txQueues !== null && i.txQueues < q.trafficClasses) {
    return {
      id,
      verdict: "warn",
      detail: `${base}: fewer TX queues than traffic classes`,
      fix: "give each traffic class its own queue (ethtool -L, or numtxqueues for veth)",
    };
  }
  return { id, verdict: "ok", detail: base };
}

/** Known primary CNIs that fight a chained entry. */
const CONFLICTS: ReadonlyArray<
  { match: (type: string) => boolean; verdict: Verdict; detail: string; fix: string }
> = [
  {
    match: (t) => t === "cilium-cni",
    verdict: "warn",
    detail: "the primary CNI is Cilium. With cni.exclusive=true (its default) Cilium removes " +
      "other plugins' configuration and rewrites its file, dropping the tsn-proxy entry again " +
      "and again (the agent backs off and counts tsnproxy_reconciler_conflicts_total)",
    fix: "set cni.exclusive=false (Helm) or --cni-exclusive=false on cilium-agent",
  },
  {
    match: (t) => t === "multus" || t === "multus-shim",
    verdict: "warn",
    detail: "the primary config is Multus: the tsn-proxy entry lands in Multus's own list, " +
      "which delegates to other networks",
    fix: "add the tsn-proxy entry to the delegate network that carries the TSN traffic (its " +
      "NetworkAttachmentDefinition config), or point cni.confDir at the delegate's conf dir",
  },
];

/** The CNI conf dir: the primary config, its first plugin, and known conflicts. */
export function cniChecks(c: CniFacts): Check[] {
  if (!c.exists) {
    return [{
      id: "cni-conf",
      verdict: "warn",
      detail: `${c.confDir} does not exist: no primary CNI installed yet`,
      fix: "install the primary CNI first; the agent waits and reports not ready until a valid " +
        "config appears (or set cni.confDir to the runtime's conf dir)",
    }];
  }
  const { primary, skipped } = pickPrimaryConf(c.files);
  const out: Check[] = [];
  if (skipped.length) {
    out.push({
      id: "cni-skipped",
      verdict: "info",
      detail: `libcni skips ${skipped.map((s) => `${s.name} (${s.error})`).join(", ")}`,
    });
  }
  if (!primary) {
    out.push({
      id: "cni-conf",
      verdict: "warn",
      detail: `no valid .conf/.conflist/.json in ${c.confDir}: no primary CNI yet`,
      fix: "install the primary CNI; the agent places its entry once a config appears",
    });
    return out;
  }
  out.push(primaryCheck(c.confDir, primary));
  const type = String(primary.list.plugins[0]?.type ?? "");
  for (const known of CONFLICTS) {
    if (known.match(type)) {
      out.push({
        id: "cni-conflict",
        verdict: known.verdict,
        detail: known.detail,
        fix: known.fix,
      });
    }
  }
  const backups = c.others.filter((n) => n.endsWith(".cilium_bak"));
  if (backups.length) {
    out.push({
      id: "cni-exclusive",
      verdict: "fail",
      detail: `Cilium's exclusive mode is active: it renamed ${backups.join(", ")} out of the ` +
        "way, and will remove tsn-proxy's entry the same way",
      fix: "set cni.exclusive=false (Helm) / --cni-exclusive=false and restart cilium-agent",
    });
  }
  return out;
}

function primaryCheck(confDir: string, primary: ValidConf): Check {
  const types = primary.list.plugins.map((p) => String(p.type));
  const first = types[0] ?? "?";
  const chain = types.join(" -> ");
  const ours = types.filter((t) => t === PLUGIN_TYPE_TSN).length;
  const where = `${confDir}/${primary.name}`;
  if (compare(primary.cniVersion || "0.0.0", "0.3.0") < 0) {
    return {
      id: "cni-conf",
      verdict: "fail",
      detail: `primary ${where} (${first}) has cniVersion "${primary.cniVersion}": chained ` +
        "plugins need 0.3.0 or later",
      fix: "upgrade the primary CNI's config to cniVersion 0.3.1 or later",
    };
  }
  const kind = primary.kind === "conf"
    ? " (a lone .conf: the agent wraps it into a .conflist)"
    : "";
  if (ours > 1 || (ours === 1 && types.at(-1) !== PLUGIN_TYPE_TSN)) {
    return {
      id: "cni-conf",
      verdict: "warn",
      detail: `primary ${where}: ${chain}: the tsn-proxy entry is not (only) last`,
      fix: "let the agent fix it (it removes old entries and appends one), or edit the file",
    };
  }
  return {
    id: "cni-conf",
    verdict: "ok",
    detail: `primary ${where}${kind}: owned by ${first} (${chain})` +
      (ours === 1 ? "; the tsn-proxy entry is in place" : "; the agent will append tsn-proxy"),
  };
}

function compare(a: string, b: string): number {
  const pa = a.split(".").map(Number), pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** Every check, in report order. */
export function runChecks(f: DoctorFacts): Check[] {
  const out: Check[] = [kernelCheck(f.kernel.release), ...bpfChecks(f.kernel)];
  out.push(trackerCheck(f.strategy, f.trackerPrograms, f.kernel));
  if (f.interfaces === null) {
    out.push({
      id: "interfaces",
      verdict: "warn",
      detail: "no TSN interfaces named: their qdiscs and queues were not checked",
      fix: "pass --restore-on IF[,IF] or --config /etc/tsn-proxy/agent.yaml",
    });
  } else {
    for (const i of f.interfaces) out.push(interfaceCheck(i));
  }
  if (f.clock) out.push(...clockChecks(f.clock));
  if (f.netkit) out.push(...netkitChecks(f.netkit));
  out.push(...cniChecks(f.cni));
  return out;
}

/** fit: no check failed. */
export function verdictOf(checks: readonly Check[]): { fit: boolean; warnings: number } {
  return {
    fit: !checks.some((c) => c.verdict === "fail"),
    warnings: checks.filter((c) => c.verdict === "warn").length,
  };
}

/** The report. */
export function formatDoctor(checks: readonly Check[]): string {
  const { fit, warnings } = verdictOf(checks);
  const width = Math.max(...checks.map((c) => c.id.length));
  const lines = checks.flatMap((c) => [
    `${c.verdict.toUpperCase().padEnd(4)}  ${c.id.padEnd(width)}  ${c.detail}`,
    ...(c.fix && (c.verdict === "warn" || c.verdict === "fail")
      ? [`${" ".repeat(width + 8)}-> ${c.fix}`]
      : []),
  ]);
  const failed = checks.filter((c) => c.verdict === "fail").map((c) => c.id);
  lines.push(
    "",
    fit
      ? `verdict: FIT for tsn-proxy${
        warnings ? ` (${warnings} warning${warnings > 1 ? "s" : ""})` : ""
      }`
      : `verdict: UNFIT for tsn-proxy (failed: ${failed.join(", ")})`,
  );
  return lines.join("\n");
}
