/**
 * The node agent's life: node init, serving, and uninstall.
 *
 * Start, in this order (each step counted in `tsnproxy_install_steps_total`):
 * 1. datapath `up` for the configured strategy, or adoption of the one a previous agent left
 *    pinned (a tracker the kernel refuses degrades the strategy and is reported; a failing `up`,
 *    e.g. bpffs not writable, is retried every 5 s while the agent reports not ready). A TSN
 *    interface that does not exist does not fail `up`: the agent is ready without a restorer on
 *    it and reports it missing. From then on the restorers are checked every
 *    `restorerCheckIntervalMs`: a TSN interface that appears gets its restorer, one that was
 *    deleted and created again gets it back (counted, logged once per transition);
 * 2. sweep: attachments whose netns is gone (DELs missed while no agent ran) are removed;
 * 3. the plugin is installed into the CNI bin dir;
 * 4. the plugin socket is served;
 * 5. the metrics server (/metrics, /readyz, /healthz) starts;
 * 6. the conf reconciler starts — only once the plugin is in the bin dir, since an entry naming a
 *    missing plugin would fail every pod of the node.
 *
 * Beside them, every `clock.checkIntervalMs` the clock gate judges the clock behind the txtimes
 * (metrics `tsnproxy_clock_*`, `tsnproxy_ptp_*`) and, with `txtime.requireSyncedClock`, tells the
 * restorer to refuse txtimes while it is unsynchronised (./clock/gate.ts).
 *
 * Stopping (SIGTERM) leaves the datapath pinned and the conf entry in place: pods keep their
 * metadata and a restarted agent adopts the state. `uninstall` removes everything.
 *
 * @example
 * ```ts ignore
 * import { runAgent } from "./agent.ts";
 * const agent = await runAgent(await loadConfig("/etc/tsn-proxy/agent.yaml"));
 * await agent.stop();
 * ```
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { getStrategy } from "@tsn-proxy/strategies";
import type { AgentRequest } from "@tsn-proxy/cni/protocol";
import {
  type AgentConfig,
  confOriginalsDirOf,
  indexFileOf,
  parsePolicyFile,
  POLICY_CHECK_INTERVAL_MS,
  stateFileOf,
} from "./config.ts";
import { AttachmentIndex } from "./attachments.ts";
import { pluginEntry } from "./conflist.ts";
import { NodeDatapath } from "./datapath.ts";
import { CniHandler } from "./handler.ts";
import { installPlugin, uninstallPlugin } from "./install.ts";
import { kubernetesLookup, type PodLookup } from "./k8s.ts";
import { createLog, errorMessage, type Log } from "./log.ts";
import { AgentMetrics, type MetricsServer, serveMetrics } from "./metrics.ts";
import { ConfReconciler } from "./reconciler.ts";
import { RestorerWatch } from "./restorers.ts";
import {
  type ClockFacts,
  ClockGate,
  type ClockSwitch,
  mapClockSwitch,
  probeClock,
} from "./clock/mod.ts";
import { PinLayout } from "@tsn-proxy/bpf/datapath";
import { BpfMap } from "@tsn-proxy/bpf/libbpf";
import { type CniServer, serveCni, socketInUse } from "./server.ts";

/** Options of {@link runAgent}. */
export interface RunOptions {
  /** Default: stderr in the config's `logFormat`. */
  readonly log?: Log;
  /** Overrides the API lookup (tests). */
  readonly lookup?: PodLookup;
  /** Overrides the clock probe (tests: a fake node). */
  readonly clockProbe?: () => Promise<ClockFacts>;
  /** The datapath's clock switch; default: the pinned gate map the restorer reads (tests: a fake). */
  readonly clockSwitch?: ClockSwitch;
}

/** A running agent. */
export interface RunningAgent {
  readonly handler: CniHandler;
  readonly reconciler: ConfReconciler;
  readonly datapath: NodeDatapath;
  readonly metrics: AgentMetrics;
  /** The restorer transitions (TSN interfaces absent at the last check). */
  readonly restorers: RestorerWatch;
  /** The clock behind the txtimes, judged every `clock.checkIntervalMs`. */
  readonly clock: ClockGate;
  /** Why the node is not ready, or null. */
  notReady(): string | null;
  /** Stops serving; leaves datapath, plugin and conf entry in place. */
  stop(): Promise<void>;
}

