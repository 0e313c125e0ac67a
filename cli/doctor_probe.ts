/**
 * The doctor's facts, read from this node: kernel release, BTF, bpffs, TCX and the per-CPU lookup
 * helper from the kernel's BTF, a test load of the datapath core and of the strategy's tracker
 * (loaded, never attached, closed at once), lockdown, `tc qdisc show` and `ip -d link` of the TSN
 * interfaces (in another netns with `nsenter --net`), and the CNI conf dir.
 *
 * @example
 * ```ts ignore
 * import { probeKernel } from "./doctor_probe.ts";
 * console.log(probeKernel(getStrategy("skb-addr")).tracker); // { ok: false, code: "EPERM", ... }
 * ```
 */
import { join } from "node:path";
import { BpfError, bpffsMounts, kernelEnum, kernelHasTcx } from "@tsn-proxy/bpf/libbpf";
import { coreConfig, DEFAULT_MAX_AGE_NS, openCore } from "@tsn-proxy/bpf/datapath";
import { PROGRAMS } from "@tsn-proxy/bpf/gen/tsn_core";
import type { Strategy } from "@tsn-proxy/strategies";
import { isConfName } from "@tsn-proxy/agent/conflist";
import type { CniFacts, InterfaceFacts, KernelFacts, LoadOutcome } from "./doctor_checks.ts";
import { existsSync } from "node:fs";

const IP = "/usr/sbin/ip";
const TC = "/usr/sbin/tc";
const NSENTER = "/usr/bin/nsenter";

/** The bracketed mode of /sys/kernel/security/lockdown (`none [integrity] confidentiality`). */
export function parseLockdown(text: string): string | null {
  return /\[(\w+)\]/.exec(text)?.[1] ?? null;
}

/** Loads the given programs of the core (own maps, nothing pinned or attached) and closes them. */
function tryLoad(strategy: Strategy, programs: readonly string[]): LoadOutcome {
  try {
    const obj = openCore({
      programs,
      config: coreConfig({
        keyMode: strategy.keyMode,
        store: "buckets",
        maxAgeNs: DEFAULT_MAX_AGE_NS,
      }),
    });
    try {
      obj.load();
    } finally {
      obj.close();
    }
    return { ok: true };
  } catch (e) {
    if (e instanceof BpfError) {
      // First line without the object path: "bpf_object__load: EPERM (Operation not permitted)".
      const first = e.message.split("\n")[0]!.replace(/: \/\S+$/, "");
      return { ok: false, code: e.code, message: first };
    }
    return { ok: false, code: "ERROR", message: e instanceof Error ? e.message : String(e) };
  }
}

/** Kernel facts; BPF probes only as root (they would fail with EPERM for another reason). */
export function probeKernel(strategy: Strategy): KernelFacts {
  const root = Deno.uid() === 0;
  const btf = existsSync("/sys/kernel/btf/vmlinux");
  let tcx: boolean | null = null;
  let taiHelper: boolean | null = null;
  if (btf) {
    try {
      tcx = kernelHasTcx();
      taiHelper = kernelEnum("bpf_func_id")?.has("BPF_FUNC_ktime_get_tai_ns") ?? false;
    } catch {
      // libbpf cannot parse this kernel's BTF: both stay unknown.
    }
  }
  let lockdown: string | null = null;
  try {
    lockdown = parseLockdown(Deno.readTextFileSync("/sys/kernel/security/lockdown"));
  } catch { /* no securityfs or no lockdown LSM */ }
  let mounts: string[] = [];
  try {
    mounts = bpffsMounts();
  } catch { /* no /proc/self/mounts */ }
  const trackers = strategy.trackers.map((t) => t.program);
  return {
    release: Deno.osRelease(),
    root,
    btf,
    bpffsMounts: mounts,
    tcx,
    taiHelper,
    lockdown,
    core: root ? tryLoad(strategy, [PROGRAMS.tsnSaver.name, PROGRAMS.tsnRestorer.name]) : null,
    tracker: root && trackers.length ? tryLoad(strategy, trackers) : null,
  };
}

async function run(netns: string | null, argv: string[]): Promise<string | null> {
  const [cmd, ...args] = netns ? [NSENTER, `--net=${netns}`, "--", ...argv] : argv;
  try {
    const out = await new Deno.Command(cmd!, { args, stdout: "piped", stderr: "piped" }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** An interface's existence, TX queues and qdiscs, in `netns` (null: this one). */
export async function probeInterface(name: string, netns: string | null): Promise<InterfaceFacts> {
  const link = await run(netns, [IP, "-j", "-d", "link", "show", "dev", name]);
  if (link === null) return { name, exists: false, qdiscs: null, txQueues: null };
  let txQueues: number | null = null;
  try {
    const parsed = JSON.parse(link) as Array<{ num_tx_queues?: number }>;
    txQueues = parsed[0]?.num_tx_queues ?? null;
  } catch { /* keep unknown */ }
  const qdiscs = await run(netns, [TC, "qdisc", "show", "dev", name]);
  return { name, exists: true, qdiscs, txQueues };
}

/** The conf dir's files (those libcni reads, with their text) and every other name. */
export async function probeCni(confDir: string): Promise<CniFacts> {
  const files = new Map<string, string>();
  const others: string[] = [];
  try {
    for await (const e of Deno.readDir(confDir)) {
      if (!e.isDirectory && isConfName(e.name)) {
        try {
          files.set(e.name, await Deno.readTextFile(join(confDir, e.name)));
        } catch { /* removed meanwhile */ }
      } else {
        others.push(e.name);
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { confDir, exists: false, files, others };
    throw e;
  }
  return { confDir, exists: true, files, others: others.sort() };
}
