/**
 * A scenario: a topology, the observer on node1's NIC, talkers in pods sending to receivers
 * at the far end, and one row of counters per talker. Everything is torn down before it returns.
 *
 * ```ts ignore
 * const { rows } = await runScenario({
 *   kind: "bridge-nat",
 *   talkers: [{ pod: "a", protocol: "udp", priority: 5, clock: "tai", count: 200 }],
 *   hooks: { beforeTraffic: (topo) => attachTsnProxy(topo) },
 * });
 * ```
 *
 * @module
 */

import { installObserver, type Observer, type ObserverStats } from "./observer.ts";
import type { Protocol, Receiver } from "./talkers/receiver.ts";
import { startReceiver } from "./talkers/receiver.ts";
import type { TxClock } from "./talkers/record.ts";
import { RECORD_SIZE } from "./talkers/record.ts";
import { runSocatTalker } from "./talkers/socat.ts";
import { runRawSender, runTxtimeSender } from "./talkers/txtime.ts";
import { createTopology, type PodSpec, type Topology, type TopologyKind } from "./topology.ts";

/**
 * The program that sends: the FFI txtime sender (UDP only), socat (UDP, TCP), or the raw-socket
 * sender (UDP only; identical datagrams with a chosen IPv4 id or IPv6 flow label, see
 * talkers/raw_sender.ts).
 */
export type TalkerTool = "txtime" | "socat" | "raw";

/** An IP version. */
export type Family = 4 | 6;

/** What a raw talker writes (tool "raw"). */
export interface RawTalkerSpec {
  /** The IPv4 id of every datagram; with family 6, the flow label unless flowLabel says. */
  ipId: number;
  /** The IPv6 flow label of every datagram (family 6); default ipId. */
  flowLabel?: number;
  /** The pod whose id the payload's record names; default the talker's own. */
  payloadPod?: string;
  /** The priority the payload's record names; default the talker's. */
  payloadPriority?: number;
}

/** One talker of a scenario. */
export interface TalkerSpec {
  /** Row label; default `<pod>-<protocol>-<tool>-<clock>`. */
  name?: string;
  /** The pod it runs in (created if the scenario's pods do not list it). */
  pod: string;
  /** Transport. */
  protocol: Protocol;
  /** Default: txtime for UDP, socat for TCP. */
  tool?: TalkerTool;
  /** SO_PRIORITY it sets; also the priority the observer expects at the NIC. */
  priority: number;
  /** Clock of its SCM_TXTIME (txtime tool only); default none. */
  clock?: TxClock;
  /** Records (datagrams for UDP) to send, 1..10000. */
  count: number;
  /** txtime tool: pause between datagrams in µs; default 200. */
  intervalUs?: number;
  /** txtime tool: how far ahead of now each txtime is, in µs; default the sender's (5 ms). */
  aheadUs?: number;
  /** raw tool: what its datagrams carry (required with it). */
  raw?: RawTalkerSpec;
  /**
   * txtime tool: the SO_PRIORITY of every odd-numbered datagram instead of `priority` (each
   * record names its own), so that a swap between one talker's packets shows.
   */
  altPriority?: number;
}

/** A talker with its resolved pod, port and tool. */
export interface ResolvedTalker
  extends Required<Omit<TalkerSpec, "intervalUs" | "aheadUs" | "raw" | "altPriority">> {
  /** Odd datagrams' priority (txtime tool). */
  altPriority?: number;
  /** Pause between datagrams (txtime tool). */
  intervalUs: number;
  /** txtime lead in µs, when not the sender's default. */
  aheadUs?: number;
  /** Its destination port: the observer's key. */
  port: number;
  /** Its pod's id (records carry it). */
  podId: number;
  /** raw tool: the datagrams' IPv4 id and IPv6 flow label, and the record their payload carries. */
  raw?: { ipId: number; flowLabel: number; payloadPodId: number; payloadPriority: number };
}

/** What the hooks get. */
export interface ScenarioContext {
  /** The observer on node1's NIC (filter pref 100). */
  observer: Observer;
  /** The talkers, resolved. */
  talkers: readonly ResolvedTalker[];
}

/** Where the lead plugs tsn-proxy in (e.g. savers on pod eth0, restorer on node.nic). */
export interface ScenarioHooks {
  /** After the topology, observer and receivers are up, before any talker starts. */
  beforeTraffic?(topo: Topology, ctx: ScenarioContext): Promise<void> | void;
  /** After the talkers finished and the observer was read, before teardown. */
  afterTraffic?(
    topo: Topology,
    ctx: ScenarioContext,
    rows: readonly TalkerRow[],
  ): Promise<void> | void;
}

