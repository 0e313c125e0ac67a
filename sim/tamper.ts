/**
 * A test-only saboteur on the node's NIC (sim/bpf/tamper.bpf.c): per UDP destination port it sets
 * a priority, clears or shifts the tstamp, changes its clock type or invents one, the way a broken
 * proxy would. It runs before the observer (lower tc pref), so tests can prove the observer counts
 * each damage in its own class. Its object is committed (sim/bpf/obj/tamper.bpf.o, bpf/objects.ts).
 *
 * @module
 */

import { objectPath, prebuiltBpf } from "@tsn-proxy/bpf";
import { BIN, type Netns } from "./netns.ts";
import { toBpftoolHex } from "./observer_codec.ts";
import { exec } from "./process.ts";
import { loadPinnedEgress } from "./tc.ts";

/** enum tamper_flags (sim/bpf/tamper.h). */
export const TAMPER = {
  SET_PRIORITY: 1,
  CLEAR_TSTAMP: 2,
  SHIFT_TSTAMP: 4,
  RETYPE_MONO: 8,
  SET_TSTAMP_TAI: 16,
} as const;

/** struct tamper_action. */
export interface TamperAction {
  /** TAMPER bits. */
  flags: number;
  /** For SET_PRIORITY. */
  priority?: number;
  /** For SHIFT_TSTAMP (the delta) and SET_TSTAMP_TAI (the value). */
  tstamp?: bigint;
}

/** An attached tamper program. */
export interface Tamper {
  /** Damages UDP packets to port as the action says. */
  set(port: number, action: TamperAction): Promise<void>;
  /** Removes the filter, the pins and the temporary object. Idempotent. */
  destroy(): Promise<void>;
}

/** Encodes struct tamper_action (16 bytes, little endian). */
function encodeTamperAction(a: TamperAction): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint32(0, a.flags, true);
  v.setUint32(4, a.priority ?? 0, true);
  v.setBigUint64(8, a.tstamp ?? 0n, true);
  return out;
}

/** The tamper program's object file name (a prebuilt copy has it too: bpf/toolchain.ts). */
export const TAMPER_OBJECT = "tamper.bpf.o";

/** The committed object, built with every other one (`deno task gen`, `deno task check:gen`). */
export function tamperObject(): string {
  return objectPath("sim/bpf/obj/tamper.bpf.o");
}

/** Loads, pins (under bpffsDir/tamper) and attaches it at tc egress `pref` (default 50). */
export async function installTamper(
  opts: { ns: Netns; ifname: string; bpffsDir: string; pref?: number },
): Promise<Tamper> {
  const dir = `${opts.bpffsDir}/tamper`;
  const { mapsDir, destroy } = await loadPinnedEgress({
    ns: opts.ns,
    ifname: opts.ifname,
    obj: prebuiltBpf(TAMPER_OBJECT) ?? tamperObject(),
    dir,
    prog: "tamper_tc",
    pref: opts.pref ?? 50,
  });
  return {
    async set(port, action) {
      const key = new Uint8Array(2);
      new DataView(key.buffer).setUint16(0, port, true);
      await exec([
        BIN.bpftool,
        "map",
        "update",
        "pinned",
        `${mapsDir}/tamper_ports`,
        "key",
        ...toBpftoolHex(key),
        "value",
        ...toBpftoolHex(encodeTamperAction(action)),
      ]);
    },
    destroy,
  };
}
