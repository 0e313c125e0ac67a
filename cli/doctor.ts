/**
 * `tsnproxy doctor`: is this node fit for tsn-proxy? One verdict per check, with what to do:
 *
 * - kernel version, and what it means for txtimes (< 6.11 clears TAI txtimes on the veth: the
 *   proxy restores them; 6.11+ keeps them); BTF; bpffs; root;
 * - TCX (6.6+) or legacy tc; `bpf_ktime_get_tai_ns` (6.1+, the saver's txtime horizon); a test
 *   load of the datapath (saver + restorer) and of the strategy's fexit tracker
 *   (refusals such as EPERM are reported with what the strategy loses);
 * - each TSN interface: present, its qdiscs (taprio/mqprio/etf from `tc qdisc show`), TX queues;
 * - the clock behind the txtimes: the system clock's sync state and TAI offset (adjtimex), each
 *   TSN interface's PTP hardware clock, linuxptp's daemons and ptp4l's offset (./doctor_clock.ts);
 * - netkit (./doctor_netkit.ts): whether the kernel has it (a pair created in a throwaway netns)
 *   and reports its scrub settings, and for each netkit pair present whether its pod side still
 *   needs the saver (the verdict `tsnproxy status` gives per pod);
 * - the CNI conf dir: the primary config (lexically first valid file) and its first plugin, and
 *   known conflicts (Cilium's exclusive mode, Multus).
 *
 *   tsnproxy doctor [--config FILE] [--strategy NAME] [--restore-on IF[,IF]]
 *                   [--cni-conf-dir DIR] [--netns PATH] [--json]
 *
 * Settings come from the agent config (`--config`, or /etc/tsn-proxy/agent.yaml when present);
 * flags override it. Exit code: 0 fit (warnings allowed), 1 unfit, 2 bad usage.
 *
 * @example
 * ```sh
 * sudo tsnproxy doctor --restore-on eth1
 * ```
 */
import { parseArgs } from "node:util";
import { getStrategy, UnknownStrategyError } from "@tsn-proxy/strategies";
import { probeClock } from "@tsn-proxy/agent/clock";
import { parseIfnames, UsageError, wantsHelp } from "./args.ts";
import {
  type Check,
  type DoctorFacts,
  formatDoctor,
  runChecks,
  verdictOf,
} from "./doctor_checks.ts";
import { probeCni, probeInterface, probeKernel } from "./doctor_probe.ts";
import { probeNetkitFacts } from "./doctor_netkit.ts";

/** Where the agent's config usually is. */
export const DEFAULT_CONFIG = "/etc/tsn-proxy/agent.yaml";
/** The runtime's CNI conf dir when nothing says otherwise. */
export const DEFAULT_CONF_DIR = "/etc/cni/net.d";

/** The doctor's JSON output. */
export interface DoctorReport {
  readonly fit: boolean;
  readonly warnings: number;
  readonly strategy: string;
  readonly config: string | null;
  readonly checks: readonly Check[];
}

/** Settings of one doctor run. */
export interface DoctorSettings {
  readonly strategy: string;
  readonly restoreOn: readonly string[] | null;
  readonly confDir: string;
  readonly netns: string | null;
  readonly config: string | null;
}

/** Gathers the facts and judges them. */
export async function runDoctor(s: DoctorSettings): Promise<DoctorReport> {
  const strategy = getStrategy(s.strategy);
  const facts: DoctorFacts = {
    strategy: strategy.name,
    trackerPrograms: strategy.trackers.map((t) => t.program),
    kernel: probeKernel(strategy),
    interfaces: s.restoreOn === null
      ? null
      : await Promise.all(s.restoreOn.map((n) => probeInterface(n, s.netns))),
    cni: await probeCni(s.confDir),
    clock: await probeClock({ ifaces: s.restoreOn ?? [], netns: s.netns }),
    netkit: await probeNetkitFacts(s.netns),
  };
  const checks = runChecks(facts);
  return { ...verdictOf(checks), strategy: strategy.name, config: s.config, checks };
}

function existsFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Usage of `tsnproxy doctor`. */
export const DOCTOR_USAGE =
  `usage: tsnproxy doctor [--config FILE] [--strategy NAME] [--restore-on IF[,IF]]
                      [--cni-conf-dir DIR] [--netns PATH] [--json]

Is this node fit for tsn-proxy? Kernel, BTF, bpffs, TCX, a test load of the datapath and the
tracker, the TSN interfaces' qdiscs, the clock, netkit, the CNI config. Exit 0 fit, 1 unfit, 2 bad usage.
Settings come from the agent config (--config, or ${DEFAULT_CONFIG}); flags override it.`;

/** Entry point of `tsnproxy doctor`. */
export async function doctorCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    console.log(DOCTOR_USAGE);
    return 0;
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      strategy: { type: "string" },
      "restore-on": { type: "string" },
      "cni-conf-dir": { type: "string" },
      netns: { type: "string" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const configPath = values.config ?? (existsFile(DEFAULT_CONFIG) ? DEFAULT_CONFIG : null);
  let fromConfig: { strategy: string; restoreOn: readonly string[]; confDir: string } | null = null;
  if (configPath !== null) {
    const { loadConfig, ConfigError } = await import("@tsn-proxy/agent");
    try {
      const cfg = await loadConfig(configPath);
      fromConfig = { strategy: cfg.strategy, restoreOn: cfg.restoreOn, confDir: cfg.cni.confDir };
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
  }
  const strategy = values.strategy ?? fromConfig?.strategy ?? "skb-addr";
  try {
    getStrategy(strategy);
  } catch (e) {
    if (e instanceof UnknownStrategyError) throw new UsageError(e.message);
    throw e;
  }
  const restoreOn = values["restore-on"] !== undefined
    ? parseIfnames(values["restore-on"])
    : fromConfig?.restoreOn ?? null;
  const confDir = values["cni-conf-dir"] ?? fromConfig?.confDir ?? DEFAULT_CONF_DIR;
  for (const [flag, v] of [["cni-conf-dir", confDir], ["netns", values.netns]] as const) {
    if (v !== undefined && !v.startsWith("/")) {
      throw new UsageError(`--${flag} must be an absolute path, got "${v}"`);
    }
  }
  if (values.netns !== undefined && !existsFile(values.netns)) {
    throw new UsageError(`--netns ${values.netns}: no such network namespace file`);
  }
  const report = await runDoctor({
    strategy,
    restoreOn,
    confDir,
    netns: values.netns ?? null,
    config: configPath,
  });
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    const head = `tsn-proxy doctor: strategy ${report.strategy}` +
      (report.config ? `, settings from ${report.config}` : "") + "\n";
    console.log(head + formatDoctor(report.checks));
  }
  return report.fit ? 0 : 1;
}
