/**
 * Keeps tsn-proxy's entry in the node's primary CNI config, whatever else writes to the conf dir.
 *
 * - It watches the whole directory, not one file: primary CNIs replace their file by rename
 *   (a watch on the old inode goes silent), install under new names, or a new CNI's file sorts
 *   first and becomes the primary.
 * - It checks once more after the watch is set up (a change between the first read and the watch
 *   would otherwise be missed) and every `resyncIntervalMs` (a directory that is itself replaced
 *   loses its watch).
 * - The primary is the lexically first valid file, as kubelet/containerd/CRI-O choose it; a lone
 *   `.conf` is wrapped into a `.conflist` (and the `.conf` removed, else it would stay first).
 * - Old tsn-proxy entries are removed before the entry is appended; entries in files that are no
 *   longer primary are removed.
 * - Writes are atomic (temp file outside libcni's extensions + rename) and keep the file's mode.
 * - A lone `.conf` whose `.conflist` name is taken by another file is not wrapped (that file would
 *   be overwritten), nor one without a `name` (libcni refuses a list without one): the node is
 *   reported not ready with the reason.
 * - Rewrites of one file are rate-limited; when something keeps reverting the file (a primary CNI
 *   that owns the directory), the interval backs off (up to `maxBackoffMs`, 1.5 s by default:
 *   while the entry is missing, new opted-in pods start without a saver) and a warning says what
 *   to change.
 *
 * @example
 * ```ts ignore
 * import { ConfReconciler } from "./reconciler.ts";
 * const r = new ConfReconciler({ confDir: "/etc/cni/net.d", entry, log: console.log });
 * await r.start();
 * ```
 */
import { join } from "node:path";
import {
  type ConfList,
  deepEqual,
  entryCount,
  hasEntryInPlace,
  isConfName,
  pickPrimary,
  renderList,
  targetName,
  type ValidConf,
  withEntry,
  withoutEntry,
} from "./conflist.ts";
import { compareVersions } from "@tsn-proxy/cni";
import type { Log } from "./log.ts";

/** Counters the reconciler feeds. */
export interface ReconcilerMetrics {
  rewrite(reason: string): void;
  conflict(file: string): void;
  error(): void;
}

/** Options of {@link ConfReconciler}. */
export interface ReconcilerOptions {
  readonly confDir: string;
  /** The entry to keep in place. */
  readonly entry: Record<string, unknown>;
  /** Minimum time between two writes of one file (ms); default 1000. */
  readonly minRewriteIntervalMs?: number;
  /** Periodic re-check (ms); default 30000. */
  readonly resyncIntervalMs?: number;
  /** Reverts within this window count together (ms); default 60000. */
  readonly conflictWindowMs?: number;
  /** Reverts in the window before backing off and warning; default 3. */
  readonly conflictThreshold?: number;
  /**
   * Longest back-off (ms); default 1500. Kept short: while the entry is missing, opted-in pods
   * that start get no saver, whereas a write per second costs next to nothing.
   */
  readonly maxBackoffMs?: number;
  readonly log: Log;
  readonly metrics?: ReconcilerMetrics;
  /**
   * Where the primary's own bytes are kept when the entry is added (one file per conf name), so
   * that uninstall gives back exactly that file when nothing but the entry changed since: a
   * rendering of the same JSON is another file to checksums, config managers and the primary.
   */
  readonly originalsDir?: string;
}

/** The outcome of one pass. */
export type PassResult =
  | { readonly state: "in-place"; readonly file: string }
  | { readonly state: "written"; readonly file: string; readonly reason: string }
  | { readonly state: "throttled"; readonly file: string; readonly retryInMs: number }
  | { readonly state: "no-primary" | "unusable"; readonly reason: string };

/** The hint printed when a primary CNI keeps removing the entry. */
export const REVERT_HINT = "something keeps rewriting the primary CNI config and removing the " +
  "tsn-proxy entry. If the primary CNI is Cilium, set cni.exclusive=false (Helm value; " +
  "agent flag --cni-exclusive=false) so it leaves other plugins' configuration alone; other CNIs " +
  "have similar settings (e.g. a chaining mode).";

const DEBOUNCE_MS = 50;