/** Starts the agent for cfg; resolves once it serves. */
export async function runAgent(cfg: AgentConfig, opts: RunOptions = {}): Promise<RunningAgent> {
  const log = opts.log ?? createLog(cfg.logFormat);
  const strategy = getStrategy(cfg.strategy);
  const metrics = new AgentMetrics(() => datapath.stats());
  const step = (name: string, ok: boolean) =>
    metrics.installSteps.inc({ step: name, result: ok ? "ok" : "error" });
  if (!cfg.policy.configured) {
    log(
      "WARNING no priority policy configured: every opted-in pod is clamped to priority 0 " +
        "(best effort) until a policy section grants more (see agent/README.md)",
      { event: "policy.missing", level: "warn" },
    );
  }

  // 1. datapath
  const datapath = new NodeDatapath({
    strategy,
    bpffs: cfg.bpffs,
    restoreOn: cfg.restoreOn,
    stateFile: stateFileOf(cfg),
    maxAgeMs: cfg.maxAgeMs,
    cleanup: cfg.cleanup,
  });
  let retry: ReturnType<typeof setInterval> | undefined;
  const bringUp = (): boolean => {
    try {
      const r = datapath.bringUp();
      step("datapath", true);
      const pending = r.state.pendingRestorers ?? [];
      log(
        `datapath ${r.adopted ? "adopted" : "loaded"}: ${strategy.name}, restorers on ` +
          `${r.state.restorers.map((x) => `${x.ifname} (${x.mode.kind})`).join(", ") || "none"}` +
          `${pending.length ? ` (waiting for ${pending.join(", ")})` : ""}, ` +
          `${r.state.pods.length} pod saver(s)`,
        {
          event: r.adopted ? "datapath.adopted" : "datapath.loaded",
          strategy: strategy.name,
          store: r.state.store,
          bpffs: r.state.bpffs,
          restorers: r.state.restorers.map((x) => ({ ifname: x.ifname, mode: x.mode.kind })),
          pendingRestorers: pending,
          savers: r.state.pods.length,
        },
      );
      for (const t of r.state.trackers.filter((t) => t.state === "unavailable")) {
        log(
          `WARNING strategy ${strategy.name} degraded: tracker ${t.program}: ` +
            `${t.reason ?? "unavailable"}`,
          {
            event: "tracker.unavailable",
            level: "warn",
            strategy: strategy.name,
            program: t.program,
            reason: t.reason ?? "unavailable",
          },
        );
      }
      return true;
    } catch (e) {
      step("datapath", false);
      log(`${errorMessage(e)}; retrying in 5 s`, {
        event: "datapath.up_failed",
        level: "error",
        strategy: strategy.name,
        error: errorMessage(e),
        retryInMs: 5000,
      });
      return false;
    }
  };
  // 1b. restorers: a TSN interface that did not exist at `up` gets its restorer when it appears;
  // one that is deleted and created again (driver reload, VF reset) comes back with a new ifindex
  // and without its restorer: re-attach it and record the index. Transitions are logged once.
  const restorers = new RestorerWatch({
    check: () => datapath.checkRestorers(),
    log,
    metrics: {
      reattached: (ifname) => metrics.restorerReattached.inc({ ifname }),
      missing: (ifname, missing) => metrics.interfaceMissing.set({ ifname }, missing ? 1 : 0),
    },
  });
  const checkRestorers = () => {
    restorers.run();
  };
  if (!bringUp()) {
    retry = setInterval(() => {
      if (bringUp()) {
        clearInterval(retry);
        checkRestorers();
      }
    }, 5000);
  } else {
    checkRestorers(); // reports missing interfaces; an adopted datapath may predate a re-created one
  }
  const restorerTimer = setInterval(checkRestorers, cfg.restorerCheckIntervalMs);

  // 1c. the clock behind the txtimes
  const clock = new ClockGate({
    probe: opts.clockProbe ??
      (() => probeClock({ ifaces: cfg.restoreOn, procRoot: cfg.clock.procRoot })),
    bounds: { maxPtpOffsetNs: cfg.txtime.maxPtpOffsetNs },
    require: cfg.txtime.requireSyncedClock,
    // The restorer reads the pinned gate before it restores a txtime (bpf/src/maps.bpf.h).
    sink: opts.clockSwitch ??
      mapClockSwitch(() => BpfMap.fromPinned(new PinLayout(cfg.bpffs).clockGate)),
    log,
    metrics: metrics.clock,
  });
  let clockRun: Promise<unknown> = Promise.resolve();
  const checkClock = () => {
    clockRun = clock.run().catch((e) =>
      log(`clock check failed: ${errorMessage(e)}`, {
        event: "clock.check_failed",
        level: "error",
        error: errorMessage(e),
      })
    );
  };
  checkClock();
  const clockTimer = setInterval(checkClock, cfg.clock.checkIntervalMs);

  // 2. attachments and the sweep
  const lookup = opts.lookup ??
    (cfg.kubernetes.enabled
      ? kubernetesLookup({ kubeconfig: cfg.kubernetes.kubeconfig })
      : undefined);
  const reconciler = new ConfReconciler({
    confDir: cfg.cni.confDir,
    entry: pluginEntry({ socketPath: cfg.socketPath, optIn: cfg.cni.optIn }),
    originalsDir: confOriginalsDirOf(cfg),
    minRewriteIntervalMs: cfg.cni.minRewriteIntervalMs,
    maxBackoffMs: cfg.cni.maxRewriteBackoffMs,
    resyncIntervalMs: cfg.cni.resyncIntervalMs,
    log,
    metrics: metrics.reconciler,
  });
  const notReady = () => datapath.notReady() ?? reconciler.notReadyReason();
  const handler = new CniHandler({
    datapath,
    index: new AttachmentIndex(indexFileOf(cfg)),
    policy: cfg.policy,
    ...(lookup ? { lookup } : {}),
    ready: notReady,
    log,
    metrics: metrics.handler,
  });
  // 2b. a policy file: re-read, and a change re-clamps running savers in place.
  let policyText: string | undefined;
  const reloadPolicy = () => {
    let text: string;
    try {
      text = Deno.readTextFileSync(cfg.policyFile);
    } catch (e) {
      if (policyText !== "") {
        log(
          `policy: cannot read ${cfg.policyFile} (${errorMessage(e)}); keeping the current policy`,
          {
            event: "policy.unreadable",
            level: "error",
            file: cfg.policyFile,
            error: errorMessage(e),
          },
        );
      }
      policyText = "";
      return;
    }
    if (text === policyText) return;
    const first = policyText === undefined;
    policyText = text;
    let policy;
    try {
      policy = parsePolicyFile(text, cfg.policyFile);
    } catch (e) {
      log(`policy: ${errorMessage(e)}; keeping the current policy`, {
        event: "policy.invalid",
        level: "error",
        file: cfg.policyFile,
        error: errorMessage(e),
      });
      return;
    }
    if (datapath.notReady() !== null) {
      policyText = undefined; // applied once the datapath is up
      return;
    }
    const r = handler.applyPolicy(policy);
    if (!first || r.changed || r.failed) {
      log(
        `policy: ${cfg.policyFile} ${first ? "read" : "changed"}: ${r.changed} running ` +
          `saver(s) re-clamped${r.failed ? `, ${r.failed} failed` : ""}` +
          `${policy.configured ? "" : " (no policy section: every pod clamped to 0)"}`,
        {
          event: "policy.reloaded",
          file: cfg.policyFile,
          changed: r.changed,
          failed: r.failed,
          configured: policy.configured,
        },
      );
    }
  };
  const policyTimer = cfg.policyFile
    ? setInterval(reloadPolicy, POLICY_CHECK_INTERVAL_MS)
    : undefined;

  const sweep = () => {
    if (datapath.notReady() !== null) return;
    const n = handler.sweep();
    if (n) {
      log(`sweep: removed ${n} attachment(s) whose pod is gone`, { event: "sweep", removed: n });
    }
    try {
      const orphans = datapath.removeOrphans();
      if (orphans.length) {
        log(
          `sweep: removed ${orphans.length} saver pin dir(s) no state names (an agent stopped ` +
            `between attach and state write): ${orphans.join(", ")}`,
          { event: "sweep.orphans", removed: orphans },
        );
      }
    } catch (e) {
      log(`sweep: cannot remove orphan pins: ${errorMessage(e)}`, {
        event: "sweep.failed",
        level: "error",
        error: errorMessage(e),
      });
    }
  };
  sweep();
  const sweeper = setInterval(sweep, 60_000);

  // 3. plugin
  const launcher = join(cfg.cni.binDir, "tsn-proxy");
  if (cfg.cni.pluginDir) {
    try {
      const r = await installPlugin(cfg.cni.pluginDir, cfg.cni.binDir);
      step("plugin", true);
      log(
        `plugin in ${cfg.cni.binDir}: ${
          r.written.length ? `wrote ${r.written.join(", ")}` : "up to date"
        }`,
        { event: "plugin.installed", binDir: cfg.cni.binDir, written: r.written },
      );
    } catch (e) {
      step("plugin", false);
      log(`cannot install the plugin: ${errorMessage(e)}`, {
        event: "plugin.install_failed",
        level: "error",
        binDir: cfg.cni.binDir,
        error: errorMessage(e),
      });
    }
  } else {
    log("cni.pluginDir not set (nor $TSN_PROXY_PLUGIN_DIR): not installing the plugin", {
      event: "plugin.not_configured",
      level: "warn",
    });
  }

  // 4. socket
  let server: CniServer;
  try {
    server = await serveCni(
      cfg.socketPath,
      async (req: AgentRequest) => {
        const t0 = performance.now();
        const res = await handler.handle(req);
        metrics.observeRequest(
          req.command,
          res.ok ? "ok" : String(res.code),
          (performance.now() - t0) / 1000,
        );
        if (!res.ok) {
          log(
            `${req.command} ${req.containerId}: error ${res.code} ${res.msg} ${res.details ?? ""}`,
            {
              event: "cni.error",
              level: "error",
              command: req.command,
              containerId: req.containerId,
              code: res.code,
              error: res.msg,
              details: res.details ?? "",
            },
          );
        }
        return res;
      },
      log,
      { refused: (reason) => metrics.callersRefused.inc({ reason }) },
    );
    step("socket", true);
  } catch (e) {
    step("socket", false);
    clearInterval(retry);
    clearInterval(sweeper);
    clearInterval(restorerTimer);
    clearInterval(clockTimer);
    clearInterval(policyTimer);
    throw e;
  }

  // 5. metrics
  let metricsServer: MetricsServer | undefined;
  if (cfg.metricsAddress) {
    try {
      metricsServer = serveMetrics(cfg.metricsAddress, metrics, notReady);
      step("metrics", true);
    } catch (e) {
      step("metrics", false);
      log(`metrics server on ${cfg.metricsAddress} failed: ${errorMessage(e)}`, {
        event: "metrics.failed",
        level: "error",
        address: cfg.metricsAddress,
        error: errorMessage(e),
      });
    }
  }

  // 6. conf entry, only with the plugin in place
  if (existsSync(launcher)) {
    const r = await reconciler.start();
    step("conf", r.state === "in-place" || r.state === "written");
    log(
      `conf: ${r.state}${"file" in r ? ` ${r.file}` : ""}${"reason" in r ? ` (${r.reason})` : ""}`,
      {
        event: "conf.state",
        state: r.state,
        ...("file" in r ? { file: r.file } : {}),
        ...("reason" in r ? { reason: r.reason } : {}),
      },
    );
  } else {
    step("conf", false);
    log(`${launcher} missing: not touching the CNI config (pods would fail without the plugin)`, {
      event: "conf.skipped",
      level: "error",
      reason: `${launcher} missing`,
    });
  }

  return {
    handler,
    reconciler,
    datapath,
    metrics,
    restorers,
    clock,
    notReady: () => existsSync(launcher) ? notReady() : `${launcher} missing`,
    async stop() {
      clearInterval(retry);
      clearInterval(sweeper);
      clearInterval(restorerTimer);
      clearInterval(clockTimer);
      clearInterval(policyTimer);
      await clockRun; // a pmc in flight must not outlive the agent
      await reconciler.stop();
      await server.close();
      await metricsServer?.close();
    },
  };
}

