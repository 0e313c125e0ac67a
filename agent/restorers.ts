/**
 * The agent's watch over the restorers of its TSN interfaces, run on every
 * `restorerCheckIntervalMs` tick: it asks the datapath to check them (which attaches a restorer to
 * an interface that appeared since `up`, and re-attaches one to an interface that was re-created)
 * and turns the outcomes into transitions: one log event and one metric update per change, not
 * one per tick.
 *
 * | transition                                | event                      | level |
 * | ----------------------------------------- | -------------------------- | ----- |
 * | a configured interface does not exist     | `restorer.missing`         | warn  |
 * | it appeared, its first restorer attached  | `restorer.attached`        | info  |
 * | an attached interface is gone             | `restorer.lost`            | warn  |
 * | it came back, restorer attached again     | `restorer.reattached`      | info  |
 * | (re-)attaching failed (per error message) | `restorer.reattach_failed` | error |
 * | the check itself failed                   | `restorer.check_failed`    | error |
 *
 * An absent interface never makes the node not ready: the core is loaded, savers work, and the
 * records of packets that leave by an interface without a restorer age out (the restorer refuses
 * any record older than `maxAgeMs`, and a record only ever applies to the packet whose fingerprint
 * it carries).
 *
 * @example
 * ```ts ignore
 * import { RestorerWatch } from "./restorers.ts";
 * const watch = new RestorerWatch({ check: () => datapath.checkRestorers(), log });
 * setInterval(() => watch.run(), 1000);
 * ```
 */
import type { RestorerCheck } from "@tsn-proxy/bpf/datapath";
import { errorMessage, type Log } from "./log.ts";

/** What the watch reports to metrics. */
export interface RestorerWatchMetrics {
  /** A restorer was attached again to a re-created interface. */
  reattached(ifname: string): void;
  /** Whether a configured TSN interface exists (updated on every check). */
  missing(ifname: string, missing: boolean): void;
}

/** Options of {@link RestorerWatch}. */
export interface RestorerWatchOptions {
  /** Checks (and attaches) the restorers; `NodeDatapath.checkRestorers`. */
  readonly check: () => RestorerCheck[];
  readonly log: Log;
  readonly metrics?: RestorerWatchMetrics;
}

/** Tracks restorer transitions across checks. */
export class RestorerWatch {
  /** Interfaces absent at the last check: never attached (`missing`) or deleted (`gone`). */
  readonly #absent = new Map<string, "missing" | "gone">();
  /** The last error per interface ("" for the check itself), to log each reason once. */
  readonly #failing = new Map<string, string>();

  constructor(readonly o: RestorerWatchOptions) {}

  /** TSN interfaces that did not exist at the last check, sorted. */
  absent(): string[] {
    return [...this.#absent.keys()].sort();
  }

  /** Runs one check; returns its outcomes (empty when the check failed or nothing is up). */
  run(): RestorerCheck[] {
    const { log } = this.o;
    let checks: RestorerCheck[];
    try {
      checks = this.o.check();
    } catch (e) {
      if (this.#failing.get("") !== errorMessage(e)) {
        this.#failing.set("", errorMessage(e));
        log(`restorer check failed: ${errorMessage(e)}`, {
          event: "restorer.check_failed",
          level: "error",
          error: errorMessage(e),
        });
      }
      return [];
    }
    this.#failing.delete("");
    for (const c of checks) this.#apply(c);
    return checks;
  }

  #apply(c: RestorerCheck): void {
    const { log, metrics } = this.o;
    const was = this.#absent.get(c.ifname);
    const absent = c.outcome === "missing" || c.outcome === "gone";
    metrics?.missing(c.ifname, absent);
    if (c.outcome === "missing" || c.outcome === "gone") {
      if (was !== c.outcome) {
        this.#absent.set(c.ifname, c.outcome);
        if (c.outcome === "missing") {
          log(
            `WARNING TSN interface ${c.ifname} (restoreOn) does not exist: no restorer on it, ` +
              "its packets leave without their pods' priority and txtime; attaching one when it " +
              "appears (the node stays ready)",
            { event: "restorer.missing", level: "warn", ifname: c.ifname },
          );
        } else {
          log(
            `WARNING TSN interface ${c.ifname} is gone: its restorer went with it; re-attaching ` +
              "when it is back",
            { event: "restorer.lost", level: "warn", ifname: c.ifname },
          );
        }
      }
    } else {
      this.#absent.delete(c.ifname);
    }
    if (c.outcome === "attached") {
      log(`TSN interface ${c.ifname} appeared: restorer attached (ifindex ${c.ifindex})`, {
        event: "restorer.attached",
        ifname: c.ifname,
        ifindex: c.ifindex,
        ...(was ? { was } : {}),
      });
    } else if (c.outcome === "reattached") {
      metrics?.reattached(c.ifname);
      log(
        `restorer re-attached to ${c.ifname} (ifindex ${c.previousIfindex} -> ${c.ifindex})`,
        {
          event: "restorer.reattached",
          ifname: c.ifname,
          ifindex: c.ifindex,
          previousIfindex: c.previousIfindex,
        },
      );
    } else if (c.outcome === "failed") {
      const error = c.error ?? "";
      if (this.#failing.get(c.ifname) !== error) {
        this.#failing.set(c.ifname, error);
        log(`cannot attach the restorer to ${c.ifname}: ${error}`, {
          event: "restorer.reattach_failed",
          level: "error",
          ifname: c.ifname,
          error,
        });
      }
    }
    if (c.outcome !== "failed") this.#failing.delete(c.ifname);
  }
}
