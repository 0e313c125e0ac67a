/**
 * @module
 * Boots one kernel + initramfs under QEMU with the 9p share, streams the serial console, parses
 * the TSNLAB protocol and enforces a timeout (QEMU is killed). The guest has no network device at
 * all (it builds its own veths). KVM is used only when a probe boot under KVM proved that it works
 * with stock kernels on this host (on the project's VMs /dev/kvm is a PVM device they cannot use);
 * otherwise TCG: `-accel tcg,thread=multi -cpu max`.
 *
 * @example
 * ```ts ignore
 * import { boot } from "./qemu.ts";
 * const r = await boot({ kernel, initramfs: img.path, share: share.dir, accel: "tcg",
 *   vars: { lab_script: "/lab/repo/lab/guest/run.sh", lab_scenarios: "kernel-info" }, timeoutMs: 90_000 });
 * console.log(r.summary.done, r.exitCode);
 * ```
 */
import type { UnpackedKernel } from "./kernels.ts";
import { type LabEvent, type RunSummary, SerialParser } from "./protocol.ts";
import { cacheDir, run } from "./util.ts";

/** The QEMU accelerator. */
export type Accel = "tcg" | "kvm";

/** Options of {@link boot}. */
export interface BootOptions {
  readonly kernel: UnpackedKernel;
  readonly initramfs: string;
  /** Host folder shared read-only as tag `lab`; omit for no share. */
  readonly share?: string;
  /** key=value words for the kernel command line (they reach /init as environment variables). */
  readonly vars?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly accel: Accel;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /**
   * Possible CPUs: QEMU gets N vCPUs (`-smp N`) and the caller's kernel command line keeps all but
   * `cpus` of them down (`maxcpus=`): per-CPU maps and loops see N.
   */
  readonly maxCpus?: number;
  /** Called with every cleaned serial line as it arrives. */
  readonly onLine?: (line: string) => void;
  /** Called with every protocol event as it arrives. */
  readonly onEvent?: (event: LabEvent, atMs: number) => void;
  /** After the `done` line, how long QEMU may take to power off before it is killed. */
  readonly graceMs?: number;
}

/** What one boot gave. */
export interface BootResult {
  readonly summary: RunSummary;
  /** The whole serial log (cleaned lines). */
  readonly log: string;
  readonly lines: readonly string[];
  /** QEMU's own stderr. */
  readonly stderr: string;
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** Host milliseconds from QEMU start to each first event kind, and to QEMU's exit. */
  readonly timings: {
    readonly initMs?: number;
    readonly readyMs?: number;
    readonly doneMs?: number;
    readonly exitMs: number;
  };
  readonly argv: readonly string[];
}

const WORD = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VALUE = /^[A-Za-z0-9_.,:/@+=~-]*$/;

/** The kernel command line: serial console, panic -> exit, quiet console, then the vars. */
export function kernelCmdline(vars: Readonly<Record<string, string>> = {}): string {
  const words = ["console=ttyS0", "panic=-1", "loglevel=4", "rdinit=/init"];
  for (const [k, v] of Object.entries(vars)) {
    if (!WORD.test(k) || !VALUE.test(v)) {
      throw new Error(
        `kernel command line word ${k}=${v} must be [A-Za-z0-9_] = [A-Za-z0-9_.,:/@+=~-]*`,
      );
    }
    words.push(`${k}=${v}`);
  }
  const line = words.join(" ");
  if (line.length > 2000) throw new Error(`kernel command line too long (${line.length} bytes)`);
  return line;
}

