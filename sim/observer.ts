/**
 * The observer on a node's NIC: loads sim/bpf/obj/observer.bpf.o, pins it under the run's
 * bpffs dir, attaches it to tc egress (clsact, `pref 100`, direct-action), configures the talkers
 * it should watch and reads their counters.
 *
 * All kernel access goes through bpftool and tc here, in this one module: the project's libbpf
 * loader replaces them later without touching the callers. Legacy tc filters run after every TCX
 * program of the device and after filters with a lower pref, so the observer sees what a
 * restorer attached either way left in the packet.
 *
 * @module
 */

import { observerObject } from "./bpf/object.ts";
import { BIN, type Netns } from "./netns.ts";
import { exec } from "./process.ts";
import { loadPinnedEgress } from "./tc.ts";
import {
  decodeObserverKey,
  decodeObserverStats,
  emptyObserverStats,
  encodeObserverExpect,
  encodeObserverKey,
  fromBpftoolBytes,
  OBSERVER_EXPECT_RECORD,
  OBSERVER_STATS_SIZE,
  type ObserverStats,
  toBpftoolHex,
} from "./observer_codec.ts";

export type { ObserverStats } from "./observer_codec.ts";

/** The program's name in the object (its pin name). */
const OBSERVER_PROG = "observer_tc";
/** The tc filter preference the observer uses by default. */
const OBSERVER_PREF = 100;

/** What the observer should expect of one talker. */
export interface ObserverExpect {
  /** Pod id the talker's records carry. */
  pod: number;
  /** skb->priority expected at the NIC. */
  priority: number;
  /** True when each UDP payload is a talker record (txtime checks need it). */
  record: boolean;
}

/** Options of {@linkcode installObserver}. */
export interface ObserverOptions {
  /** The node's netns. */
  ns: Netns;
  /** The NIC to watch at egress. */
  ifname: string;
  /** The run's bpffs dir (e.g. Topology.bpffsDir); pins go into `observer/` below it. */
  bpffsDir: string;
  /** tc filter preference; default 100 (after the restorer's lower pref). */
  pref?: number;
}

/** An attached observer. */
export interface Observer {
  /** Pin dir of the program (`<dir>/prog/observer_tc`) and maps (`<dir>/maps/`). */
  readonly dir: string;
  /** The pinned program. */
  readonly progPin: string;
  /** Watches talkers sending to port (the inner L4 destination port), resetting its counters. */
  expect(port: number, e: ObserverExpect): Promise<void>;
  /** The counters of one port (all zero when nothing was seen). */
  stats(port: number): Promise<ObserverStats>;
  /** The counters of every port seen or expected. */
  allStats(): Promise<Map<number, ObserverStats>>;
  /** Removes the tc filter and the pins. Idempotent. */
  destroy(): Promise<void>;
}

/** Loads, pins and attaches the observer (its committed object). */
export async function installObserver(opts: ObserverOptions): Promise<Observer> {
  const obj = observerObject();
  const dir = `${opts.bpffsDir}/observer`;
  const pref = opts.pref ?? OBSERVER_PREF;
  const pinned = await loadPinnedEgress({
    ns: opts.ns,
    ifname: opts.ifname,
    obj,
    dir,
    prog: OBSERVER_PROG,
    pref,
  });
  const { mapsDir, destroy } = pinned;
  const progPin = `${pinned.progDir}/${OBSERVER_PROG}`;
  const portsPin = `${mapsDir}/observer_ports`;
  const statsPin = `${mapsDir}/observer_stats`;

  const dump = async (pin: string): Promise<Array<{ key: Uint8Array; value: Uint8Array }>> => {
    const out = await exec([BIN.bpftool, "-j", "map", "dump", "pinned", pin]);
    const rows = JSON.parse(out.stdout) as Array<{ key: string[]; value: string[] }>;
    return rows.map((r) => ({ key: fromBpftoolBytes(r.key), value: fromBpftoolBytes(r.value) }));
  };

  const allStats = async (): Promise<Map<number, ObserverStats>> => {
    const out = new Map<number, ObserverStats>();
    for (const row of await dump(statsPin)) {
      out.set(decodeObserverKey(row.key), decodeObserverStats(row.value));
    }
    return out;
  };

  return {
    dir,
    progPin,
    async expect(port, e) {
      const key = toBpftoolHex(encodeObserverKey(port));
      // Zero the counters first, so no packet is counted against stale values.
      await exec([
        BIN.bpftool,
        "map",
        "update",
        "pinned",
        statsPin,
        "key",
        ...key,
        "value",
        ...toBpftoolHex(new Uint8Array(OBSERVER_STATS_SIZE)),
      ]);
      const value = encodeObserverExpect({
        pod: e.pod,
        priority: e.priority,
        flags: e.record ? OBSERVER_EXPECT_RECORD : 0,
      });
      await exec([
        BIN.bpftool,
        "map",
        "update",
        "pinned",
        portsPin,
        "key",
        ...key,
        "value",
        ...toBpftoolHex(value),
      ]);
    },
    async stats(port) {
      return (await allStats()).get(port) ?? emptyObserverStats();
    },
    allStats,
    destroy,
  };
}
