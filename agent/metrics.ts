/**
 * The agent's Prometheus metrics (prom-client) and its small HTTP server: `/metrics`, `/readyz`
 * (200 once the datapath is loaded and the conf entry is in place, else 503 with the reason) and
 * `/healthz` (the process answers).
 *
 * | metric                                      | kind      | labels                   |
 * | ------------------------------------------- | --------- | ------------------------ |
 * | tsnproxy_cni_requests_total                 | counter   | command, result          |
 * | tsnproxy_cni_request_duration_seconds       | histogram | command                  |
 * | tsnproxy_attachments                        | gauge     |                          |
 * | tsnproxy_pod_decisions_total                | counter   | decision                 |
 * | tsnproxy_policy_clamps_total                | counter   | namespace                |
 * | tsnproxy_policy_default_classes_total       | counter   | namespace                |
 * | tsnproxy_optin_lookups_total                | counter   | result                   |
 * | tsnproxy_reconciler_rewrites_total          | counter   | reason                   |
 * | tsnproxy_reconciler_conflicts_total         | counter   | file                     |
 * | tsnproxy_reconciler_errors_total            | counter   |                          |
 * | tsnproxy_install_steps_total                | counter   | step, result             |
 * | tsnproxy_ready                              | gauge     |                          |
 * | tsnproxy_datapath_info                      | gauge     | strategy, store          |
 * | tsnproxy_datapath_packets_total             | counter   | counter (BPF), strategy  |
 * | tsnproxy_priority_clamped_packets_total     | counter   |                          |
 * | tsnproxy_datapath_records                   | gauge     |                          |
 * | tsnproxy_datapath_stale_records             | gauge     |                          |
 * | tsnproxy_datapath_records_capacity          | gauge     |                          |
 * | tsnproxy_datapath_tracker_attached          | gauge     | program, strategy        |
 * | tsnproxy_datapath_restorer_attached         | gauge     | ifname, mode             |
 * | tsnproxy_datapath_restorer_reattached_total | counter   | ifname                   |
 * | tsnproxy_datapath_interface_missing         | gauge     | ifname                   |
 * | tsnproxy_datapath_savers                    | gauge     | mode                     |
 * | tsnproxy_datapath_savers_default_class      | gauge     |                          |
 * | tsnproxy_datapath_missing_pins              | gauge     |                          |
 * | tsnproxy_clock_synchronized                 | gauge     |                          |
 * | tsnproxy_clock_tai_offset_seconds           | gauge     |                          |
 * | tsnproxy_clock_max_error_seconds            | gauge     |                          |
 * | tsnproxy_ptp_phc_index                      | gauge     | ifname                   |
 * | tsnproxy_ptp_daemon_running                 | gauge     | daemon                   |
 * | tsnproxy_ptp_offset_ns                      | gauge     | iface                    |
 * | tsnproxy_txtime_refusing                    | gauge     |                          |
 * | tsnproxy_clock_transitions_total            | counter   | to                       |
 * | tsnproxy_agent_memory_bytes                 | gauge     | kind                     |
 *
 * Among the BPF counters, `save_defaulted` counts packets that got their pod's default class
 * (`tsn-proxy.io/priority`), `txtime_denied` and `txtime_beyond_horizon` the txtimes the policy
 * kept from leaving, `tstamp_dropped` those a restorer had to clear (the kernel kept them).
 *
 * The BPF counters are node-wide (one per-CPU array shared by every saver and restorer), so they
 * carry the strategy, not an interface; what is per interface is the restorer attachment.
 *
 * `tsnproxy_agent_memory_bytes` splits the agent's own memory the way Deno sees it (`rss`, V8's
 * `heap_used` and `heap_total`, `external` buffers), so a growing RSS says whether JavaScript
 * objects or native memory (libbpf, the runtime) grew.
 *
 * @example
 * ```ts ignore
 * import { AgentMetrics, serveMetrics } from "./metrics.ts";
 * const m = new AgentMetrics(() => Datapath.open({ stateFile }).stats());
 * const server = serveMetrics("127.0.0.1:9402", m, () => null);
 * ```
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { DatapathStats } from "@tsn-proxy/bpf/datapath";
import type { HandlerMetrics } from "./handler.ts";
import type { ReconcilerMetrics } from "./reconciler.ts";
import { type GateMetrics, isTimex, LINUXPTP_DAEMONS } from "./clock/mod.ts";

/** Converts a BPF counter name (camelCase) to a label value (snake_case). */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Every metric of the agent, in its own registry. */
export class AgentMetrics {
  readonly registry: Registry = new Registry();
  readonly cniRequests: Counter<"command" | "result">;
  readonly callersRefused: Counter<"reason">;
  readonly cniDuration: Histogram<"command">;
  readonly attachments: Gauge;
  readonly optInLookups: Counter<"result">;
  readonly decisions: Counter<"decision">;
  readonly policyClamps: Counter<"namespace">;
  readonly policyReclamps: Counter<"result">;
  readonly policyDefaultClasses: Counter<"namespace">;
  readonly rewrites: Counter<"reason">;
  readonly conflicts: Counter<"file">;
  readonly reconcileErrors: Counter;
  readonly installSteps: Counter<"step" | "result">;
  readonly ready: Gauge;
  readonly restorerReattached: Counter<"ifname">;
  readonly interfaceMissing: Gauge<"ifname">;
  readonly clockSynchronized: Gauge;
  readonly clockTaiOffset: Gauge;
  readonly clockMaxError: Gauge;
  readonly phcIndex: Gauge<"ifname">;
  readonly ptpDaemon: Gauge<"daemon">;
  readonly ptpOffset: Gauge<"iface">;
  readonly txtimeRefusing: Gauge;
  readonly clockTransitions: Counter<"to">;

