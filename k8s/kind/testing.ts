/**
 * Test doubles of the kind e2e: a fake cluster ({@link FakeKube}) whose probes answer like
 * ./probe.ts would on a node where tsn-proxy does (or does not) restore, and a fake clock.
 *
 * @module
 */
import type { DaemonSetStatus, KubeApi, KubeObject, NodeInfo, PodStatus } from "./kube.ts";
import { type CollectResult, decodeSegment, type NodeState, type SetupSpec } from "./probe_api.ts";
import { KIND, kindTalkers, OPTED_IN } from "./scenario.ts";
import type { Clock } from "./wait.ts";

/** A clock that advances only when slept on. */
export function fakeClock(): Clock & { slept: number } {
  let t = 0;
  return {
    slept: 0,
    now: () => t,
    sleep(ms) {
      t += ms;
      this.slept += ms;
      return Promise.resolve();
    },
  };
}

/** `tc -s qdisc show` of taprio 100: with four pfifo children (packets per class 100:1..4). */
export function taprioQdiscText(perClass: readonly [number, number, number, number]): string {
  const total = perClass.reduce((a, b) => a + b, 0);
  const sent = (n: number) =>
    ` Sent ${
      n * 74
    } bytes ${n} pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0`;
  return [
    "qdisc taprio 100: root refcnt 5 tc 4 map 3 1 2 3 3 3 3 3 3 3 3 3 3 3 3 3",
    "queues offset 0 count 1 offset 1 count 1 offset 2 count 1 offset 3 count 1",
    "clockid TAI basetime 0 cycle-time 40000 cycle-time-extension 0 ",
    "\tindex 0 cmd S gatemask 0x2 interval 10000",
    "",
    sent(total),
    ...perClass.flatMap((n, i) => [`qdisc pfifo 0: parent 100:${i + 1} limit 1000p`, sent(n)]),
    "qdisc clsact ffff: parent ffff:fff1 ",
    sent(0),
    "",
  ].join("\n");
}

/** The agent's /metrics after the proxied run (`tracker`: skb-addr's clone tracker attached). */
export function agentMetricsText(o: { adds: number; restored: number; tracker: boolean }): string {
  return [
    "# HELP tsnproxy_ready 1 when ready",
    "# TYPE tsnproxy_ready gauge",
    "tsnproxy_ready 1",
    `tsnproxy_cni_requests_total{command="ADD",result="ok"} ${o.adds}`,
    `tsnproxy_cni_requests_total{command="DEL",result="ok"} 0`,
    `tsnproxy_datapath_packets_total{counter="saved",strategy="skb-addr"} ${o.restored}`,
    `tsnproxy_datapath_packets_total{counter="restored",strategy="skb-addr"} ${o.restored}`,
    `tsnproxy_datapath_packets_total{counter="errors",strategy="skb-addr"} 0`,
    "tsnproxy_priority_clamped_packets_total 0",
    "tsnproxy_datapath_records 0",
    ...(o.tracker
      ? ['tsnproxy_datapath_tracker_attached{program="tsn_track_clone",strategy="skb-addr"} 1']
      : []),
    "",
  ].join("\n");
}

/** How the fake node behaves. */
export interface FakeBehaviour {
  /** The proxy restores opted-in pods' priorities (false: a broken datapath). */
  readonly restores: boolean;
  /** The uninstall leaves the conf entry behind. */
  readonly leaveEntry?: boolean;
  /** Polls a talker pod stays Pending/Running before it succeeds. */
  readonly talkerPolls?: number;
}

/** A fake cluster: two nodes, probes, talkers, the DaemonSet. */
export class FakeKube implements KubeApi {
  readonly applied: KubeObject[] = [];
  readonly removed: KubeObject[] = [];
  readonly proxyCalls: string[] = [];
  #pods = new Map<string, { obj: KubeObject; polls: number }>();
  #ds: { polls: number } | null = null;
  #namespaces = new Set<string>();
  #setup: SetupSpec | null = null;
  constructor(readonly b: FakeBehaviour) {}

  nodes(): Promise<NodeInfo[]> {
    return Promise.resolve([
      { name: "e2e-control-plane", ready: true, controlPlane: true },
      { name: "e2e-worker", ready: true, controlPlane: false },
    ]);
  }

  apply(obj: KubeObject): Promise<void> {
    this.applied.push(obj);
    const name = obj.metadata?.name ?? "";
    if (obj.kind === "Namespace") this.#namespaces.add(name);
    if (obj.kind === "Pod") this.#pods.set(name, { obj, polls: 0 });
    if (obj.kind === "DaemonSet") this.#ds = { polls: 0 };
    return Promise.resolve();
  }

