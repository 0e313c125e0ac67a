/**
 * How the project starts a Deno script of its own workspace in a child process (a talker inside a
 * pod netns, a flood sender, a guest scenario): from deno.lock and the local cache only. A pod netns
 * has no route to a registry, so a child that tried to resolve or download npm packages would hang
 * or fail there. `./dev setup` installs every locked package once (`deno install --frozen`); after
 * it, `--cached-only` finds everything, and without it the child fails at once with Deno's
 * "--cached-only is specified" error, which {@linkcode offlineHint} turns into advice.
 *
 * @example
 * ```ts
 * import { denoRunArgv } from "./deno_run.ts";
 * const argv = denoRunArgv("/repo/sim/talkers/txtime_sender.ts", "--help");
 * console.log(argv.includes("--cached-only")); // true
 * ```
 *
 * @module
 */

/** Flags every workspace child runs with: the lock as committed, packages from the cache only. */
const OFFLINE_RUN_FLAGS: readonly string[] = ["--cached-only", "--frozen"];

/** argv of `deno run -A` of a workspace script (the lock is found from the script's folder). */
export function denoRunArgv(script: string, ...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", "--quiet", ...OFFLINE_RUN_FLAGS, script, ...args];
}

/** Advice for a child's stderr that shows a package missing from the cache or a stale lock, else "". */
export function offlineHint(stderr: string): string {
  return /--cached-only is specified|not found in cache|lockfile is out of date/.test(stderr)
    ? "tsn-proxy: Deno packages are missing from the local cache or deno.lock is stale: run " +
      "`./dev setup` (it installs them from deno.lock; nothing after it uses the network)"
    : "";
}