/** A scenario. */
export interface ScenarioSpec {
  /** The datapath. */
  kind: TopologyKind;
  /** The talkers' address family (the topology is dual-stack either way); default 4. */
  family?: Family;
  /** Pods on node1; default the talkers' pods in order of first use. */
  pods?: readonly PodSpec[];
  /** The talkers. */
  talkers: readonly TalkerSpec[];
  /** AF_PACKET captures on the pod veths and the bridge during the run. */
  taps?: boolean;
  /** TX (and RX) queues of node1's NIC veth; default the kernel's (1). See TopologyOptions. */
  nicTxQueues?: number;
  /** Integration points. */
  hooks?: ScenarioHooks;
  /** Run the talkers one after another instead of all at once. */
  sequential?: boolean;
  /** Per-talker time limit; default 20 s. */
  talkerTimeoutMs?: number;
  /** First talker port; default 41000. */
  basePort?: number;
  /** Name prefix of everything the topology creates; default a fresh random one. */
  prefix?: string;
}

/** The outcome for one talker. */
export interface TalkerRow {
  /** The talker's name. */
  talker: string;
  /** Its pod. */
  pod: string;
  /** Its transport. */
  protocol: Protocol;
  /** Its tool. */
  tool: TalkerTool;
  /** Its clock. */
  clock: TxClock;
  /** Its port. */
  port: number;
  /** Records the talker sent. */
  sent: number;
  /** Records the far end received. */
  received: number;
  /** Records the observer saw at the NIC (UDP: valid record datagrams; TCP: payload bytes / 32). */
  seen: number;
  /** Packets the observer saw (TCP: every segment, SYN and pure ACKs included). */
  packets: number;
  /** Packets whose priority was the talker's. */
  prioRight: number;
  /** Packets with priority 0. */
  prioZero: number;
  /** Packets with any other priority. */
  prioWrong: number;
  /**
   * Packets the observer could not judge: a UDP datagram whose record is short, unreadable or
   * names another pod. A scenario with any fails ({@linkcode runScenario} throws).
   */
  errors: number;
  /** Record packets whose txtime arrived with the right value and clock type. */
  txtimeRight: number;
  /** Record packets whose txtime was lost (tstamp 0). */
  txtimeMissing: number;
  /** Record packets with another tstamp value. */
  txtimeWrong: number;
  /** Record packets with the right value on the wrong clock type. */
  typeWrong: number;
  /** Packets that carried a tstamp nobody asked for (see observer.h). */
  invented: number;
  /** The observer's raw counters. */
  stats: ObserverStats;
}

/** A finished scenario. */
export interface ScenarioResult {
  /** The datapath. */
  kind: TopologyKind;
  /** The talkers' address family. */
  family: Family;
  /** One row per talker, in spec order. */
  rows: TalkerRow[];
  /** Wall-clock phases in ms. */
  timings: { setupMs: number; trafficMs: number; teardownMs: number };
}

/** Resolves defaults, pods and ports; throws on contradictions (e.g. socat with a txtime). */
export function resolveTalkers(
  talkers: readonly TalkerSpec[],
  podIds: ReadonlyMap<string, number>,
  basePort = 41000,
): ResolvedTalker[] {
  return talkers.map((t, i) => {
    const tool = t.tool ?? (t.protocol === "udp" ? "txtime" : "socat");
    const clock = t.clock ?? "none";
    if (tool !== "socat" && t.protocol !== "udp") throw new Error(`${tool} talkers are UDP only`);
    if ((tool === "raw") !== (t.raw !== undefined)) throw new Error("raw talkers need raw: {...}");
    if (t.altPriority !== undefined && tool !== "txtime") {
      throw new Error("only txtime talkers alternate priorities");
    }
    if (tool === "socat" && clock !== "none") throw new Error("socat talkers cannot set a txtime");
    if (!(t.count >= 1 && t.count <= 10_000)) throw new RangeError(`talker count ${t.count}`);
    const podId = podIds.get(t.pod);
    if (podId === undefined) throw new Error(`talker on unknown pod ${t.pod}`);
    const payloadPodId = t.raw && podIds.get(t.raw.payloadPod ?? t.pod);
    if (t.raw && payloadPodId === undefined) throw new Error(`payload of unknown pod`);
    return {
      name: t.name ?? `${t.pod}-${t.protocol}-${tool}-${clock}`,
      pod: t.pod,
      protocol: t.protocol,
      tool,
      priority: t.priority,
      clock,
      count: t.count,
      intervalUs: t.intervalUs ?? 200,
      ...(t.aheadUs === undefined ? {} : { aheadUs: t.aheadUs }),
      ...(t.altPriority === undefined ? {} : { altPriority: t.altPriority }),
      port: basePort + i,
      podId,
      ...(t.raw && payloadPodId !== undefined
        ? {
          raw: {
            ipId: t.raw.ipId,
            flowLabel: t.raw.flowLabel ?? t.raw.ipId,
            payloadPodId,
            payloadPriority: t.raw.payloadPriority ?? t.priority,
          },
        }
        : {}),
    };
  });
}