  remove(obj: KubeObject): Promise<void> {
    this.removed.push(obj);
    const name = obj.metadata?.name ?? "";
    if (obj.kind === "Namespace") this.#namespaces.delete(name);
    if (obj.kind === "Pod") this.#pods.delete(name);
    if (obj.kind === "DaemonSet") this.#ds = null;
    return Promise.resolve();
  }

  pod(_ns: string, name: string): Promise<PodStatus | null> {
    const p = this.#pods.get(name);
    if (!p) return Promise.resolve(null);
    p.polls++;
    if (name.startsWith("probe-")) {
      return Promise.resolve({ name, phase: "Running", ready: p.polls > 1 });
    }
    const done = p.polls > (this.b.talkerPolls ?? 2);
    return Promise.resolve({ name, phase: done ? "Succeeded" : "Running", ready: !done });
  }

  pods(ns: string, _selector: string): Promise<PodStatus[]> {
    // The agent's pods live while the DaemonSet does (its namespace: the manifest's).
    return Promise.resolve(
      this.#ds && this.#namespaces.has(ns)
        ? [{ name: "tsn-proxy-agent-x", phase: "Running", ready: true }]
        : [],
    );
  }

  daemonSet(): Promise<DaemonSetStatus | null> {
    if (!this.#ds) return Promise.resolve(null);
    const ready = Math.min(2, this.#ds.polls++);
    return Promise.resolve({
      desired: 2,
      ready,
      updated: ready,
      generation: 1,
      observedGeneration: 1,
    });
  }

  namespaceExists(name: string): Promise<boolean> {
    return Promise.resolve(this.#namespaces.has(name));
  }

  logs(_ns: string, pod: string): Promise<string> {
    const tool = pod.startsWith("talker-b") ? "socat" : "txtime";
    return Promise.resolve(`${JSON.stringify({ tool, sent: 100, errors: 0 })}\n`);
  }

  proxyGet(_ns: string, pod: string, port: number, path: string): Promise<string> {
    if (port !== KIND.probePort) throw new Error(`proxy to port ${port}`);
    this.proxyCalls.push(`${pod} ${path.split("/")[0]}`);
    const [verb, arg = ""] = path.split("/");
    if (verb === "setup") {
      const s = decodeSegment(arg) as SetupSpec;
      if (pod.endsWith("worker")) this.#setup = s;
      return Promise.resolve('{"ok":true}');
    }
    if (verb === "teardown" || verb === "reset") return Promise.resolve('{"ok":true}');
    if (verb === "node-state") {
      const entry = this.b.leaveEntry ? ',{"type":"tsn-proxy"}' : "";
      const s: NodeState = {
        confFiles: { "10-kindnet.conflist": `{"plugins":[{"type":"ptp"}${entry}]}` },
        plugin: false,
        pins: false,
      };
      return Promise.resolve(JSON.stringify(s));
    }
    if (verb === "collect") return Promise.resolve(JSON.stringify(this.#collect()));
    throw new Error(`fake probe: ${path}`);
  }

  #collect(): CollectResult {
    const proxy = this.#ds !== null && this.b.restores;
    const observer: Record<string, Record<string, number>> = {};
    const received: Record<string, number> = {};
    const perClass: [number, number, number, number] = [0, 0, 0, 2]; // 2 ARP packets
    for (const t of kindTalkers()) {
      const restored = proxy && OPTED_IN.includes(t.pod);
      const right = t.priority === 0 || restored ? t.count : 0;
      observer[String(t.port)] = {
        packets: t.count,
        records: t.count,
        payloadBytes: t.count * 32,
        prioRight: right,
        prioZero: t.priority === 0 || !restored ? t.count : 0,
        prioWrong: 0,
        txtimeRight: 0,
        txtimeMissing: 0,
        txtimeWrong: 0,
        typeWrong: 0,
        tstampInvented: 0,
        lastTstampType: 0,
      };
      received[String(t.port)] = t.count;
      const cls = restored ? t.priority : 3; // map: prio 1 → TC1 (100:2), 2 → TC2 (100:3)
      perClass[cls] = perClass[cls]! + t.count;
    }
    return {
      observer,
      received,
      tcQdisc: this.#setup?.taprio ? taprioQdiscText(perClass) : "",
      tcClass: "",
      metrics: this.#ds
        ? agentMetricsText({ adds: 2, restored: proxy ? 200 : 0, tracker: true })
        : null,
      kernel: "6.12.0-test",
    };
  }
}
