/**
 * Whether txtimes may be restored, judged from the clock facts, and the periodic loop that hands
 * the judgement to the datapath.
 *
 * With `txtime.requireSyncedClock` the restorer must not write a txtime while the node's clock is
 * unsynchronised: a txtime is an instant on CLOCK_TAI, and etf/taprio compare it with a clock that
 * nobody disciplines. "Synchronised" is what the kernel says (adjtimex: not TIME_ERROR, STA_UNSYNC
 * clear, which chrony, ntpd and phc2sys maintain while locked), and, with
 * `txtime.maxPtpOffsetNs`, ptp4l's last offset to its master within that bound.
 *
 * The datapath side is a switch the restorer reads (see {@link ClockSwitch}); the BPF core decides
 * per packet and counts what it refused. Without the setting the switch is never set and the
 * restorer behaves as before.
 *
 * @example
 * ```ts
 * import { clockVerdict } from "./gate.ts";
 * const v = clockVerdict(
 *   { system: { error: "adjtimex: errno 1" }, phcs: [], linuxptp: [], ptp4l: null },
 *   { maxPtpOffsetNs: 0 },
 * );
 * console.log(v.synced, v.reasons); // false ["system clock unreadable: adjtimex: errno 1"]
 * ```
 */
import { type ClockFacts, isTimex } from "./probe.ts";
import { STA_UNSYNC } from "./timex.ts";

/** The bounds of {@link clockVerdict}. */
export interface ClockBounds {
  /** Largest |ptp4l master offset| in ns that counts as synchronised; 0: ptp4l not required. */
  readonly maxPtpOffsetNs: number;
}

/** Synchronised or not, and why not. */
export interface ClockVerdict {
  readonly synced: boolean;
  /** Empty when synced. */
  readonly reasons: readonly string[];
}

/** Judges the facts. Unknown counts as unsynchronised: refusing is the safe side. */
export function clockVerdict(f: ClockFacts, b: ClockBounds): ClockVerdict {
  const reasons: string[] = [];
  if (!isTimex(f.system)) {
    reasons.push(`system clock unreadable: ${f.system.error}`);
  } else if (!f.system.synchronized) {
    reasons.push(
      `system clock unsynchronised (adjtimex ${f.system.state}, STA_UNSYNC ` +
        `${f.system.status & STA_UNSYNC ? "set" : "clear"})`,
    );
  }
  if (b.maxPtpOffsetNs > 0) {
    if (f.ptp4l === null) reasons.push("no ptp4l runs");
    else if (!f.ptp4l.ok) reasons.push(f.ptp4l.reason);
    else if (Math.abs(f.ptp4l.status.masterOffsetNs) > b.maxPtpOffsetNs) {
      reasons.push(
        `ptp4l offset ${f.ptp4l.status.masterOffsetNs} ns exceeds ${b.maxPtpOffsetNs} ns`,
      );
    }
  }
  return { synced: reasons.length === 0, reasons };
}

/**
 * The datapath's view: the restorer reads a flag that says "refuse txtimes now". The BPF core
 * owns the flag (see docs/operations.md, "The clock behind the txtimes"); {@link mapClockSwitch}
 * writes it.
 */
export interface ClockSwitch {
  /** true: the restorer must not restore txtimes (it still restores priorities). */
  setRefuse(refuse: boolean): void;
}

/** What the gate reports to metrics and logs. */
export interface GateMetrics {
  /** The latest facts and verdict. */
  observe(facts: ClockFacts, verdict: ClockVerdict, refusing: boolean): void;
  /** A change between restoring and refusing. */
  transition(refusing: boolean): void;
}

/** Options of {@link ClockGate}. */
export interface ClockGateOptions {
  readonly probe: () => Promise<ClockFacts>;
  readonly bounds: ClockBounds;
  /** `txtime.requireSyncedClock`: without it the gate only observes. */
  readonly require: boolean;
  /** null: the datapath has no switch (yet); the gate observes and says so once. */
  readonly sink: ClockSwitch | null;
  readonly log: (msg: string, fields: Record<string, unknown>) => void;
  readonly metrics?: GateMetrics;
}

/**
 * Probes, judges and sets the switch; `run()` is called periodically by the agent. The switch is
 * written on every run (not only on change): a datapath brought up again starts with the flag
 * zeroed, and the next run restores the agent's decision. Transitions are logged once each.
 */
export class ClockGate {
  #refusing: boolean | null = null;
  #warnedUnwired = false;
  #running = false;

  constructor(readonly o: ClockGateOptions) {}

  /** Whether txtimes are being refused (null: not judged yet). */
  get refusing(): boolean | null {
    return this.#refusing;
  }

  /** One probe + decision. Overlapping calls are dropped (a slow pmc must not pile up). */
  async run(): Promise<ClockVerdict | null> {
    if (this.#running) return null;
    this.#running = true;
    try {
      const facts = await this.o.probe();
      const verdict = clockVerdict(facts, this.o.bounds);
      const refusing = this.o.require && !verdict.synced;
      if (this.o.require && this.o.sink === null && !this.#warnedUnwired) {
        this.#warnedUnwired = true;
        this.o.log(
          "WARNING txtime.requireSyncedClock is set but this datapath has no clock switch: " +
            "txtimes are restored whatever the clock",
          { event: "clock.switch_missing", level: "warn" },
        );
      }
      try {
        this.o.sink?.setRefuse(refusing);
      } catch (e) {
        this.o.log(`cannot set the clock switch: ${e instanceof Error ? e.message : e}`, {
          event: "clock.switch_failed",
          level: "error",
        });
      }
      if (refusing !== this.#refusing) {
        if (this.#refusing !== null || refusing) {
          this.o.log(
            refusing
              ? `clock unsynchronised: refusing txtimes (${verdict.reasons.join("; ")})`
              : "clock synchronised: restoring txtimes again",
            {
              event: refusing ? "clock.refusing" : "clock.restoring",
              level: refusing ? "warn" : "info",
              reasons: verdict.reasons,
            },
          );
          this.o.metrics?.transition(refusing);
        }
        this.#refusing = refusing;
      }
      this.o.metrics?.observe(facts, verdict, refusing);
      return verdict;
    } finally {
      this.#running = false;
    }
  }
}
