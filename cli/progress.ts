/**
 * Progress of a long command on stderr: numbered steps with the time since the start, and on a
 * terminal a live line (spinner + text) that the next step or note replaces. Off a terminal (CI
 * logs, tests) only the step lines are written, one per line, so logs stay readable.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const lines: string[] = [];
 * const p = new Progress(2, { write: (s) => lines.push(s), tty: false, now: () => 0 });
 * p.step("building");
 * p.step("running");
 * p.done();
 * console.log(lines.join("")); // "[1/2   0.0s] building\n[2/2   0.0s] running\n"
 * ```
 */

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Where and how progress is written. */
export interface ProgressOptions {
  /** Writes raw text (default: stderr). */
  readonly write?: (text: string) => void;
  /** Live line updates (default: stderr is a terminal). */
  readonly tty?: boolean;
  /** Milliseconds clock (default performance.now). */
  readonly now?: () => number;
  /** Write nothing (--json users may still want progress; quiet is for embedding). */
  readonly quiet?: boolean;
}

function stderrWriter(): (text: string) => void {
  const enc = new TextEncoder();
  return (text) => {
    try {
      Deno.stderr.writeSync(enc.encode(text));
    } catch { /* stderr closed: progress is best effort */ }
  };
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** A step counter with an optional live line. */
export class Progress {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #t0: number;
  #step = 0;
  #live = false;
  #frame = 0;

  constructor(readonly total: number, o: ProgressOptions = {}) {
    this.#write = o.quiet ? () => {} : (o.write ?? stderrWriter());
    this.#tty = o.tty ?? stderrIsTerminal();
    this.#now = o.now ?? (() => performance.now());
    this.#t0 = this.#now();
  }

  /** Seconds since the start, formatted. */
  elapsed(): string {
    return ((this.#now() - this.#t0) / 1000).toFixed(1);
  }

  #clearLive(): void {
    if (this.#live) this.#write("\r\x1b[2K");
    this.#live = false;
  }

  /** Starts the next step. */
  step(msg: string): void {
    this.#clearLive();
    this.#step = Math.min(this.#step + 1, this.total);
    const n = `${this.#step}/${this.total}`.padStart(String(this.total).length * 2 + 1);
    this.#write(`[${n} ${this.elapsed().padStart(5)}s] ${msg}\n`);
  }

  /** A line that is not a step (a warning, the interrupt notice). */
  note(msg: string): void {
    this.#clearLive();
    this.#write(`${msg}\n`);
  }

  /** Replaces the live line (terminal only; ignored elsewhere). */
  tick(text: string): void {
    if (!this.#tty) return;
    const spin = SPINNER[this.#frame++ % SPINNER.length];
    this.#write(`\r\x1b[2K        ${spin} ${text}`);
    this.#live = true;
  }

  /** Ends the live line. */
  done(): void {
    this.#clearLive();
  }
}