/** QEMU's argument vector for a boot. */
export function qemuArgs(o: {
  kernel: string;
  initramfs: string;
  share?: string | undefined;
  cmdline: string;
  accel: Accel;
  memoryMb: number;
  cpus: number;
  maxCpus?: number | undefined;
}): string[] {
  const accel = o.accel === "kvm"
    ? ["-accel", "kvm", "-cpu", "host"]
    : ["-accel", "tcg,thread=multi", "-cpu", "max"];
  return [
    ...accel,
    "-smp",
    String(o.maxCpus ?? o.cpus),
    "-m",
    String(o.memoryMb),
    "-nographic",
    "-monitor",
    "none",
    "-no-reboot",
    "-nic",
    "none",
    "-kernel",
    o.kernel,
    "-initrd",
    o.initramfs,
    "-append",
    o.cmdline,
    ...(o.share
      ? ["-virtfs", `local,path=${o.share},mount_tag=lab,security_model=none,readonly=on`]
      : []),
  ];
}

/** Boots once and returns what the serial console said. Never throws for guest failures. */
export async function boot(opts: BootOptions): Promise<BootResult> {
  const argv = qemuArgs({
    kernel: opts.kernel.vmlinuz,
    initramfs: opts.initramfs,
    share: opts.share,
    cmdline: kernelCmdline(opts.vars),
    accel: opts.accel,
    memoryMb: opts.memoryMb ?? 512,
    cpus: opts.cpus ?? 2,
    maxCpus: opts.maxCpus,
  });
  const start = performance.now();
  const since = () => Math.round(performance.now() - start);
  const child = new Deno.Command("qemu-system-x86_64", {
    args: argv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, opts.timeoutMs);
  let grace: ReturnType<typeof setTimeout> | undefined;
  const parser = new SerialParser();
  const timings: { initMs?: number; readyMs?: number; doneMs?: number } = {};
  const handle = (events: LabEvent[], lineFrom: number) => {
    for (let i = lineFrom; i < parser.lines.length; i++) opts.onLine?.(parser.lines[i] ?? "");
    for (const ev of events) {
      const at = since();
      if (ev.event === "init") timings.initMs ??= at;
      if (ev.event === "ready") timings.readyMs ??= at;
      if (ev.event === "done") {
        timings.doneMs ??= at;
        grace ??= setTimeout(kill, opts.graceMs ?? 20_000);
      }
      opts.onEvent?.(ev, at);
    }
  };
  const stderrText = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    const before = parser.lines.length;
    handle(parser.push(decoder.decode(chunk, { stream: true })), before);
  }
  const before = parser.lines.length;
  handle([...parser.push(decoder.decode()), ...parser.end()], before);
  const status = await child.status;
  clearTimeout(timer);
  if (grace !== undefined) clearTimeout(grace);
  return {
    summary: parser.summary(),
    log: parser.lines.join("\n"),
    lines: parser.lines,
    stderr: await stderrText,
    exitCode: status.code,
    timedOut,
    timings: { ...timings, exitMs: since() },
    argv,
  };
}

/**
 * Chooses the accelerator: `TSNLAB_ACCEL=tcg|kvm` forces one; otherwise KVM only if /dev/kvm is
 * there and a probe boot of this kernel under KVM reached /init. The verdict is cached per host
 * kernel and QEMU version in `.cache/lab/accel.json`.
 */
export async function chooseAccel(kernel: UnpackedKernel, initramfs: string): Promise<Accel> {
  const forced = Deno.env.get("TSNLAB_ACCEL");
  if (forced === "tcg" || forced === "kvm") return forced;
  if (!(await Deno.stat("/dev/kvm").catch(() => null))) return "tcg";
  const host = `${Deno.osRelease()} ${
    (await run("qemu-system-x86_64", ["--version"])).split("\n")[0]
  }`;
  const path = `${cacheDir()}/accel.json`;
  const cache = await Deno.readTextFile(path).then((t) => JSON.parse(t) as Record<string, Accel>)
    .catch(() => ({} as Record<string, Accel>));
  const key = `${host} ${kernel.pin.id}`;
  const known = cache[key];
  if (known) return known;
  const probe = await boot({ kernel, initramfs, accel: "kvm", timeoutMs: 30_000, vars: {} });
  const accel: Accel = probe.summary.init ? "kvm" : "tcg";
  cache[key] = accel;
  await Deno.mkdir(cacheDir(), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(cache, null, 2) + "\n");
  return accel;
}