/** What uninstall removed. */
export interface UninstallResult {
  readonly confFiles: string[];
  readonly pluginFiles: string[];
}

/**
 * Removes tsn-proxy from the node: the conf entries, every saver and restorer, the pins, the
 * plugin, the state files and the socket. Refuses while an agent answers on the socket.
 */
export async function uninstall(
  cfg: AgentConfig,
  log: Log = createLog(cfg.logFormat),
): Promise<UninstallResult> {
  if (await socketInUse(cfg.socketPath)) {
    throw new Error(`an agent is running (it answers on ${cfg.socketPath}); stop it first`);
  }
  const reconciler = new ConfReconciler({
    confDir: cfg.cni.confDir,
    entry: pluginEntry({ socketPath: cfg.socketPath, optIn: cfg.cni.optIn }),
    originalsDir: confOriginalsDirOf(cfg),
    log,
  });
  // The conf entry first: from here on no runtime calls the plugin for new pods.
  const confFiles = await reconciler.removeAll();
  for (const f of confFiles) {
    log(`removed the tsn-proxy entry from ${f}`, {
      event: "conf.removed",
      file: f,
      reason: "uninstall",
    });
  }
  const datapath = new NodeDatapath({
    strategy: getStrategy(cfg.strategy),
    bpffs: cfg.bpffs,
    restoreOn: cfg.restoreOn,
    stateFile: stateFileOf(cfg),
    maxAgeMs: cfg.maxAgeMs,
  });
  datapath.down(log);
  log(`datapath removed (${cfg.bpffs})`, { event: "datapath.removed", bpffs: cfg.bpffs });
  new AttachmentIndex(indexFileOf(cfg)).clear();
  await Deno.remove(cfg.socketPath).catch(() => {});
  const pluginFiles = await uninstallPlugin(cfg.cni.binDir);
  if (pluginFiles.length) {
    log(`removed ${pluginFiles.join(", ")} from ${cfg.cni.binDir}`, {
      event: "plugin.removed",
      binDir: cfg.cni.binDir,
      files: pluginFiles,
    });
  }
  await Deno.remove(cfg.stateDir).catch(() => {}); // only when empty
  return { confFiles, pluginFiles };
}
