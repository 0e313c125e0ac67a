import { equal, ok } from "node:assert/strict";
import type { DatapathStats } from "@tsn-proxy/bpf/datapath";
import { TsnConfig, TsnCounters } from "@tsn-proxy/bpf/gen/tsn_core";
import { AgentMetrics, serveMetrics, snake } from "./metrics.ts";
import { httpGetUnix } from "./testing.ts";
import { ClockGate } from "./clock/mod.ts";

Deno.test("serveMetrics() serves /metrics, /readyz and /healthz on a unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsn-metrics-" });
  const sock = `${dir}/m.sock`;
  let why: string | null = "datapath not loaded yet";
  const m = new AgentMetrics(() => null);
  const server = serveMetrics(`unix:${sock}`, m, () => why);
  try {
    m.observeRequest("ADD", "ok", 0.02);
    m.reconciler.rewrite("wrap-conf");
    m.handler.attachments(3);
    const ready = await httpGetUnix(sock, "/readyz");
    equal(ready.status, 503);
    ok(ready.body.includes("datapath not loaded yet"));
    why = null;
    equal((await httpGetUnix(sock, "/readyz")).status, 200);
    equal((await httpGetUnix(sock, "/healthz")).status, 200);
    const text = (await httpGetUnix(sock, "/metrics")).body;
    ok(text.includes('tsnproxy_cni_requests_total{command="ADD",result="ok"} 1'), text);
    ok(text.includes('tsnproxy_reconciler_rewrites_total{reason="wrap-conf"} 1'));
    ok(text.includes("tsnproxy_attachments 3"));
    ok(text.includes("tsnproxy_ready 1"));
    ok(text.includes("tsnproxy_datapath_records 0"));
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snake() turns BPF counter names into label values", () => {
  equal(snake("rejectedFingerprint"), "rejected_fingerprint");
  equal(snake("saved"), "saved");
});

/**
 * A Datapath.stats() snapshot: skb-addr, tracker refused, a restorer pin gone, a restorer defunct, a
 * TSN interface that did not exist at `up` (pending).
 */
function fakeStats(): DatapathStats {
  const counters = TsnCounters.decode(new Uint8Array(TsnCounters.size));
  counters.saved = 1000n;
  counters.restored = 990n;
  counters.missed = 7n;
  counters.saveClamped = 12n;
  counters.saveDefaulted = 21n;
  counters.tstampDropped = 4n;
  return {
    state: {
      version: 1,
      bpffs: "/sys/fs/bpf/tsn-proxy",
      strategy: "skb-addr",
      store: "buckets",
      maxAgeNs: "100000000",
      trackers: [{ program: "tsn_track_clone", state: "unavailable", reason: "EPERM: x" }],
      restorers: [
        { ifname: "eth1", ifindex: 3, mode: { kind: "tcx" } },
        { ifname: "eth2", ifindex: 4, mode: { kind: "tcx" } },
        { ifname: "eth3", ifindex: 5, mode: { kind: "tcx" } },
      ],
      pendingRestorers: ["eth4"],
      pods: [
        {
          id: "a",
          netns: "/n/a",
          ifname: "eth0",
          ifindex: 2,
          owner: 1,
          maxPriority: 5,
          defaultPriority: 3,
          mode: { kind: "tcx" },
        },
        {
          id: "b",
          netns: "/n/b",
          ifname: "eth0",
          ifindex: 2,
          owner: 2,
          maxPriority: 5,
          mode: { kind: "clsact", handle: 1, priority: 1 },
        },
      ],
    },
    config: TsnConfig.decode(new Uint8Array(TsnConfig.size)),
    counters,
    records: 42,
    staleRecords: 3,
    recordsMax: 32768,
    missingPins: ["/sys/fs/bpf/tsn-proxy/restore/eth2"],
    detachedRestorers: ["eth3"],
  };
}

