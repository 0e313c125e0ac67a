/**
 * Guard for the kernel tests: `deno run -A sim/require_root.ts` exits 1 unless run as root with a
 * bpffs mounted, so `deno task test:kernel` fails early with a reason instead of half-way.
 *
 * @module
 */

/** Why the kernel tests cannot run here, or null when they can. */
export function kernelTestBlocker(): string | null {
  if (Deno.uid() !== 0) return "kernel tests need root (netns, tc, bpftool)";
  try {
    Deno.statSync("/sys/fs/bpf");
  } catch {
    return "no /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf";
  }
  return null;
}

/** Throws the reason when the kernel tests cannot run: they fail, never skip. */
export function requireKernelTests(): void {
  const why = kernelTestBlocker();
  if (why) throw new Error(why);
}

if (import.meta.main) {
  const why = kernelTestBlocker();
  if (why) {
    console.error(why);
    Deno.exit(1);
  }
}
