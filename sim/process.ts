/**
 * Child processes for the simulator: one-shot commands with a timeout, and long-running ones
 * (captures, receivers, talkers) whose output is pumped in the background and which are stopped by
 * their own pid and the pids of their own descendants, never by name.
 *
 * @module
 */
import { offlineHint } from "./deno_run.ts";

/** Raised when a command exits non-zero (or is killed) and the caller did not allow it. */
export class CommandError extends Error {
  /** @param cmd the argv that ran; @param code its exit code; @param stderr what it printed. */
  constructor(readonly cmd: readonly string[], readonly code: number, readonly stderr: string) {
    const hint = offlineHint(stderr);
    super(`command failed (${code}): ${cmd.join(" ")}\n${stderr.trim()}${hint ? `\n${hint}` : ""}`);
    this.name = "CommandError";
  }
}

/** Options of {@linkcode exec}. */
export interface ExecOptions {
  /** Bytes or text written to the command's stdin, which is then closed. */
  stdin?: string | Uint8Array;
  /** Kill the command (SIGKILL) after this long; default 20 s. */
  timeoutMs?: number;
  /** Return a failed result instead of throwing {@linkcode CommandError}. */
  allowFail?: boolean;
  /** Working directory. */
  cwd?: string;
}

/** What a finished command left behind. */
export interface ExecResult {
  /** Exit code; 128 + signal number when killed. */
  code: number;
  /** True when code is 0. */
  success: boolean;
  /** Captured stdout as text. */
  stdout: string;
  /** Captured stderr as text. */
  stderr: string;
}

const decoder = new TextDecoder();

/** Runs argv to completion in the caller's namespaces and returns its output. */
export async function exec(cmd: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [program, ...args] = cmd;
  if (program === undefined) throw new Error("exec: empty command");
  const child = new Deno.Command(program, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
  }).spawn();
  const timeoutMs = opts.timeoutMs ?? 20_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  try {
    if (opts.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      const data = typeof opts.stdin === "string"
        ? new TextEncoder().encode(opts.stdin)
        : opts.stdin;
      try {
        await writer.write(data);
        await writer.close();
      } catch {
        // The command exited without reading its input: its status tells the story.
      }
    }
    const out = await child.output();
    const code = out.signal === null ? out.code : 128 + signalNumber(out.signal);
    const result: ExecResult = {
      code,
      success: out.success,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr) + (timedOut ? `\n(killed after ${timeoutMs} ms)` : ""),
    };
    if (!result.success && !opts.allowFail) throw new CommandError(cmd, code, result.stderr);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

function signalNumber(sig: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };
  return numbers[sig] ?? 0;
}

/** Options of {@linkcode spawn}. */
export interface SpawnOptions {
  /** "piped" to write with {@linkcode Proc.write}; default "null". */
  stdin?: "piped" | "null";
  /** Called with every stdout chunk (the text is also kept, up to a bound). */
  onStdout?: (chunk: Uint8Array) => void;
}

const KEEP_MAX = 1 << 20;

/** A long-running child process with its output pumped into memory. */
export class Proc {
  /** The child's pid. */
  readonly pid: number;
  /** Resolves when the child has exited and its output is drained. */
  readonly finished: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #out: Uint8Array = new Uint8Array(0);
  #err: Uint8Array = new Uint8Array(0);
  #outBytes = 0;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #exited: Deno.CommandStatus | null = null;
  #waiters: Array<() => void> = [];
  #stopping: Promise<Deno.CommandStatus> | null = null;