Deno.test("AgentMetrics exports datapath counters by strategy, occupancy, trackers, restorers", async () => {
  const m = new AgentMetrics(() => fakeStats());
  m.handler.decision?.("attached");
  m.handler.decision?.("skipped");
  m.handler.clamp?.("cell");
  m.handler.defaultClass?.("cell");
  m.reconciler.conflict("05-cilium.conflist");
  m.observeRequest("ADD", "11", 0.003);
  m.restorerReattached.inc({ ifname: "eth3" });
  m.interfaceMissing.set({ ifname: "eth4" }, 1);
  m.interfaceMissing.set({ ifname: "eth1" }, 0);
  const text = await m.registry.metrics();
  const want = [
    'tsnproxy_datapath_info{strategy="skb-addr",store="buckets"} 1',
    'tsnproxy_datapath_packets_total{counter="saved",strategy="skb-addr"} 1000',
    'tsnproxy_datapath_packets_total{counter="restored",strategy="skb-addr"} 990',
    'tsnproxy_datapath_packets_total{counter="rejected_fingerprint",strategy="skb-addr"} 0',
    "tsnproxy_priority_clamped_packets_total 12",
    'tsnproxy_datapath_packets_total{counter="save_defaulted",strategy="skb-addr"} 21',
    'tsnproxy_datapath_packets_total{counter="tstamp_dropped",strategy="skb-addr"} 4',
    "tsnproxy_datapath_savers_default_class 1",
    'tsnproxy_policy_default_classes_total{namespace="cell"} 1',
    "tsnproxy_datapath_records 42",
    "tsnproxy_datapath_stale_records 3",
    "tsnproxy_datapath_records_capacity 32768",
    'tsnproxy_datapath_tracker_attached{program="tsn_track_clone",strategy="skb-addr"} 0',
    'tsnproxy_datapath_restorer_attached{ifname="eth1",mode="tcx"} 1',
    'tsnproxy_datapath_restorer_attached{ifname="eth2",mode="tcx"} 0',
    'tsnproxy_datapath_restorer_attached{ifname="eth3",mode="tcx"} 0',
    'tsnproxy_datapath_restorer_attached{ifname="eth4",mode="none"} 0',
    'tsnproxy_datapath_restorer_reattached_total{ifname="eth3"} 1',
    'tsnproxy_datapath_interface_missing{ifname="eth4"} 1',
    'tsnproxy_datapath_interface_missing{ifname="eth1"} 0',
    'tsnproxy_datapath_savers{mode="tcx"} 1',
    'tsnproxy_datapath_savers{mode="clsact"} 1',
    "tsnproxy_datapath_missing_pins 1",
    'tsnproxy_pod_decisions_total{decision="attached"} 1',
    'tsnproxy_pod_decisions_total{decision="skipped"} 1',
    'tsnproxy_policy_clamps_total{namespace="cell"} 1',
    'tsnproxy_reconciler_conflicts_total{file="05-cilium.conflist"} 1',
    'tsnproxy_cni_requests_total{command="ADD",result="11"} 1',
    'tsnproxy_cni_request_duration_seconds_bucket{le="0.005",command="ADD"} 1',
    'tsnproxy_cni_request_duration_seconds_bucket{le="0.001",command="ADD"} 0',
  ];
  for (const line of want) ok(text.includes(line), `missing: ${line}\n${text}`);
});

Deno.test("AgentMetrics reports an empty datapath as zero and survives a failing read", async () => {
  let calls = 0;
  const m = new AgentMetrics(() => {
    calls++;
    throw new Error("pins gone");
  });
  const text = await m.registry.metrics();
  ok(text.includes("tsnproxy_datapath_records 0"));
  ok(text.includes("tsnproxy_datapath_records_capacity 0"));
  ok(!text.includes("tsnproxy_datapath_info{"), "no info series without a datapath");
  equal(calls, 1, "one read per scrape, shared by every collector");
});

Deno.test("the clock gate's metrics: sync state, TAI offset, PHC, linuxptp, refusing", async () => {
  const m = new AgentMetrics(() => null);
  let synced = false;
  const gate = new ClockGate({
    probe: () =>
      Promise.resolve({
        system: {
          state: synced ? "TIME_OK" : "TIME_ERROR",
          status: synced ? 0 : 0x40,
          synchronized: synced,
          taiOffsetS: synced ? 37 : 0,
          maxErrorUs: synced ? 500 : 16_000_000,
          estErrorUs: 0,
        },
        phcs: [
          { ifname: "eth1", phcIndex: 0, source: "ioctl", hardwareTx: true, hardwareRx: true },
          { ifname: "tsn0", phcIndex: null, source: "ioctl", hardwareTx: false, hardwareRx: false },
        ],
        linuxptp: [{ name: "ptp4l", pid: 812, ifaces: ["eth1"] }],
        ptp4l: { ok: true, status: { masterOffsetNs: -15, gmPresent: true, gmIdentity: null } },
      }),
    bounds: { maxPtpOffsetNs: 0 },
    require: true,
    sink: null,
    log: () => {},
    metrics: m.clock,
  });
  await gate.run();
  let text = await m.registry.metrics();
  ok(text.includes("tsnproxy_clock_synchronized 0"), text);
  ok(text.includes("tsnproxy_clock_tai_offset_seconds 0"));
  ok(text.includes("tsnproxy_clock_max_error_seconds 16"));
  ok(text.includes('tsnproxy_ptp_phc_index{ifname="eth1"} 0'));
  ok(text.includes('tsnproxy_ptp_phc_index{ifname="tsn0"} -1'));
  ok(text.includes('tsnproxy_ptp_daemon_running{daemon="ptp4l"} 1'));
  ok(text.includes('tsnproxy_ptp_daemon_running{daemon="phc2sys"} 0'));
  ok(text.includes('tsnproxy_ptp_offset_ns{iface="eth1"} -15'));
  ok(text.includes("tsnproxy_txtime_refusing 1"));
  ok(text.includes('tsnproxy_clock_transitions_total{to="refusing"} 1'));
  synced = true;
  await gate.run();
  text = await m.registry.metrics();
  ok(text.includes("tsnproxy_clock_synchronized 1"), text);
  ok(text.includes("tsnproxy_clock_tai_offset_seconds 37"));
  ok(text.includes("tsnproxy_txtime_refusing 0"));
  ok(text.includes('tsnproxy_clock_transitions_total{to="restoring"} 1'));
});

Deno.test("the agent's memory: resident set, V8 heap and external buffers", async () => {
  const text = await new AgentMetrics(() => null).registry.metrics();
  const value = (kind: string) =>
    Number(
      new RegExp(`^tsnproxy_agent_memory_bytes\\{kind="${kind}"\\} (\\d+)$`, "m").exec(text)?.[1],
    );
  const rss = value("rss"), used = value("heap_used"), total = value("heap_total");
  ok(rss > 10 * 2 ** 20, `rss ${rss}`);
  ok(used > 0 && used <= total && total < rss, `heap ${used}/${total}, rss ${rss}`);
  ok(value("external") >= 0);
});