/** A talker's counts as the observer judged them (see {@linkcode observerCounts}). */
export type ObserverCounts = Pick<
  TalkerRow,
  | "seen"
  | "packets"
  | "prioRight"
  | "prioZero"
  | "prioWrong"
  | "errors"
  | "txtimeRight"
  | "txtimeMissing"
  | "txtimeWrong"
  | "typeWrong"
  | "invented"
>;

/**
 * What the observer judged of one talker's packets, as a row reports it: records seen (UDP
 * records, or TCP payload in record-sized units) and the per-packet verdicts.
 *
 * @example
 * ```ts ignore
 * const row = { talker: "a", ...observerCounts("udp", stats) };
 * ```
 */
export function observerCounts(protocol: Protocol, s: ObserverStats): ObserverCounts {
  return {
    seen: protocol === "udp" ? s.records : Math.floor(s.payloadBytes / RECORD_SIZE),
    packets: s.packets,
    prioRight: s.prioRight,
    prioZero: s.prioZero,
    prioWrong: s.prioWrong,
    errors: s.recordsBad,
    txtimeRight: s.txtimeRight,
    txtimeMissing: s.txtimeMissing,
    txtimeWrong: s.txtimeWrong,
    typeWrong: s.typeWrong,
    invented: s.tstampInvented,
  };
}

/**
 * Throws when the observer could not judge some packets (rows' `errors`): such a run measured
 * nothing about them, and counting them as lost would hide a broken test.
 */
export function assertNoErrors(rows: readonly Pick<TalkerRow, "talker" | "errors">[]): void {
  const bad = rows.filter((r) => r.errors > 0);
  if (bad.length) {
    throw new Error(
      `observer errors (records unreadable or of another pod): ` +
        bad.map((r) => `${r.talker} ${r.errors}`).join(", "),
    );
  }
}

/** The address talkers of family send to at the topology's far end. */
function farAddress(topo: Topology, family: Family): string {
  return family === 6 ? topo.far.ip6 : topo.far.ip;
}

/** Builds, runs, measures and tears down one scenario; throws on observer errors. */
export async function runScenario(spec: ScenarioSpec): Promise<ScenarioResult> {
  const t0 = performance.now();
  const family = spec.family ?? 4;
  const pods: PodSpec[] = spec.pods ? [...spec.pods] : [];
  for (const t of spec.talkers) {
    if (!pods.some((p) => p.name === t.pod)) pods.push({ name: t.pod });
  }
  const topo = await createTopology({
    kind: spec.kind,
    pods,
    taps: spec.taps ?? false,
    ...(spec.prefix === undefined ? {} : { prefix: spec.prefix }),
    ...(spec.nicTxQueues === undefined ? {} : { nicTxQueues: spec.nicTxQueues }),
  });
  const receivers: Receiver[] = [];
  let observer: Observer | null = null;
  let t1 = t0;
  let t2 = t0;
  try {
    const talkers = resolveTalkers(
      spec.talkers,
      new Map(topo.pods.map((p) => [p.name, p.id])),
      spec.basePort,
    );
    const watch = await watchTalkers(topo, talkers, family);
    observer = watch.observer;
    receivers.push(...watch.receivers);
    const ctx: ScenarioContext = { observer, talkers };
    await spec.hooks?.beforeTraffic?.(topo, ctx);

    t1 = performance.now();
    const timeoutMs = spec.talkerTimeoutMs ?? 20_000;
    const sent: number[] = [];
    if (spec.sequential) {
      for (const t of talkers) sent.push(await runTalker(topo, t, timeoutMs, family));
    } else {
      sent.push(...await Promise.all(talkers.map((t) => runTalker(topo, t, timeoutMs, family))));
    }
    // Delivery lags the senders' exit a little; wait (bounded) for the far end to catch up.
    for (const [i, rx] of receivers.entries()) await rx.waitRecords(sent[i] ?? 0, 2000);
    const stats = await observer.allStats();
    t2 = performance.now();

    const rows = talkers.map((t, i): TalkerRow => {
      const s = stats.get(t.port);
      if (!s) throw new Error(`observer has no entry for port ${t.port}`);
      return {
        talker: t.name,
        pod: t.pod,
        protocol: t.protocol,
        tool: t.tool,
        clock: t.clock,
        port: t.port,
        sent: sent[i] ?? 0,
        received: receivers[i]?.records() ?? 0,
        ...observerCounts(t.protocol, s),
        stats: s,
      };
    });
    await spec.hooks?.afterTraffic?.(topo, ctx, rows);
    const t3 = performance.now();
    await teardown(topo, observer, receivers);
    assertNoErrors(rows);
    return {
      kind: spec.kind,
      family,
      rows,
      timings: {
        setupMs: Math.round(t1 - t0),
        trafficMs: Math.round(t2 - t1),
        teardownMs: Math.round(performance.now() - t3),
      },
    };
  } finally {
    await teardown(topo, observer, receivers);
  }
}