  /** Starts argv; see {@linkcode spawn}. */
  constructor(readonly cmd: readonly string[], opts: SpawnOptions = {}) {
    const [program, ...args] = cmd;
    if (program === undefined) throw new Error("spawn: empty command");
    this.#child = new Deno.Command(program, {
      args,
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    if (opts.stdin === "piped") this.#writer = this.#child.stdin.getWriter();
    const pumpOut = this.#pump(this.#child.stdout, (c) => {
      this.#outBytes += c.length;
      opts.onStdout?.(c);
      this.#out = append(this.#out, c);
    });
    const pumpErr = this.#pump(this.#child.stderr, (c) => {
      this.#err = append(this.#err, c);
    });
    this.finished = Promise.all([this.#child.status, pumpOut, pumpErr]).then(([status]) => {
      this.#exited = status;
      this.#notify();
      return status;
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>, sink: (c: Uint8Array) => void): Promise<void> {
    for await (const chunk of stream) {
      sink(chunk);
      this.#notify();
    }
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** True once the child has exited. */
  get exited(): boolean {
    return this.#exited !== null;
  }

  /** Everything read from stdout so far (the first 1 MiB). */
  get stdout(): string {
    return decoder.decode(this.#out);
  }

  /** Everything read from stderr so far (the first 1 MiB). */
  get stderr(): string {
    return decoder.decode(this.#err);
  }

  /** Number of stdout bytes read so far (not bounded). */
  get stdoutBytes(): number {
    return this.#outBytes;
  }

  /** Waits until pred() holds (checked on every output chunk and at exit), at most timeoutMs. */
  async until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.exited) return pred();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, Math.min(left, 50));
      });
      clearTimeout(timer);
    }
    return true;
  }

  /** Waits until stderr (or stdout) contains text; throws with the output on timeout or exit. */
  async waitForText(text: string, timeoutMs: number, stream: "stdout" | "stderr" = "stderr") {
    const found = () => (stream === "stderr" ? this.stderr : this.stdout).includes(text);
    if (!(await this.until(found, timeoutMs))) {
      throw new Error(
        `${this.cmd.join(" ")}: no "${text}" within ${timeoutMs} ms` +
          (this.exited ? " (exited)" : "") + `\n${this.stderr.trim()}`,
      );
    }
  }

  /** Writes to stdin (spawned with stdin "piped"). */
  async write(data: Uint8Array): Promise<void> {
    if (!this.#writer) throw new Error("write: stdin not piped");
    await this.#writer.write(data);
  }

  /** Closes stdin; harmless when it is not piped or already closed. */
  async closeStdin(): Promise<void> {
    const w = this.#writer;
    this.#writer = null;
    if (!w) return;
    try {
      await w.close();
    } catch { /* reader gone */ }
  }

  /** Waits for exit at most timeoutMs; on timeout stops the process and throws. */
  async wait(timeoutMs: number): Promise<Deno.CommandStatus> {
    if (await this.until(() => this.exited, timeoutMs)) return await this.finished;
    await this.stop();
    throw new Error(
      `${this.cmd.join(" ")}: still running after ${timeoutMs} ms, stopped\n` +
        this.stderr.trim(),
    );
  }

  /**
   * Stops the process and its descendants: SIGTERM to each by pid, SIGKILL after graceMs.
   * Idempotent; resolves when the output is drained.
   */
  stop(graceMs = 1000): Promise<Deno.CommandStatus> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<Deno.CommandStatus> {
    await this.closeStdin();
    if (!this.exited) {
      const pids = [...await descendants(this.pid), this.pid];
      signal(pids, "SIGTERM");
      if (!(await this.until(() => this.exited, graceMs))) {
        signal([...await descendants(this.pid), this.pid], "SIGKILL");
      } else {
        // Descendants (e.g. socat's forked children) may outlive their parent briefly.
        signal(pids.filter((p) => p !== this.pid), "SIGKILL");
      }
    }
    return await this.finished;
  }
}

/** Starts a long-running argv in the caller's namespaces. */
export function spawn(cmd: readonly string[], opts: SpawnOptions = {}): Proc {
  return new Proc(cmd, opts);
}

function append(buf: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (buf.length >= KEEP_MAX) return buf;
  const take = chunk.subarray(0, KEEP_MAX - buf.length);
  const out = new Uint8Array(buf.length + take.length);
  out.set(buf);
  out.set(take, buf.length);
  return out;
}

function signal(pids: number[], sig: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, sig);
    } catch { /* already gone */ }
  }
}

/** The pids of pid's descendants (children first), read from /proc; empty when it is gone. */
export async function descendants(pid: number, depth = 0): Promise<number[]> {
  if (depth > 8) return [];
  const out: number[] = [];
  let tids: string[] = [];
  try {
    for await (const e of Deno.readDir(`/proc/${pid}/task`)) tids.push(e.name);
  } catch {
    return out;
  }
  tids = tids.slice(0, 256);
  for (const tid of tids) {
    let text = "";
    try {
      text = await Deno.readTextFile(`/proc/${pid}/task/${tid}/children`);
    } catch {
      continue;
    }
    for (const word of text.split(/\s+/)) {
      const child = Number(word);
      if (word && Number.isInteger(child)) {
        out.push(child, ...await descendants(child, depth + 1));
      }
    }
  }
  return out;
}

/** Sleeps ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs fn with this process, and the children it starts meanwhile, confined to CPU 0. The slab
 * recycles a freed sk_buff on the CPU that freed it: with flood and talkers together, the keys of
 * leftover records really come back on later packets (the case the fingerprint guard exists for).
 */
export async function onOneCpu<T>(fn: () => Promise<T>): Promise<T> {
  const all = `0-${navigator.hardwareConcurrency - 1}`;
  await exec(["taskset", "-a", "-p", "-c", "0", String(Deno.pid)]);
  try {
    return await fn();
  } finally {
    await exec(["taskset", "-a", "-p", "-c", all, String(Deno.pid)]);
  }
}
