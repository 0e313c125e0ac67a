/**
 * What the local node could change on the host, taken before and after the run: host-wide sysctls
 * (the kubelet sets some, and the bridge netfilter ones of the host's netns), the host netns'
 * nftables ruleset, its named network namespaces, its mounts and the top-level cgroups. The node
 * runs in namespaces of its own, so only the sysctls and cgroups can really change; the rest is
 * checked because "it cannot change" is exactly what a test must prove.
 *
 * Other engineers' tests share this machine: named netns, mounts under `/run/netns` and
 * `/sys/fs/bpf`, and cgroups they create or remove while the e2e runs are reported apart and only
 * names the node uses count as the node's leftovers.
 *
 * @example
 * ```ts ignore
 * const before = await snapshotHost();
 * // ... the run ...
 * await restoreHost(before);
 * const diff = compareHost(before, await snapshotHost());
 * ```
 *
 * @module
 */

/** Host-wide sysctls the kubelet sets (kubelet's setupKernelTunables) and bridge netfilter. */
export const WATCHED_SYSCTLS = [
  "kernel/panic",
  "kernel/panic_on_oops",
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
  "net/bridge/bridge-nf-call-iptables",
  "net/bridge/bridge-nf-call-ip6tables",
  "net/bridge/bridge-nf-call-arptables",
  "net/ipv4/ip_forward",
  "net/netfilter/nf_conntrack_max",
] as const;

/** cgroup names (top level of a hierarchy) the node's kubelet and containerd create. */
export const NODE_CGROUPS = ["kubepods", "kubepods.slice", "k8s.io", "kubelet", "kubelet.slice"];
/** Netns and mount names the node's runtime would use, were they to leak. */
const NODE_NAMES = /(^|\/)(cni-[0-9a-f-]+|tsn-e2e-[\w-]+|kubelet|containerd|kubepods)/;

/** The host as seen from the host's namespaces. */
export interface HostState {
  readonly sysctls: Readonly<Record<string, string>>;
  readonly nftables: string;
  readonly netns: readonly string[];
  /** Mount points with their filesystem type (`/proc/self/mountinfo`). */
  readonly mounts: readonly string[];
  /** `hierarchy/name` of every top-level cgroup. */
  readonly cgroups: readonly string[];
}

async function output(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function dirs(path: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) if (e.isDirectory) out.push(e.name);
  } catch { /* missing */ }
  return out.sort();
}

/** Reads the host's state (call from the host's namespaces). */
export async function snapshotHost(): Promise<HostState> {
  const sysctls: Record<string, string> = {};
  for (const s of WATCHED_SYSCTLS) {
    try {
      sysctls[s] = (await Deno.readTextFile(`/proc/sys/${s}`)).trim();
    } catch { /* not on this kernel */ }
  }
  const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n").filter(Boolean)
    .map((l) => {
      const f = l.split(" ");
      const sep = f.indexOf("-");
      return `${f[4]} ${f[sep + 1]}`;
    }).sort();
  const cgroups: string[] = [];
  for (const h of await dirs("/sys/fs/cgroup")) {
    for (const c of await dirs(`/sys/fs/cgroup/${h}`)) cgroups.push(`${h}/${c}`);
  }
  return {
    sysctls,
    nftables: await output("/usr/sbin/nft", ["list", "ruleset"]),
    // named netns are files (bind mounts), not directories
    netns: await Array.fromAsync(Deno.readDir("/run/netns")).then((es) => es.map((e) => e.name))
      .catch(() => [] as string[]).then((n) => n.sort()),
    mounts,
    cgroups: cgroups.sort(),
  };
}

/** Writes back changed sysctls and removes the node's cgroups (deepest first). */
export async function restoreHost(before: HostState, log: (l: string) => void): Promise<void> {
  for (const [s, v] of Object.entries(before.sysctls)) {
    const now = (await Deno.readTextFile(`/proc/sys/${s}`).catch(() => v)).trim();
    if (now !== v) {
      await Deno.writeTextFile(`/proc/sys/${s}`, v);
      log(`restored ${s.replaceAll("/", ".")} = ${v} (the node had set ${now})`);
    }
  }
  const ours: string[] = [];
  for (const h of await dirs("/sys/fs/cgroup")) {
    for (const c of NODE_CGROUPS) {
      if (!before.cgroups.includes(`${h}/${c}`)) ours.push(`/sys/fs/cgroup/${h}/${c}`);
    }
  }
  // Processes still in the node's cgroups are pods' containers the node's stop did not end (a
  // runtime killed before its pods): ours by their cgroup, ended by their pids.
  const left = new Set<number>();
  for (const top of ours) for (const pid of await procsUnder(top)) left.add(pid);
  if (left.size) {
    log(`killing ${left.size} leftover container processes of the node: ${[...left].join(" ")}`);
    for (const pid of left) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  for (const top of ours) await removeCgroup(top, log);
}

async function procsUnder(path: string): Promise<number[]> {
  const out: number[] = [];
  for (const c of await dirs(path)) out.push(...await procsUnder(`${path}/${c}`));
  const text = await Deno.readTextFile(`${path}/cgroup.procs`).catch(() => "");
  for (const l of text.split("\n")) if (l.trim()) out.push(Number(l));
  return out;
}

/** Removes a cgroup tree deepest first; what cannot go stays (the host check then reports it). */
async function removeCgroup(path: string, log: (l: string) => void): Promise<void> {
  for (const c of await dirs(path)) await removeCgroup(`${path}/${c}`, log);
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) log(`cannot remove cgroup ${path}: ${e}`);
  }
}

/** The difference between two snapshots. */
export interface HostDiff {
  /** Changes the node made or could have made: the e2e fails on these. */
  readonly ours: string[];
  /** Changes in names the node never uses (other tests on this machine), for the record. */
  readonly others: string[];
}

function setDiff(
  kind: string,
  a: readonly string[],
  b: readonly string[],
  d: HostDiff,
  ours: (x: string) => boolean,
) {
  const sa = new Set(a), sb = new Set(b);
  for (const x of b) if (!sa.has(x)) (ours(x) ? d.ours : d.others).push(`${kind} appeared: ${x}`);
  for (const x of a) if (!sb.has(x)) (ours(x) ? d.ours : d.others).push(`${kind} went away: ${x}`);
}

/** Compares the host before and after the run. */
export function compareHost(before: HostState, after: HostState): HostDiff {
  const d: HostDiff = { ours: [], others: [] };
  for (const [s, v] of Object.entries(before.sysctls)) {
    if (after.sysctls[s] !== v) {
      d.ours.push(`sysctl ${s.replaceAll("/", ".")} was ${v}, is ${after.sysctls[s]}`);
    }
  }
  if (before.nftables !== after.nftables) {
    d.ours.push(`the host's nftables ruleset changed:\n${after.nftables.slice(0, 2000)}`);
  }
  setDiff("netns", before.netns, after.netns, d, (x) => NODE_NAMES.test(x));
  // Other tests mount netns files and bpffs dirs all the time; anything else is ours to explain.
  const shared = (m: string) =>
    (m.startsWith("/run/netns/") || m.startsWith("/sys/fs/bpf/")) && !NODE_NAMES.test(m);
  setDiff("mount", before.mounts, after.mounts, d, (m) => !shared(m));
  setDiff(
    "cgroup",
    before.cgroups,
    after.cgroups,
    d,
    (c) => NODE_CGROUPS.includes(c.split("/")[1]!),
  );
  return d;
}
