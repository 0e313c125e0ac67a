/**
 * What a strategy is: a way to key packets in the shared BPF core, plus the tracker programs that
 * keep the key valid along the path. Strategies carry no BPF logic of their own; they only choose
 * `tsn_cfg.key_mode` and which tracker programs to load.
 *
 * @example
 * ```ts
 * import type { Strategy } from "./strategy.ts";
 * const describe = (s: Strategy) => `${s.name}: ${s.trackers.length} tracker(s)`;
 * ```
 */
import type { TsnKeyMode } from "@tsn-proxy/bpf/gen/tsn_core";

/** A kernel capability a program needs at load or attach time. */
export type KernelFeature = "fexit" | "tp_btf";

/** A tracker program of the core object that a strategy loads beside the saver and restorer. */
export interface Tracker {
  /** The program's C name in the core object. */
  readonly program: string;
  /** What the tracker follows, for status output. */
  readonly description: string;
  /** The kernel feature it needs. */
  readonly needs: KernelFeature;
}

/** A packet-keying strategy; chosen once per node at load time. */
export interface Strategy {
  /** The name used in configs and on the command line. */
  readonly name: string;
  /** One paragraph: how packets are keyed, where that holds and where it does not. */
  readonly description: string;
  /** The key mode written into `tsn_cfg.key_mode`. */
  readonly keyMode: (typeof TsnKeyMode)[keyof typeof TsnKeyMode];
  /**
   * Trackers that make the strategy complete. A node whose kernel refuses one runs the strategy
   * without it: the loader reports the tracker as unavailable and the counters show what it costs.
   */
  readonly trackers: readonly Tracker[];
}
