/**
 * @module
 * The result objects the VM suite's guest scenarios (lab/guest/scenarios/vm-*.ts) write, shared by
 * the guest side, the checks (./checks.ts), the report table (./report.ts) and the host's kernel
 * test. Plain JSON: counters are numbers, no bigints.
 */

/** The kernels the suite knows expectations for (`major.minor` of the guest's release). */
export type VmKernel = "6.1" | "6.12";

/** `6.1.0-56-amd64` → `6.1`; anything the suite has no expectations for is an error. */
export function vmKernelOf(release: string): VmKernel {
  const m = /^(\d+)\.(\d+)\./.exec(release);
  const id = m ? `${m[1]}.${m[2]}` : "";
  if (id === "6.1" || id === "6.12") return id;
  throw new Error(`no VM suite expectations for kernel ${release}`);
}

/** One talker as the observer at a hook saw it (the fields of e2e's TalkerRow the checks use). */
export interface TalkerOut {
  readonly talker: string;
  /** Records the talker sent / the far end received / the observer saw. */
  readonly sent: number;
  readonly received: number;
  readonly seen: number;
  /** Packets at the hook (TCP: every segment). */
  readonly packets: number;
  readonly prioRight: number;
  readonly prioZero: number;
  readonly prioWrong: number;
  /** Record packets whose txtime came with the right value and the clock type the talker asked. */
  readonly txtimeRight: number;
  readonly txtimeMissing: number;
  readonly txtimeWrong: number;
  /** Right value, other clock type (before 6.11: the socket's untyped txtime, type 0). */
  readonly typeWrong: number;
  readonly invented: number;
  /** `__sk_buff.tstamp_type` of the last packet. */
  readonly lastType: number;
}

/** The datapath's own view after a run (readStats). */
export interface ProxyOut {
  readonly strategy: string;
  readonly trackers: readonly { program: string; state: string; reason?: string }[];
  readonly restorers: readonly { ifname: string; mode: string }[];
  /** Every counter of the core, summed over CPUs. */
  readonly counters: Readonly<Record<string, number>>;
  /** Records left in the map. */
  readonly records: number;
}

/** One topology + traffic run of a scenario. */
export interface RunOut {
  /** What ran, e.g. `vxlan taps skb-addr`. */
  readonly label: string;
  /** Guest wall time of the run. */
  readonly ms: number;
  /** The observer's rows at the node's NIC. */
  readonly rows: readonly TalkerOut[];
  /** null: no proxy in this run. */
  readonly proxy: ProxyOut | null;
  /** Guest ms of the run's phases (e2e runScenario: topology+observer+receivers, talkers, teardown). */
  readonly phases?: {
    readonly setupMs: number;
    readonly trafficMs: number;
    readonly teardownMs: number;
  };
  /** Why the run did not finish (then rows may be empty). */
  readonly error?: string;
}

/** Counters of one qdisc (`tc -s qdisc show`). */
export interface QdiscStats {
  readonly kind: string;
  readonly handle: string;
  /** `root` or the parent class id. */
  readonly parent: string;
  readonly sentBytes: number;
  readonly sentPackets: number;
  readonly dropped: number;
  readonly overlimits: number;
}

/** vm-datapath: the e2e datapath matrix with the tracker loaded, plus a run without the proxy. */
export interface DatapathResult {
  readonly scenario: "vm-datapath";
  readonly kernel: VmKernel;
  readonly count: number;
  /** Without the proxy (bridge-nat): the NIC's rows, and each pod's eth0 (what the socket gave). */
  readonly baseline: RunOut & { readonly pod: readonly TalkerOut[] };
  readonly runs: readonly (RunOut & {
    readonly kind: string;
    readonly taps: boolean;
    readonly strategy: string;
  })[];
  readonly failures: readonly string[];
}

/** vm-clone: bridge-flood (the NIC gets a clone), per strategy, with and without the tracker. */
export interface CloneResult {
  readonly scenario: "vm-clone";
  readonly kernel: VmKernel;
  readonly count: number;
  readonly runs: readonly (RunOut & { readonly strategy: string; readonly tracker: boolean })[];
  readonly failures: readonly string[];
}

/** vm-vlan: nic0.100 with egress-qos-map; PCP counted at the far side's ingress. */
export interface VlanResult {
  readonly scenario: "vm-vlan";
  readonly kernel: VmKernel;
  readonly count: number;
  readonly runs: readonly (RunOut & {
    readonly strategy: string | null;
    readonly restoreOn: string | null;
    /** Per talker: PCP → frames tagged with VLAN 100 seen at ext0 ingress ("untagged" if none). */
    readonly pcp: Readonly<Record<string, Readonly<Record<string, number>>>>;
  })[];
  readonly failures: readonly string[];
}

