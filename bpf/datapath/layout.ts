/**
 * Where a node's datapath pins its objects inside its bpffs directory. Everything tsn-proxy pins
 * lives below that one directory, so removing it is a complete uninstall of the kernel side.
 *
 * @example
 * ```ts
 * import { PinLayout } from "./layout.ts";
 * const pins = new PinLayout("/sys/fs/bpf/tsn-proxy");
 * console.log(pins.restorerLink("nic0")); // /sys/fs/bpf/tsn-proxy/restore/nic0
 * ```
 */
import { join } from "node:path";

/** Pin paths of one node datapath. */
export class PinLayout {
  constructor(readonly dir: string) {}

  /** The node-wide record map. */
  get records(): string {
    return join(this.dir, "records");
  }
  /** The node-wide bucket table. */
  get buckets(): string {
    return join(this.dir, "buckets");
  }
  /** The clock gate: 1 refuses txtimes (agent/clock). */
  get clockGate(): string {
    return join(this.dir, "clock_gate");
  }
  /** The node-wide per-CPU counters. */
  get counters(): string {
    return join(this.dir, "counters");
  }
  /** The node instance's .rodata (strategy key mode, age bound). */
  get nodeConfig(): string {
    return join(this.dir, "node_config");
  }
  /** The restorer program. */
  get restorer(): string {
    return join(this.dir, "restorer");
  }
  /** Directory of tracker links. */
  get trackersDir(): string {
    return join(this.dir, "trackers");
  }
  /** A tracker's link. */
  trackerLink(program: string): string {
    return join(this.trackersDir, program);
  }
  /** Directory of restorer links, one per TSN interface. */
  get restoreDir(): string {
    return join(this.dir, "restore");
  }
  /** The TCX link of the restorer on one interface. */
  restorerLink(ifname: string): string {
    return join(this.restoreDir, pinName(ifname));
  }
  /** Directory of one pod attachment. */
  podDir(id: string): string {
    return join(this.dir, "pods", pinName(id));
  }
  /** A pod's saver program instance. */
  podSaver(id: string): string {
    return join(this.podDir(id), "saver");
  }
  /** A pod's saver configuration (.rodata: owner, clamp). */
  podConfig(id: string): string {
    return join(this.podDir(id), "config");
  }
  /** A pod's TCX link. */
  podLink(id: string): string {
    return join(this.podDir(id), "link");
  }
}

/**
 * A name as bpffs accepts it. bpffs refuses any name with a dot (bpf_lookup(): "reserved for future
 * extensions"), and interface names such as `eth1.100` (VLANs) have them: '%' and '.' are
 * percent-encoded, which keeps distinct names distinct.
 */
export function pinName(name: string): string {
  return name.replaceAll("%", "%25").replaceAll(".", "%2e");
}

/** Pod attachment ids become directory names: keep them to a safe alphabet. */
export function checkPodId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) {
    throw new Error(`invalid attachment id "${id}" (letters, digits, '_', '.', '-'; max 128)`);
  }
  return id;
}
