/**
 * tc egress attachment of pinned BPF programs through iproute2, inside a netns: a clsact qdisc
 * (shared: created once, left in place for others) and direct-action filters at a given pref.
 * Lower prefs run first; every TCX program of the device runs before all of them.
 *
 * @module
 */

import { BIN, exists, type Netns, run } from "./netns.ts";
import { exec } from "./process.ts";

/** Adds a clsact qdisc to ifname unless one is there already. */
export async function ensureClsact(ns: Netns, ifname: string): Promise<void> {
  const shown = await run(ns, [BIN.tc, "qdisc", "show", "dev", ifname]);
  if (/\bqdisc clsact\b/.test(shown.stdout)) return;
  const added = await run(ns, [BIN.tc, "qdisc", "add", "dev", ifname, "clsact"], {
    allowFail: true,
  });
  // Lost a race with another attacher: theirs serves as well.
  if (!added.success && !/File exists|Exclusivity flag/.test(added.stderr)) {
    throw new Error(`clsact on ${ifname} in ${ns.name}: ${added.stderr.trim()}`);
  }
}

/** Attaches the program pinned at pin to ifname's egress at pref (direct-action). */
export async function attachEgress(
  ns: Netns,
  ifname: string,
  pref: number,
  pin: string,
): Promise<void> {
  await ensureClsact(ns, ifname);
  await run(ns, [
    BIN.tc,
    "filter",
    "add",
    "dev",
    ifname,
    "egress",
    "pref",
    String(pref),
    "bpf",
    "direct-action",
    "pinned",
    pin,
  ]);
}

/** Removes ifname's egress filters at pref; a missing one (or a gone netns) is not an error. */
export async function detachEgress(ns: Netns, ifname: string, pref: number): Promise<void> {
  await run(ns, [BIN.tc, "filter", "del", "dev", ifname, "egress", "pref", String(pref)], {
    allowFail: true,
  });
}

/** Where {@link loadPinnedEgress} put an object: its program and maps directories. */
export interface PinnedEgress {
  /** `<dir>/prog`: every program of the object, pinned. */
  readonly progDir: string;
  /** `<dir>/maps`: every map of the object, pinned. */
  readonly mapsDir: string;
  /** Detaches the filter and removes `dir`. Idempotent. */
  destroy(): Promise<void>;
}

/**
 * Loads `obj` with bpftool, pins its programs and maps under `dir` and attaches program `prog` at
 * ifname's egress at pref; on failure undoes what it did and throws.
 *
 * @example
 * ```ts ignore
 * const t = await loadPinnedEgress({ ns, ifname: "nic0", obj, dir, prog: "tamper_tc", pref: 50 });
 * await t.destroy();
 * ```
 */
export async function loadPinnedEgress(
  opts: { ns: Netns; ifname: string; obj: string; dir: string; prog: string; pref: number },
): Promise<PinnedEgress> {
  const { ns, ifname, dir, pref } = opts;
  const progDir = `${dir}/prog`;
  const mapsDir = `${dir}/maps`;
  let attaching = false;
  let destroying: Promise<void> | null = null;
  const destroy = (): Promise<void> => {
    destroying ??= (async () => {
      if (attaching) await detachEgress(ns, ifname, pref);
      if (await exists(dir)) await Deno.remove(dir, { recursive: true });
    })();
    return destroying;
  };
  try {
    await Deno.mkdir(dir, { recursive: true });
    await exec([BIN.bpftool, "prog", "loadall", opts.obj, progDir, "pinmaps", mapsDir]);
    attaching = true;
    await attachEgress(ns, ifname, pref, `${progDir}/${opts.prog}`);
  } catch (e) {
    await destroy().catch(() => {});
    throw e;
  }
  return { progDir, mapsDir, destroy };
}