  /** @param stats reads the datapath on each scrape; null when it is not up. */
  constructor(stats: () => DatapathStats | null) {
    const registers = [this.registry];
    this.cniRequests = new Counter({
      name: "tsnproxy_cni_requests_total",
      help: "CNI requests the agent handled, by command and result (ok or the CNI error code)",
      labelNames: ["command", "result"],
      registers,
    });
    this.callersRefused = new Counter({
      name: "tsnproxy_cni_callers_refused_total",
      help: "Connections to the plugin socket refused without handling their request: the caller " +
        "was not root (uid) or ran in another user namespace (userns)",
      labelNames: ["reason"],
      registers,
    });
    this.cniDuration = new Histogram({
      name: "tsnproxy_cni_request_duration_seconds",
      help: "Time the agent took per CNI request",
      labelNames: ["command"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.attachments = new Gauge({
      name: "tsnproxy_attachments",
      help: "Pod interfaces with a tsn-proxy saver",
      registers,
    });
    this.optInLookups = new Counter({
      name: "tsnproxy_optin_lookups_total",
      help: "Opt-in lookups through the Kubernetes API (runtime passed no annotations)",
      labelNames: ["result"],
      registers,
    });
    this.decisions = new Counter({
      name: "tsnproxy_pod_decisions_total",
      help: "What the agent decided per pod: attached, skipped (not opted in), refused (not " +
        "ready, CNI error 11), failed (attach error), detached (DEL, GC, sweep)",
      labelNames: ["decision"],
      registers,
    });
    this.policyClamps = new Counter({
      name: "tsnproxy_policy_clamps_total",
      help: "Opted-in pods whose saver got a priority clamp from the policy, by namespace " +
        '("" when the runtime passed none)',
      labelNames: ["namespace"],
      registers,
    });
    this.policyDefaultClasses = new Counter({
      name: "tsnproxy_policy_default_classes_total",
      help: "Opted-in pods whose saver got a default class (annotation tsn-proxy.io/priority), " +
        'by namespace ("" when the runtime passed none)',
      labelNames: ["namespace"],
      registers,
    });
    this.policyReclamps = new Counter({
      name: "tsnproxy_policy_reclamps_total",
      help: "Running savers given a new config (clamp, txtime rule) after a policy change, by " +
        "result (ok, error)",
      labelNames: ["result"],
      registers,
    });
    this.rewrites = new Counter({
      name: "tsnproxy_reconciler_rewrites_total",
      help: "Writes of CNI config files by the reconciler, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.conflicts = new Counter({
      name: "tsnproxy_reconciler_conflicts_total",
      help: "Times another component removed the tsn-proxy entry after the agent wrote it",
      labelNames: ["file"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "tsnproxy_reconciler_errors_total",
      help: "Reconciler passes that failed",
      registers,
    });
    this.installSteps = new Counter({
      name: "tsnproxy_install_steps_total",
      help: "Node install steps (datapath, plugin, socket, conf), by result",
      labelNames: ["step", "result"],
      registers,
    });
    this.restorerReattached = new Counter({
      name: "tsnproxy_datapath_restorer_reattached_total",
      help:
        "Times a TSN interface came back (deleted and created again, new ifindex) or lost its " +
        "restorer, and the agent attached the restorer again",
      labelNames: ["ifname"],
      registers,
    });
    this.interfaceMissing = new Gauge({
      name: "tsnproxy_datapath_interface_missing",
      help: "1 per TSN interface of restoreOn that did not exist at the last restorer check " +
        "(never there, or deleted): no restorer on it until it appears; the node stays ready",
      labelNames: ["ifname"],
      registers,
    });
    this.clockSynchronized = new Gauge({
      name: "tsnproxy_clock_synchronized",
      help:
        "1 when the system clock is synchronised (adjtimex: not TIME_ERROR, STA_UNSYNC clear; " +
        "with txtime.maxPtpOffsetNs also ptp4l within it), 0 otherwise; absent before the first check",
      registers,
    });
    this.clockTaiOffset = new Gauge({
      name: "tsnproxy_clock_tai_offset_seconds",
      help:
        "TAI - UTC the kernel applies to CLOCK_TAI (adjtimex tai; 0: never set, CLOCK_TAI = UTC)",
      registers,
    });
    this.clockMaxError = new Gauge({
      name: "tsnproxy_clock_max_error_seconds",
      help:
        "The kernel's maximum error of the system clock (adjtimex maxerror; 16 s: unsynchronised)",
      registers,
    });
    this.phcIndex = new Gauge({
      name: "tsnproxy_ptp_phc_index",
      help: "The PTP hardware clock (/dev/ptpN) of each TSN interface, -1: none or unknown",
      labelNames: ["ifname"],
      registers,
    });
    this.ptpDaemon = new Gauge({
      name: "tsnproxy_ptp_daemon_running",
      help: "Running linuxptp daemons on the node (ptp4l, phc2sys, ts2phc, timemaster), by name",
      labelNames: ["daemon"],
      registers,
    });
    this.ptpOffset = new Gauge({
      name: "tsnproxy_ptp_offset_ns",
      help: "ptp4l's last offset to its master (pmc GET TIME_STATUS_NP), per interface ptp4l was " +
        'started on with -i ("" when from its config file); absent when it cannot be read',
      labelNames: ["iface"],
      registers,
    });
    this.txtimeRefusing = new Gauge({
      name: "tsnproxy_txtime_refusing",
      help: "1 while the agent tells the restorer to refuse txtimes (txtime.requireSyncedClock " +
        "and an unsynchronised clock); the packets refused are the BPF counter " +
        "rejected_unsynced_clock",
      registers,
    });
    this.clockTransitions = new Counter({
      name: "tsnproxy_clock_transitions_total",
      help: "Changes between restoring and refusing txtimes, by the state entered",
      labelNames: ["to"],
      registers,
    });
    this.ready = new Gauge({
      name: "tsnproxy_ready",
      help: "1 when the datapath is loaded and the conf entry is in place",
      registers,
    });
    new Gauge({
      name: "tsnproxy_agent_memory_bytes",
      help: "The agent's memory: resident set, V8 heap used and total, external buffers",
      labelNames: ["kind"],
      registers,
      collect() {
        const m = Deno.memoryUsage();
        this.set({ kind: "rss" }, m.rss);
        this.set({ kind: "heap_used" }, m.heapUsed);
        this.set({ kind: "heap_total" }, m.heapTotal);
        this.set({ kind: "external" }, m.external);
      },
    });
    let snapshot: DatapathStats | null = null;
    let takenAt = 0;
    // One stats snapshot per scrape, shared by the collectors below.
    const read = () => {
      if (Date.now() - takenAt > 500) {
        try {
          snapshot = stats();
        } catch {
          snapshot = null;
        }
        takenAt = Date.now();
      }
      return snapshot;
    };
    new Gauge({
      name: "tsnproxy_datapath_info",
      help: "1 while a datapath is loaded, labelled with its strategy and record store",
      labelNames: ["strategy", "store"],
      registers,
      collect() {
        this.reset();
        const s = read();
        if (s) this.set({ strategy: s.state.strategy, store: s.state.store }, 1);
      },
    });
    new Counter({
      name: "tsnproxy_datapath_packets_total",
      help:
        "BPF datapath counters (saved, restored, rejected_fingerprint, ...), summed over CPUs; " +
        "node-wide, so labelled with the strategy",
      labelNames: ["counter", "strategy"],
      registers,
      collect() {
        this.reset();
        const s = read();
        if (!s) return;
        for (const [k, v] of Object.entries(s.counters)) {
          this.inc({ counter: snake(k), strategy: s.state.strategy }, Number(v));
        }
      },
    });
    new Counter({
      name: "tsnproxy_priority_clamped_packets_total",
      help: "Packets whose priority the namespace policy clamped",
      registers,
      collect() {
        this.reset();
        const s = read();
        if (s) this.inc(Number(s.counters.saveClamped));
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_records",
      help:
        "Live records in the datapath's store right now (occupancy; younger than the age bound)",
      registers,
      collect() {
        this.set(read()?.records ?? 0);
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_stale_records",
      help: "Records past the age bound (their packet never reached a restorer); every restorer " +
        "refuses them and the store overwrites them in time",
      registers,
      collect() {
        this.set(read()?.staleRecords ?? 0);
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_records_capacity",
      help: "Records the store can hold (buckets: buckets x 4 ways; lru: map size)",
      registers,
      collect() {
        this.set(read()?.recordsMax ?? 0);
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_tracker_attached",
      help: "1 when a strategy tracker is attached, 0 when the kernel refused it (degraded)",
      labelNames: ["program", "strategy"],
      registers,
      collect() {
        this.reset();
        const s = read();
        for (const t of s?.state.trackers ?? []) {
          this.set(
            { program: t.program, strategy: s!.state.strategy },
            t.state === "attached" ? 1 : 0,
          );
        }
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_restorer_attached",
      help: "1 per TSN interface whose restorer is attached (0: its link pin is gone, the " +
        "interface was deleted and the link is defunct until the agent re-attaches it, or " +
        'mode="none": the interface did not exist yet, the restorer is attached when it appears)',
      labelNames: ["ifname", "mode"],
      registers,
      collect() {
        this.reset();
        const s = read();
        for (const r of s?.state.restorers ?? []) {
          const gone = s!.missingPins.some((p) => p.endsWith(`/restore/${r.ifname}`)) ||
            s!.detachedRestorers.includes(r.ifname);
          this.set({ ifname: r.ifname, mode: r.mode.kind }, gone ? 0 : 1);
        }
        for (const ifname of s?.state.pendingRestorers ?? []) this.set({ ifname, mode: "none" }, 0);
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_savers",
      help: "Pod savers the datapath holds, by attach mode (tcx or clsact)",
      labelNames: ["mode"],
      registers,
      collect() {
        this.reset();
        const s = read();
        if (!s) return;
        this.set({ mode: "tcx" }, s.state.pods.filter((p) => p.mode.kind === "tcx").length);
        this.set({ mode: "clsact" }, s.state.pods.filter((p) => p.mode.kind === "clsact").length);
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_savers_default_class",
      help: "Pod savers the datapath holds that give packets without a priority the pod's " +
        "default class",
      registers,
      collect() {
        this.set(read()?.state.pods.filter((p) => p.defaultPriority).length ?? 0);
      },
    });
    new Gauge({
      name: "tsnproxy_datapath_missing_pins",
      help: "Pins the datapath state names that bpffs no longer has (something removed them)",
      registers,
      collect() {
        this.set(read()?.missingPins.length ?? 0);
      },
    });
  }

  /** Records one CNI request. */
  observeRequest(command: string, result: string, seconds: number): void {
    this.cniRequests.inc({ command, result });
    this.cniDuration.observe({ command }, seconds);
  }

  /** The handler's view. */
  get handler(): HandlerMetrics {
    return {
      optInLookup: (result) => this.optInLookups.inc({ result }),
      attachments: (n) => this.attachments.set(n),
      decision: (decision) => this.decisions.inc({ decision }),
      clamp: (namespace) => this.policyClamps.inc({ namespace }),
      reclamp: (result) => this.policyReclamps.inc({ result }),
      defaultClass: (namespace) => this.policyDefaultClasses.inc({ namespace }),
    };
  }

  /** The clock gate's view. */
  get clock(): GateMetrics {
    return {
      observe: (f, verdict, refusing) => {
        this.clockSynchronized.set(verdict.synced ? 1 : 0);
        if (isTimex(f.system)) {
          this.clockTaiOffset.set(f.system.taiOffsetS);
          this.clockMaxError.set(f.system.maxErrorUs / 1e6);
        }
        this.phcIndex.reset();
        for (const p of f.phcs) this.phcIndex.set({ ifname: p.ifname }, p.phcIndex ?? -1);
        for (const d of LINUXPTP_DAEMONS) {
          this.ptpDaemon.set({ daemon: d }, f.linuxptp.filter((p) => p.name === d).length);
        }
        this.ptpOffset.reset();
        if (f.ptp4l?.ok) {
          const ifaces = f.linuxptp.filter((p) => p.name === "ptp4l").flatMap((p) => p.ifaces);
          for (const iface of ifaces.length ? ifaces : [""]) {
            this.ptpOffset.set({ iface }, f.ptp4l.status.masterOffsetNs);
          }
        }
        this.txtimeRefusing.set(refusing ? 1 : 0);
      },
      transition: (refusing) =>
        this.clockTransitions.inc({ to: refusing ? "refusing" : "restoring" }),
    };
  }

  /** The reconciler's view. */
  get reconciler(): ReconcilerMetrics {
    return {
      rewrite: (reason) => this.rewrites.inc({ reason }),
      conflict: (file) => this.conflicts.inc({ file }),
      error: () => this.reconcileErrors.inc(),
    };
  }
}

/** A running metrics server. */
export interface MetricsServer {
  close(): Promise<void>;
}

/** Serves /metrics, /readyz and /healthz on `host:port` or `unix:/path`. */
export function serveMetrics(
  address: string,
  metrics: AgentMetrics,
  notReady: () => string | null,
): MetricsServer {
  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === "/metrics") {
      metrics.ready.set(notReady() === null ? 1 : 0);
      return new Response(await metrics.registry.metrics(), {
        headers: { "content-type": metrics.registry.contentType },
      });
    }
    if (path === "/readyz") {
      const why = notReady();
      return why === null
        ? new Response("ok\n")
        : new Response(`not ready: ${why}\n`, { status: 503 });
    }
    if (path === "/healthz") return new Response("ok\n");
    return new Response("not found\n", { status: 404 });
  };
  const onListen = () => {};
  let server: Deno.HttpServer;
  if (address.startsWith("unix:")) {
    const path = address.slice("unix:".length);
    try {
      Deno.removeSync(path);
    } catch { /* none */ }
    server = Deno.serve({ path, onListen }, handler);
  } else {
    const i = address.lastIndexOf(":");
    const hostname = address.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0";
    server = Deno.serve({ hostname, port: Number(address.slice(i + 1)), onListen }, handler);
  }
  return {
    async close() {
      await server.shutdown();
      if (address.startsWith("unix:")) {
        await Deno.remove(address.slice("unix:".length)).catch(() => {});
      }
    },
  };
}
