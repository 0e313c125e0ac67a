/**
 * tc egress attachment of pinned BPF programs through iproute2, inside a netns: a clsact qdisc
 * (shared: created once, left in place for others) and direct-action filters at a given pref.
 * Lower prefs run first; every TCX program of the device runs before all of them.
 *
 * @module
 */

import { BIN, type Netns, run } from "./netns.ts";

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
