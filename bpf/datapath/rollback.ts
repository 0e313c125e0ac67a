/**
 * Undo steps for multi-step kernel changes: each step registers how to undo itself, and a failure
 * undoes what was done in reverse order, so nothing is left half-attached.
 *
 * @example
 * ```ts
 * import { Rollback } from "./rollback.ts";
 * const rb = new Rollback();
 * rb.push("remove pin", () => {});
 * rb.commit(); // success: keep everything
 * ```
 */
export class Rollback {
  #undo: { what: string; fn: () => void }[] = [];

  /** Registers the undo of a step that just succeeded. */
  push(what: string, fn: () => void): void {
    this.#undo.push({ what, fn });
  }

  /** Keeps every change: the undo list is dropped. */
  commit(): void {
    this.#undo = [];
  }

  /**
   * Undoes every registered step, newest first; an undo that fails does not stop the others.
   * Returns the failures as messages.
   */
  undo(): string[] {
    const failures: string[] = [];
    for (const step of this.#undo.reverse()) {
      try {
        step.fn();
      } catch (e) {
        failures.push(`${step.what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.#undo = [];
    return failures;
  }

  /** Runs `fn`; if it throws, undoes everything registered and rethrows (with undo failures). */
  static run<T>(fn: (rb: Rollback) => T): T {
    const rb = new Rollback();
    try {
      const out = fn(rb);
      rb.commit();
      return out;
    } catch (e) {
      const failures = rb.undo();
      if (failures.length && e instanceof Error) {
        e.message += `\n(rollback incomplete: ${failures.join("; ")})`;
      }
      throw e;
    }
  }
}