/** What watches a run's talkers. */
export interface TalkerWatch {
  /** On node1's NIC, one expectation per talker port. */
  readonly observer: Observer;
  /** At the far end, one per talker, in the talkers' order. */
  readonly receivers: Receiver[];
}

/**
 * Installs the observer on node1's NIC, tells it what each talker sends (pod id, the ceiling
 * priority, whether UDP payloads carry records) and starts a receiver per talker at the far end,
 * joined to the topology's multicast group where it has one. On failure it stops what it started.
 *
 * @example
 * ```ts ignore
 * const { observer, receivers } = await watchTalkers(topo, resolveTalkers(specs, ids, 41000));
 * ```
 */
export async function watchTalkers(
  topo: Topology,
  talkers: readonly ResolvedTalker[],
  family: Family = 4,
): Promise<TalkerWatch> {
  const receivers: Receiver[] = [];
  let observer: Observer | null = null;
  try {
    observer = await installObserver({
      ns: topo.node.ns,
      ifname: topo.node.nic,
      bpffsDir: topo.bpffsDir,
    });
    for (const t of talkers) {
      await observer.expect(t.port, {
        pod: t.raw?.payloadPodId ?? t.podId,
        // The ceiling: each record names its own packet's priority.
        priority: Math.max(t.priority, t.altPriority ?? 0),
        record: t.protocol === "udp",
      });
      const on = family === 6 ? topo.far.joinIf6 : topo.far.joinOn;
      const join = on === undefined ? {} : { join: { group: farAddress(topo, family), on } };
      receivers.push(
        await startReceiver(topo.far.ns, t.protocol, t.port, undefined, { family, ...join }),
      );
    }
    return { observer, receivers };
  } catch (e) {
    for (const rx of receivers) await rx.stop();
    await observer?.destroy();
    throw e;
  }
}

async function teardown(topo: Topology, observer: Observer | null, receivers: Receiver[]) {
  for (const rx of receivers) await rx.stop();
  await observer?.destroy();
  await topo.destroy();
}

/** Runs one talker to completion in its pod (to the far end's address of family); returns the records it sent. */
export async function runTalker(
  topo: Topology,
  t: ResolvedTalker,
  timeoutMs: number,
  family: Family = 4,
): Promise<number> {
  const pod = topo.pod(t.pod);
  const dst = farAddress(topo, family);
  if (t.tool === "socat") {
    const r = await runSocatTalker({
      ns: pod.ns,
      protocol: t.protocol,
      dst,
      port: t.port,
      priority: t.priority,
      pod: t.podId,
      count: t.count,
      timeoutMs,
    });
    if (r.code !== 0) throw new Error(`talker ${t.name}: socat exited ${r.code}\n${r.stderr}`);
    return r.sent;
  }
  if (t.raw) {
    const r = await runRawSender(pod.ns, {
      dst,
      ...(family === 6 ? { src: pod.ip6, flowLabel: t.raw.flowLabel } : { ipId: t.raw.ipId }),
      sport: t.port,
      dport: t.port,
      count: t.count,
      priority: t.priority,
      clock: t.clock,
      intervalUs: t.intervalUs,
      payloadPod: t.raw.payloadPodId,
      payloadPriority: t.raw.payloadPriority,
    }, timeoutMs);
    if (r.errors) {
      throw new Error(`talker ${t.name}: ${r.errors} send errors, errno ${r.lastErrno}`);
    }
    return r.sent;
  }
  const r = await runTxtimeSender(pod.ns, {
    dst,
    port: t.port,
    count: t.count,
    priority: t.priority,
    clock: t.clock,
    pod: t.podId,
    intervalUs: t.intervalUs,
    ...(t.aheadUs === undefined ? {} : { aheadUs: t.aheadUs }),
    ...(t.altPriority === undefined ? {} : { altPriority: t.altPriority }),
  }, timeoutMs);
  if (r.errors) throw new Error(`talker ${t.name}: ${r.errors} send errors, errno ${r.lastErrno}`);
  return r.sent;
}
