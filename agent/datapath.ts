/**
 * The node's datapath as the agent drives it: `up` for the configured strategy (adopting what a
 * previous agent left pinned, since `up` is idempotent for the same strategy), pod savers by
 * attachment id, readiness and stats, and `down` for uninstall. Everything goes through one
 * {@link Datapath} of @tsn-proxy/bpf/datapath.
 *
 * @example
 * ```ts ignore
 * import { NodeDatapath } from "./datapath.ts";
 * const dp = new NodeDatapath({ strategy, bpffs, restoreOn: ["eth1"], stateFile, maxAgeMs: 100 });
 * dp.bringUp();
 * ```
 */
import {
  Datapath,
  type DatapathState,
  type DatapathStats,
  type RestorerCheck,
} from "@tsn-proxy/bpf/datapath";
import type { Strategy } from "@tsn-proxy/strategies";
import type { DatapathPort, SaverSettings } from "./handler.ts";

/** What the node datapath needs. */
export interface NodeDatapathOptions {
  readonly strategy: Strategy;
  readonly bpffs: string;
  readonly restoreOn: readonly string[];
  readonly stateFile: string;
  readonly maxAgeMs: number;
  readonly cleanup?: boolean;
}

/** How `bringUp` went. */
export interface BringUpResult {
  readonly state: DatapathState;
  /** True when a running datapath was adopted rather than loaded. */
  readonly adopted: boolean;
  /** Trackers the kernel refused (the strategy runs degraded). */
  readonly degraded: readonly string[];
}

/** The node datapath. */
export class NodeDatapath implements DatapathPort {
  #error: string | null = "datapath not loaded yet";
  readonly #dp: Datapath;

  constructor(readonly o: NodeDatapathOptions) {
    this.#dp = Datapath.open({ stateFile: o.stateFile, bpffs: o.bpffs });
  }

  /**
   * Loads the datapath, or adopts the one already pinned. A state file whose pins are gone (bpffs
   * remounted) is stale: it is cleared and the datapath loaded anew. TSN interfaces that do not
   * exist get no restorer and are recorded as pending (see {@link checkRestorers}); an invalid
   * interface name throws. Throws (and stays not ready) when `up` fails.
   */
  bringUp(): BringUpResult {
    try {
      let existing = this.#dp.state();
      if (existing && this.#dp.missingCorePins().length > 0) {
        this.#dp.down();
        existing = undefined;
      }
      const state = this.#dp.up({
        strategy: this.o.strategy,
        bpffs: this.o.bpffs,
        restoreOn: this.o.restoreOn,
        maxAgeNs: BigInt(this.o.maxAgeMs) * 1_000_000n,
        cleanup: this.o.cleanup ?? false,
        // A TSN interface not there yet (not renamed yet, hot-plugged later) must not keep the
        // node's pod networking hostage: it is recorded as pending and attached when it appears.
        allowMissing: true,
      });
      this.#error = null;
      return {
        state,
        adopted: existing !== undefined,
        degraded: state.trackers.filter((t) => t.state === "unavailable").map((t) =>
          `${t.program}: ${t.reason ?? "unavailable"}`
        ),
      };
    } catch (e) {
      this.#error = `datapath up failed: ${e instanceof Error ? e.message : String(e)}`;
      throw e;
    }
  }

  notReady(): string | null {
    if (this.#error !== null) return this.#error;
    const state = this.#dp.state();
    if (!state) return "datapath state missing";
    const missing = this.#dp.missingCorePins();
    if (missing.length) return `datapath pins missing: ${missing.join(", ")}`;
    return null;
  }

  attach(o: { id: string; netns: string; ifname: string } & SaverSettings): void {
    this.#dp.attach(o);
  }

  detach(id: string): boolean {
    return this.#dp.detach(id);
  }

  setSettings(id: string, settings: SaverSettings): boolean {
    return this.#dp.setSettings(id, settings);
  }

  has(id: string): boolean {
    return this.#dp.state()?.pods.some((p) => p.id === id) ?? false;
  }

  missingPins(id: string): string[] {
    return this.#dp.missingPodPins(id);
  }

  /**
   * Checks the restorers against the TSN interfaces (agent netns): attaches the restorer of a
   * pending interface that appeared, re-attaches a restorer whose interface was re-created,
   * reports interfaces that are missing or gone. Nothing to do before `bringUp`.
   */
  checkRestorers(): RestorerCheck[] {
    if (this.#error !== null) return [];
    return this.#dp.check();
  }

  /** Removes pod pins the state does not name (see Datapath.removeOrphans); not before `bringUp`. */
  removeOrphans(): string[] {
    return this.#error !== null ? [] : this.#dp.removeOrphans();
  }

  /** Stats for metrics; null when the datapath is not up. */
  stats(): DatapathStats | null {
    return this.#dp.state() ? this.#dp.stats() : null;
  }

  /** Removes everything (uninstall); a saver that cannot be detached is reported and unpinned. */
  down(log: (msg: string) => void = () => {}): void {
    // Removing the bpffs dir drops its link pins, which detaches TCX links anyway.
    this.#dp.down((p, e) =>
      log(`cannot detach ${p.id}: ${e instanceof Error ? e.message : String(e)}`)
    );
    this.#error = "datapath removed";
  }
}
