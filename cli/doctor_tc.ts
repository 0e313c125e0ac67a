/**
 * Reading `tc qdisc show dev IF` (iproute2's text output) for the doctor: which qdiscs a TSN
 * interface carries, and whether they schedule by what tsn-proxy restores — `taprio` and `mqprio`
 * map `skb->priority` to traffic classes, `etf` sends by `skb->tstamp`.
 *
 * A qdisc starts with a line `qdisc KIND HANDLE: root|parent X:Y ...`; taprio and mqprio continue
 * on indented or keyword lines (`queues ...`, `clockid TAI ...`, `index 0 cmd S ...`,
 * `mode:dcb`), which belong to the qdisc above them.
 *
 * @example
 * ```ts
 * import { parseQdiscs, tsnSchedule } from "./doctor_tc.ts";
 * const q = parseQdiscs("qdisc taprio 100: root refcnt 9 tc 3 map 2 2 1 0 2 2 2 2 2 2 2 2 2 2 2 2\n");
 * console.log(tsnSchedule(q)); // { root: "taprio", trafficClasses: 3, etf: [], clockid: null }
 * ```
 */

/** One qdisc of an interface. */
export interface Qdisc {
  readonly kind: string;
  /** e.g. "100:" */
  readonly handle: string;
  /** "root", "ingress"/"clsact" parents (`ffff:fff1`), or the parent class, e.g. "100:1". */
  readonly parent: string;
  /** Traffic classes (`tc N`) of taprio/mqprio. */
  readonly trafficClasses: number | null;
  /** `clockid` of taprio/etf. */
  readonly clockid: string | null;
  /** etf/taprio `offload on` (hardware) vs software. */
  readonly offload: boolean | null;
  /** The qdisc's whole text. */
  readonly text: string;
}

/** Parses `tc qdisc show dev IF` output; unknown lines stay in the text of their qdisc. */
export function parseQdiscs(output: string): Qdisc[] {
  const blocks: string[][] = [];
  for (const line of output.split("\n")) {
    if (line.startsWith("qdisc ")) blocks.push([line]);
    else if (line.trim() !== "" && blocks.length) blocks.at(-1)!.push(line);
  }
  return blocks.map((lines) => {
    const text = lines.join("\n");
    const words = lines[0]!.trim().split(/\s+/);
    const kind = words[1] ?? "?";
    const handle = words[2] ?? "";
    let parent = "?";
    const pi = words.indexOf("parent");
    if (words.includes("root")) parent = "root";
    else if (pi >= 0 && words[pi + 1]) parent = words[pi + 1]!;
    const tc = /(?:^|\s)(?:tc|num_tc) (\d+)/.exec(text);
    const clock = /clockid (\S+)/.exec(text);
    const offload = /offload (on|off)/.exec(text);
    return {
      kind,
      handle,
      parent,
      trafficClasses: (kind === "taprio" || kind === "mqprio") && tc ? Number(tc[1]) : null,
      clockid: clock ? clock[1]! : null,
      offload: offload ? offload[1] === "on" : null,
      text,
    };
  });
}

/** What of a qdisc tree schedules by priority and txtime. */
export interface TsnSchedule {
  /** The root qdisc's kind ("noqueue" on a fresh veth). */
  readonly root: string | null;
  /** taprio/mqprio traffic classes at the root, or null when the root is neither. */
  readonly trafficClasses: number | null;
  /** etf children: their parent class and clock. */
  readonly etf: ReadonlyArray<{ parent: string; clockid: string | null; offload: boolean | null }>;
  /** The root's clock (taprio). */
  readonly clockid: string | null;
}

/** The TSN-relevant summary of an interface's qdiscs. */
export function tsnSchedule(qdiscs: readonly Qdisc[]): TsnSchedule {
  const root = qdiscs.find((q) => q.parent === "root") ?? null;
  const tsnRoot = root && (root.kind === "taprio" || root.kind === "mqprio") ? root : null;
  return {
    root: root?.kind ?? null,
    trafficClasses: tsnRoot?.trafficClasses ?? null,
    etf: qdiscs.filter((q) => q.kind === "etf").map((q) => ({
      parent: q.parent,
      clockid: q.clockid,
      offload: q.offload,
    })),
    clockid: tsnRoot?.kind === "taprio" ? tsnRoot.clockid : null,
  };
}
