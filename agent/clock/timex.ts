/**
 * The system clock's state as the kernel's NTP code keeps it: `adjtimex(2)` with `modes = 0`
 * (read-only, no privilege needed). Time synchronisation daemons (chrony, ntpd, linuxptp's
 * phc2sys) clear `STA_UNSYNC` while they discipline the clock and set the TAI-UTC offset
 * (`ADJ_TAI`) that makes `CLOCK_TAI` differ from `CLOCK_REALTIME`: a kernel that nobody
 * synchronises reports TIME_ERROR, STA_UNSYNC and a TAI offset of 0 (CLOCK_TAI == UTC, 37 s off
 * the PTP timescale).
 *
 * @example
 * ```ts ignore
 * import { readTimex } from "./timex.ts";
 * const t = readTimex();
 * console.log(t.synchronized, t.taiOffsetS); // false 0 on a node nobody synchronises
 * ```
 */
import { clockLibc, lastErrno } from "./_libc.ts";

/** sizeof(struct timex) on x86-64 and the offsets read from it (glibc <sys/timex.h>). */
export const TIMEX = {
  size: 208,
  maxerror: 24,
  esterror: 32,
  status: 40,
  tai: 160,
} as const;

/** adjtimex return values (the clock state). */
export const TIME_STATES = [
  "TIME_OK",
  "TIME_INS",
  "TIME_DEL",
  "TIME_OOP",
  "TIME_WAIT",
  "TIME_ERROR",
];
/** `status` bit: the clock is not synchronised. */
export const STA_UNSYNC = 0x0040;

/** The system clock's synchronisation state. */
export interface TimexState {
  /** adjtimex's return value by name (TIME_OK ... TIME_ERROR), or `STATE_n`. */
  readonly state: string;
  /** The raw `status` bits. */
  readonly status: number;
  /** Not TIME_ERROR and STA_UNSYNC clear: someone disciplines the clock. */
  readonly synchronized: boolean;
  /** TAI - UTC in seconds as the kernel applies it to CLOCK_TAI (0: never set). */
  readonly taiOffsetS: number;
  /** Maximum and estimated error, microseconds. */
  readonly maxErrorUs: number;
  readonly estErrorUs: number;
}

/**
 * Decodes a `struct timex` the kernel filled and adjtimex's return value.
 *
 * @example
 * ```ts
 * import { decodeTimex, TIMEX } from "./timex.ts";
 * const buf = new Uint8Array(TIMEX.size);
 * new DataView(buf.buffer).setInt32(TIMEX.tai, 37, true);
 * console.log(decodeTimex(buf, 0).taiOffsetS); // 37
 * ```
 */
export function decodeTimex(buf: Uint8Array, ret: number): TimexState {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const status = v.getInt32(TIMEX.status, true);
  return {
    state: TIME_STATES[ret] ?? `STATE_${ret}`,
    status,
    synchronized: ret !== 5 && (status & STA_UNSYNC) === 0,
    taiOffsetS: v.getInt32(TIMEX.tai, true),
    maxErrorUs: Number(v.getBigInt64(TIMEX.maxerror, true)),
    estErrorUs: Number(v.getBigInt64(TIMEX.esterror, true)),
  };
}

/** Reads the system clock's state (adjtimex with modes 0: changes nothing). */
export function readTimex(): TimexState {
  const buf = new Uint8Array(TIMEX.size);
  const ret = clockLibc().adjtimex(buf);
  if (ret < 0) throw new Error(`adjtimex: errno ${lastErrno()}`);
  return decodeTimex(buf, ret);
}