/** vm-taprio: taprio on nic0, per-class counters without and with the proxy. */
export interface TaprioResult {
  readonly scenario: "vm-taprio";
  readonly kernel: VmKernel;
  readonly count: number;
  readonly runs: readonly (RunOut & {
    readonly strategy: string | null;
    /** Child qdisc packets per taprio class (`100:1`..`100:4`). */
    readonly classes: Readonly<Record<string, number>>;
    /** `tc -s class show` packets per class, as the kernel reports them. */
    readonly classShow: Readonly<Record<string, number>>;
    readonly qdiscs: readonly QdiscStats[];
  })[];
  readonly failures: readonly string[];
}

/** vm-etf: mqprio + etf on nic0; etf's sent/dropped without and with the proxy. */
export interface EtfResult {
  readonly scenario: "vm-etf";
  readonly kernel: VmKernel;
  readonly count: number;
  readonly aheadUs: number;
  readonly deltaNs: number;
  readonly runs: readonly (RunOut & {
    readonly strategy: string | null;
    /** A tc u32 + skbedit filter steers the timed talker's port to the etf queue. */
    readonly steer: boolean;
    readonly etf: QdiscStats | null;
    readonly qdiscs: readonly QdiscStats[];
  })[];
  readonly failures: readonly string[];
}

/** A netkit device as rtnetlink reports it (bpf/libbpf/rtnetlink.ts decodeLink). */
export interface NetkitLinkOut {
  readonly ifname: string;
  readonly kind: string | null;
  readonly primary: boolean;
  readonly mode: string | null;
  /** null: the kernel does not report it (before 83134ef46093; it always scrubs). */
  readonly scrub: string | null;
  readonly peerScrub: string | null;
  /** tsn-proxy status's verdict on this device (bpf/libbpf podLinkVerdict). */
  readonly saverNeeded: boolean;
  readonly reason: string;
}

/** What a program at BPF_NETKIT_PEER, placed first, saw of one UDP talker's packets. */
export interface PeerSeenOut {
  readonly packets: number;
  readonly withPriority: number;
  readonly withTstamp: number;
}

/**
 * vm-netkit: routed pods whose interface is a netkit pair (l3, l2), a CNI stand-in on the netkit
 * peer hook with a probe placed before it, without the proxy and with each strategy (saver on the
 * pod device's TCX egress).
 */
export interface NetkitResult {
  readonly scenario: "vm-netkit";
  readonly kernel: VmKernel;
  readonly count: number;
  /** A pair created with scrub none on both sides: accepted? what the dump reports. */
  readonly scrubProbe: {
    readonly accepted: boolean;
    readonly error: string | null;
    readonly primary: NetkitLinkOut | null;
  };
  readonly runs: readonly (RunOut & {
    readonly mode: "l2" | "l3";
    readonly strategy: string | null;
    /** The scrub the pairs were created with ("default": the attribute left out, as Cilium). */
    readonly scrub: "default" | "none";
    /** The node's net.ipv4.ip_forward_update_priority during the run. */
    readonly fwdUpdatePriority: 0 | 1;
    /** The pods' devices (pod side) as the kernel reports them. */
    readonly links: readonly NetkitLinkOut[];
    /** Program names on pod a's BPF_NETKIT_PEER hook, in run order. */
    readonly peerOrder: readonly string[];
    /** Packets the CNI stand-in handled (all pods). */
    readonly cniPackets: number;
    /** Per UDP talker: what the probe at the peer hook saw. */
    readonly peerSeen: Readonly<Record<string, PeerSeenOut>>;
  })[];
  readonly failures: readonly string[];
}

/** Any VM suite result. */
export type VmResult =
  | DatapathResult
  | CloneResult
  | VlanResult
  | TaprioResult
  | EtfResult
  | NetkitResult;

/** Parses `tc -s qdisc show` output into one entry per qdisc. */
export function parseQdiscStats(text: string): QdiscStats[] {
  const out: QdiscStats[] = [];
  let cur: { kind: string; handle: string; parent: string } | null = null;
  for (const line of text.split("\n")) {
    const head = /^qdisc (\S+) (\S+) (?:root|parent (\S+))/.exec(line);
    if (head) {
      cur = { kind: head[1] ?? "", handle: head[2] ?? "", parent: head[3] ?? "root" };
      continue;
    }
    const sent = /^\s*Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(line);
    if (sent && cur) {
      out.push({
        ...cur,
        sentBytes: Number(sent[1]),
        sentPackets: Number(sent[2]),
        dropped: Number(sent[3]),
        overlimits: Number(sent[4]),
      });
      cur = null;
    }
  }
  return out;
}

/** Parses `tc -s class show` output: packets sent per class id. */
export function parseClassStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  let cls: string | null = null;
  for (const line of text.split("\n")) {
    const head = /^class \S+ (\S+)/.exec(line);
    if (head) {
      cls = head[1] ?? null;
      continue;
    }
    const sent = /^\s*Sent \d+ bytes (\d+) pkt/.exec(line);
    if (sent && cls) {
      out[cls] = Number(sent[1]);
      cls = null;
    }
  }
  return out;
}