/** The reconciler. */
export class ConfReconciler {
  readonly #o: Required<Omit<ReconcilerOptions, "metrics" | "originalsDir">> & {
    metrics?: ReconcilerMetrics;
    originalsDir?: string;
  };
  #written = new Map<string, number>();
  #lastWrite = new Map<string, number>();
  #conflicts = new Map<string, number[]>();
  #warnedAt = new Map<string, number>();
  #revertSeen = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resync: ReturnType<typeof setInterval> | undefined;
  #watcher: Deno.FsWatcher | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #stopped = false;
  #last: PassResult = { state: "no-primary", reason: "not checked yet" };
  /** Completed passes (for tests and metrics). */
  passes = 0;

  constructor(opts: ReconcilerOptions) {
    this.#o = {
      minRewriteIntervalMs: 1000,
      resyncIntervalMs: 30_000,
      conflictWindowMs: 60_000,
      conflictThreshold: 3,
      maxBackoffMs: 1500,
      ...opts,
    };
  }

  /** The last pass's outcome. */
  get last(): PassResult {
    return this.#last;
  }

  /** True when the entry is in place in the primary config. */
  get inPlace(): boolean {
    return this.#last.state === "in-place" || this.#last.state === "written";
  }

  /** Why the entry is not in place, or null. */
  notReadyReason(): string | null {
    const l = this.#last;
    if (l.state === "in-place" || l.state === "written") return null;
    if (l.state === "throttled") return `rewrite of ${l.file} throttled (reverted repeatedly)`;
    return l.reason;
  }

  async #readDir(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    for await (const e of Deno.readDir(this.#o.confDir)) {
      if (e.isDirectory || !isConfName(e.name)) continue;
      try {
        files.set(e.name, await Deno.readTextFile(join(this.#o.confDir, e.name)));
      } catch {
        // Removed or replaced between readDir and read: the watch brings us back.
      }
    }
    return files;
  }

  async #write(name: string, list: ConfList | string, modeOf: string): Promise<void> {
    const dir = this.#o.confDir;
    let mode = 0o644;
    try {
      mode = (await Deno.stat(join(dir, modeOf))).mode! & 0o7777;
    } catch { /* new file: default mode */ }
    // A hidden temp name without a CNI extension: libcni never loads a half-written file.
    const tmp = join(dir, `.${name}.tsn-proxy-tmp`);
    await Deno.writeTextFile(tmp, typeof list === "string" ? list : renderList(list), { mode });
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, join(dir, name));
    this.#lastWrite.set(name, Date.now());
  }

  /**
   * True when `target` (the list a lone `.conf` would be wrapped into) exists and is not an
   * earlier wrap of that same config (one plugin of the same network name and type, with or
   * without the entry), which may be replaced.
   */
  async #taken(target: string, conf: ValidConf, valid: readonly ValidConf[]): Promise<boolean> {
    try {
      await Deno.lstat(join(this.#o.confDir, target));
    } catch {
      return false;
    }
    const old = valid.find((v) => v.name === target);
    if (!old || old.kind !== "conflist") return true;
    const rest = withoutEntry(old.list).plugins;
    return !(rest.length === 1 && old.list.name === conf.list.name &&
      rest[0]?.type === conf.list.plugins[0]?.type);
  }

  #recentConflicts(file: string, now: number): number {
    const list = (this.#conflicts.get(file) ?? []).filter((t) =>
      now - t < this.#o.conflictWindowMs
    );
    this.#conflicts.set(file, list);
    return list.length;
  }

  #interval(file: string, now: number): number {
    const n = this.#recentConflicts(file, now);
    const over = n - this.#o.conflictThreshold;
    if (over < 0) return this.#o.minRewriteIntervalMs;
    return Math.min(this.#o.maxBackoffMs, this.#o.minRewriteIntervalMs * 2 ** (over + 1));
  }

  /** One pass over the directory. Passes never overlap. */
  reconcileOnce(): Promise<PassResult> {
    const p = this.#running.then(() => this.#pass());
    this.#running = p.catch(() => {});
    return p;
  }

  async #pass(): Promise<PassResult> {
    try {
      this.#last = await this.#passInner();
    } catch (e) {
      this.#o.metrics?.error();
      this.#last = { state: "unusable", reason: `conf dir error: ${(e as Error).message}` };
      this.#o.log(`reconciler: ${this.#last.reason}`, {
        event: "conf.error",
        level: "error",
        dir: this.#o.confDir,
        error: (e as Error).message,
      });
    }
    this.passes++;
    return this.#last;
  }

  async #passInner(): Promise<PassResult> {
    const { entry } = this.#o;
    const files = await this.#readDir();
    const { primary, valid } = pickPrimary(files);

    // Entries left in files that are no longer primary (the primary changed) go away; not from
    // the list a lone primary .conf is about to be wrapped into (it is rewritten below anyway).
    const wrapTarget = primary?.kind === "conf" ? targetName(primary) : undefined;
    for (const v of valid) {
      if (
        v === primary || v.name === wrapTarget || v.kind !== "conflist" ||
        withoutEntry(v.list).plugins.length === v.list.plugins.length
      ) continue;
      await this.#write(v.name, withoutEntry(v.list), v.name);
      this.#o.metrics?.rewrite("remove-from-non-primary");
      this.#o.log(`reconciler: removed the tsn-proxy entry from ${v.name} (not primary)`, {
        event: "conf.removed",
        file: v.name,
        primary: primary?.name ?? null,
        reason: "not-primary",
      });
    }

    if (!primary) {
      return { state: "no-primary", reason: `no valid CNI config in ${this.#o.confDir}` };
    }
    if (compareVersions(primary.cniVersion || "0.0.0", "0.3.0") < 0) {
      return {
        state: "unusable",
        reason: `${primary.name} has cniVersion "${primary.cniVersion}": chaining needs >= 0.3.0`,
      };
    }
    if (primary.kind === "conflist" && hasEntryInPlace(primary.list, entry)) {
      return { state: "in-place", file: primary.name };
    }

    const now = Date.now();
    const reverted = this.#written.has(primary.name);
    if (reverted && !this.#revertSeen.has(primary.name)) {
      // We wrote this file and the entry is gone again: someone else rewrote it. Counted once per
      // write of ours, not once per pass (throttled passes see the same revert again).
      this.#revertSeen.add(primary.name);
      (this.#conflicts.get(primary.name) ??
        this.#conflicts.set(primary.name, []).get(primary.name)!)
        .push(now);
      this.#o.metrics?.conflict(primary.name);
      const n = this.#recentConflicts(primary.name, now);
      this.#o.log(
        `reconciler: the tsn-proxy entry was removed from ${primary.name} by someone else`,
        {
          event: "conf.conflict",
          level: "warn",
          file: primary.name,
          primaryType: String(primary.list.plugins[0]?.type ?? ""),
          reverts: n,
          windowMs: this.#o.conflictWindowMs,
        },
      );
      if (n >= this.#o.conflictThreshold) {
        const warned = this.#warnedAt.get(primary.name) ?? 0;
        if (now - warned > this.#o.conflictWindowMs) {
          this.#warnedAt.set(primary.name, now);
          this.#o.log(
            `reconciler: WARNING ${primary.name} reverted ${n} times in ` +
              `${Math.round(this.#o.conflictWindowMs / 1000)} s: ${REVERT_HINT}`,
            { event: "conf.backoff", level: "warn", file: primary.name, reverts: n },
          );
        }
      }
    }
    const last = this.#lastWrite.get(primary.name) ?? this.#lastWrite.get(targetName(primary));
    const interval = this.#interval(primary.name, now);
    if (last !== undefined && now - last < interval) {
      return { state: "throttled", file: primary.name, retryInMs: interval - (now - last) };
    }

    const target = targetName(primary);
    if (primary.kind === "conf" && primary.list.name === "") {
      // libcni loads a lone config without a name, but not a list without one: wrapping it would
      // take the node's network away.
      return {
        state: "unusable",
        reason: `${primary.name} has no "name": it cannot be wrapped into a list for tsn-proxy`,
      };
    }
    if (target !== primary.name && await this.#taken(target, primary, valid)) {
      return {
        state: "unusable",
        reason: `${primary.name} is a lone config; wrapping it into a list would overwrite ` +
          `${target}, which exists: remove or rename one of them`,
      };
    }
    const reason = primary.kind === "conf" ? "wrap-conf" : reverted ? "reverted" : "missing-entry";
    const original = files.get(primary.name);
    if (target === primary.name && entryCount(primary.list) === 0 && original !== undefined) {
      await this.#saveOriginal(primary.name, original);
    }
    await this.#write(target, withEntry(primary.list, entry), primary.name);
    if (target !== primary.name) {
      await Deno.remove(join(this.#o.confDir, primary.name)).catch(() => {});
    }
    this.#written.set(primary.name, now);
    this.#written.set(target, now);
    this.#revertSeen.delete(primary.name);
    this.#revertSeen.delete(target);
    this.#lastWrite.set(primary.name, now);
    this.#o.metrics?.rewrite(reason);
    this.#o.log(
      `reconciler: ${
        primary.kind === "conf" ? `wrapped ${primary.name} into ${target} and ` : ""
      }` +
        `placed the tsn-proxy entry in ${target} (${reason})`,
      {
        event: "conf.rewrite",
        file: target,
        ...(target !== primary.name ? { wrapped: primary.name } : {}),
        primaryType: String(primary.list.plugins[0]?.type ?? ""),
        reason,
      },
    );
    return { state: "written", file: target, reason };
  }

  #schedule(delayMs = DEBOUNCE_MS): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      const r = await this.reconcileOnce();
      if (r.state === "throttled") this.#schedule(r.retryInMs + 1);
    }, delayMs);
  }

  /** Creates the dir if needed, starts the watch, then checks (after the watch is up). */
  async start(): Promise<PassResult> {
    await Deno.mkdir(this.#o.confDir, { recursive: true });
    this.#watch();
    this.#resync = setInterval(() => this.#schedule(0), this.#o.resyncIntervalMs);
    const r = await this.reconcileOnce();
    if (r.state === "throttled") this.#schedule(r.retryInMs + 1);
    return r;
  }

  #watch(): void {
    if (this.#stopped) return;
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(this.#o.confDir, { recursive: false });
    } catch (e) {
      this.#o.log(`reconciler: cannot watch ${this.#o.confDir}: ${(e as Error).message}`, {
        event: "conf.watch_failed",
        level: "warn",
        dir: this.#o.confDir,
      });
      setTimeout(() => this.#watch(), 1000);
      return;
    }
    this.#watcher = watcher;
    (async () => {
      try {
        for await (const ev of watcher) {
          // Our own temp files and renames come back as events too; a pass over an unchanged
          // directory is a no-op.
          if (ev.paths.every((p) => p.endsWith(".tsn-proxy-tmp"))) continue;
          this.#schedule();
        }
      } catch { /* closed */ }
      if (!this.#stopped) {
        // The directory went away or was replaced: watch again when it is back.
        setTimeout(() => {
          Deno.mkdir(this.#o.confDir, { recursive: true }).catch(() => {}).then(() => {
            this.#watch();
            this.#schedule(0);
          });
        }, 200);
      }
    })();
  }

  /** Stops watching and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#resync);
    this.#timer = undefined;
    try {
      this.#watcher?.close();
    } catch { /* closed */ }
    await this.#running;
  }

  async #saveOriginal(name: string, text: string): Promise<void> {
    const dir = this.#o.originalsDir;
    if (!dir) return;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, `.${name}.tmp`), text);
    await Deno.rename(join(dir, `.${name}.tmp`), join(dir, name));
  }

  /** The saved bytes of `name` when they are `list` exactly (as JSON), else the rendered list. */
  async #restored(name: string, list: ConfList): Promise<ConfList | string> {
    if (!this.#o.originalsDir) return list;
    try {
      const text = await Deno.readTextFile(join(this.#o.originalsDir, name));
      return deepEqual(JSON.parse(text), list) ? text : list;
    } catch {
      return list; // none saved, or not JSON any more
    }
  }

  /** Uninstall: removes every tsn-proxy entry from every config file; returns the files changed. */
  async removeAll(): Promise<string[]> {
    const changed: string[] = [];
    let files: Map<string, string>;
    try {
      files = await this.#readDir();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return changed;
      throw e;
    }
    for (const v of pickPrimary(files).valid) {
      if (v.kind !== "conflist") continue;
      const without = withoutEntry(v.list);
      if (without.plugins.length === v.list.plugins.length) continue;
      await this.#write(v.name, await this.#restored(v.name, without), v.name);
      changed.push(v.name);
    }
    if (this.#o.originalsDir) {
      await Deno.remove(this.#o.originalsDir, { recursive: true }).catch(() => {});
    }
    return changed;
  }
}
