/**
 * What the agent does for each CNI request the plugin forwards: decide the opt-in (the plugin's
 * reading, else the Kubernetes API), apply the namespace policy, attach or detach the pod's saver
 * through the datapath, and keep the attachment index. Every failure is a CNI error code; ADD
 * leaves nothing behind when it fails.
 *
 * @example
 * ```ts ignore
 * import { CniHandler } from "./handler.ts";
 * const handler = new CniHandler({ datapath, index, policy, ready: () => null, log: console.log });
 * const res = await handler.handle(request);
 * ```
 */
import {
  ErrorCode,
  netnsPathProblem,
  readPod,
  validContainerId,
  validIfname,
} from "@tsn-proxy/cni";
import type { AgentRequest, AgentResponse } from "@tsn-proxy/cni/protocol";
import { attachmentId, type AttachmentIndex, type AttachmentRecord } from "./attachments.ts";
import type { PodLookup } from "./k8s.ts";
import { errorMessage, type Log } from "./log.ts";
import { maxPriorityFor, type Policy, txtimeFor, type TxtimeRule } from "./policy.ts";

/** What a pod's saver is configured with: its namespace's rules and the pod's default class. */
export interface SaverSettings {
  /** The namespace's clamp (absent: none). */
  readonly maxPriority?: number;
  /** The pod's default class: the priority of its packets that carry none (absent: none). */
  readonly defaultPriority?: number;
  /** Whether the saver lets the pod's txtimes through, and the horizon beyond which it does not. */
  readonly txtime?: TxtimeRule;
}

/** The datapath as the handler needs it (the real one wraps @tsn-proxy/bpf/datapath). */
export interface DatapathPort {
  /** Why pods cannot be attached right now, or null. */
  notReady(): string | null;
  /** Attaches a saver with its settings (idempotent for the same id, netns and ifname). */
  attach(o: { id: string; netns: string; ifname: string } & SaverSettings): void;
  /** Detaches a saver; false when the id was not attached. */
  detach(id: string): boolean;
  /** True when the datapath state lists the id. */
  has(id: string): boolean;
  /** Pins of the id's saver that are missing (empty: intact). */
  missingPins(id: string): string[];
  /**
   * Gives a running saver all its settings anew, in place (what is absent is reset: a caller
   * keeps the default class by passing it); false when it is not attached.
   */
  setSettings?(id: string, settings: SaverSettings): boolean;
}

/** What the agent decided for a pod (ADD) or an attachment (DEL, GC, sweep). */
export type PodDecision = "attached" | "skipped" | "refused" | "failed" | "detached";

/** Counters the handler feeds. */
export interface HandlerMetrics {
  optInLookup(result: "opted-in" | "not-opted-in" | "not-found" | "error"): void;
  attachments(n: number): void;
  /** One per decision. */
  decision?(d: PodDecision): void;
  /** An opted-in pod got a priority clamp from the policy (namespace "" when unknown). */
  clamp?(namespace: string): void;
  /** A policy change re-applied a running saver's settings (ok) or could not (error). */
  reclamp?(result: "ok" | "error"): void;
  /** An opted-in pod got a default class (namespace "" when unknown). */
  defaultClass?(namespace: string): void;
}

/** What the handler needs. */
export interface HandlerDeps {
  readonly datapath: DatapathPort;
  readonly index: AttachmentIndex;
  readonly policy: Policy;
  /** The API fallback; undefined when disabled. */
  readonly lookup?: PodLookup;
  /** Why the node is not ready (STATUS), or null. */
  readonly ready: () => string | null;
  readonly log: Log;
  readonly metrics?: HandlerMetrics;
  /** True when a netns path is the agent's own (the node's); default: compares the inodes. */
  readonly isNodeNetns?: (path: string) => boolean;
  /**
   * Why a netns path is not one the runtimes create, or null; default: {@link netnsPathProblem}
   * (tests that stand a temp file in for a netns pass their own).
   */
  readonly netnsProblem?: (path: string) => string | null;
}

/** True when `path` is the network namespace this process runs in (same device and inode). */
function isOwnNetns(path: string, own = "/proc/self/ns/net"): boolean {
  try {
    const a = Deno.statSync(path), b = Deno.statSync(own);
    return a.dev === b.dev && a.ino !== null && a.ino === b.ino;
  } catch {
    return false;
  }
}

/** A decided opt-in, and the pod's default class from the same annotations. */
interface OptIn {
  readonly optedIn: boolean;
  readonly source: string;
  readonly defaultPriority?: number;
  readonly defaultPriorityProblem?: string;
}

/** The txtime rule as an attachment record keeps it (JSON has no bigint). */
function recordedTxtime(rule: TxtimeRule): NonNullable<AttachmentRecord["txtime"]> {
  return { allowed: rule.allowed, horizonNs: String(rule.horizonNs) };
}

function describeTxtime(t: AttachmentRecord["txtime"]): string {
  if (!t) return "unknown";
  if (!t.allowed) return "denied";
  return t.horizonNs === "0" ? "allowed" : `allowed up to ${Number(t.horizonNs) / 1e6} ms ahead`;
}

function ok(extra: { attached?: boolean; detail?: string } = {}): AgentResponse {
  return { v: 1, ok: true, ...extra };
}

function fail(code: number, msg: string, details = ""): AgentResponse {
  return { v: 1, ok: false, code, msg, ...(details ? { details } : {}) };
}

function netnsExists(path: string): boolean {
  if (!path) return false;
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Handles forwarded CNI requests. */
export class CniHandler {
  #policy: Policy;

  constructor(readonly deps: HandlerDeps) {
    this.#policy = deps.policy;
  }

  /** The policy new attachments get. */
  get policy(): Policy {
    return this.#policy;
  }

  /**
   * Makes `policy` the one new pods get and gives every running saver whose namespace's maximum
   * or txtime rule changed its whole config anew, in place (see `setPodSettings`), keeping the
   * pod's default class. Returns how many savers changed and failed; a failure is logged and
   * counted, and the saver keeps its old config.
   */
  applyPolicy(policy: Policy): { changed: number; failed: number } {
    this.#policy = policy;
    let changed = 0, failed = 0;
    for (const rec of this.deps.index.list()) {
      if (rec.status !== "attached") continue;
      const max = maxPriorityFor(policy, rec.podNamespace);
      const rule = txtimeFor(policy, rec.podNamespace);
      const txtime = recordedTxtime(rule);
      // A record written before the agent kept txtime rules: re-applied (idempotent if equal).
      const sameTxtime = rec.txtime?.allowed === txtime.allowed &&
        rec.txtime.horizonNs === txtime.horizonNs;
      if (max === rec.maxPriority && sameTxtime) continue;
      const who = { id: rec.id, namespace: rec.podNamespace ?? "", pod: rec.podName ?? "" };
      try {
        const settings: SaverSettings = {
          ...(max === null ? {} : { maxPriority: max }),
          ...(rec.defaultPriority === undefined ? {} : { defaultPriority: rec.defaultPriority }),
          txtime: rule,
        };
        if (!this.deps.datapath.setSettings?.(rec.id, settings)) {
          throw new Error("the saver is not in the datapath");
        }
        this.deps.index.put({ ...rec, maxPriority: max, txtime });
        changed++;
        this.deps.metrics?.reclamp?.("ok");
        this.deps.log(
          `policy: ${rec.id} now carries priorities up to ${max ?? "unlimited"} ` +
            `(was ${rec.maxPriority ?? "unlimited"}), txtimes ${describeTxtime(txtime)} ` +
            `(was ${describeTxtime(rec.txtime)})`,
          {
            event: "policy.reclamped",
            ...who,
            maxPriority: max,
            was: rec.maxPriority,
            txtime: describeTxtime(txtime),
            wasTxtime: describeTxtime(rec.txtime),
          },
        );
      } catch (e) {
        failed++;
        this.deps.metrics?.reclamp?.("error");
        this.deps.log(`policy: cannot re-clamp ${rec.id}: ${errorMessage(e)}`, {
          event: "policy.reclamp_failed",
          level: "error",
          ...who,
          error: errorMessage(e),
        });
      }
    }
    return { changed, failed };
  }

  /** Handles one request; never throws. */
  async handle(req: AgentRequest): Promise<AgentResponse> {
    try {
      switch (req.command) {
        case "ADD":
          return await this.#add(req);
        case "DEL":
          return this.#del(req);
        case "CHECK":
          return await this.#check(req);
        case "GC":
          return this.#gc(req);
        case "STATUS": {
          const why = this.deps.ready();
          return why === null ? ok() : fail(ErrorCode.PluginNotAvailable, "not ready", why);
        }
        default:
          return fail(
            ErrorCode.AgentProtocol,
            `unknown command ${JSON.stringify((req as { command: unknown }).command)}`,
          );
      }
    } catch (e) {
      return fail(ErrorCode.Internal, `tsn-proxy agent failed on ${req.command}`, errorMessage(e));
    } finally {
      this.deps.metrics?.attachments(this.#count());
    }
  }

  #count(): number {
    try {
      return this.deps.index.list().length;
    } catch {
      return 0;
    }
  }

  async #decide(req: AgentRequest): Promise<OptIn> {
    if (req.optIn !== "unknown") {
      return {
        optedIn: req.optIn === "yes",
        source: req.optInSource,
        ...(req.defaultPriority === undefined ? {} : { defaultPriority: req.defaultPriority }),
        ...(req.defaultPriorityProblem === undefined
          ? {}
          : { defaultPriorityProblem: req.defaultPriorityProblem }),
      };
    }
    const { namespace: ns, name } = readPod(req.args, undefined);
    if (!this.deps.lookup) {
      return { optedIn: false, source: "no annotations passed and the API lookup is disabled" };
    }
    if (!ns || !name) {
      return {
        optedIn: false,
        source: "no annotations passed and no valid K8S_POD_NAMESPACE/NAME",
      };
    }
    try {
      const annotations = await this.deps.lookup.annotations(ns, name);
      if (annotations === null) {
        this.deps.metrics?.optInLookup("not-found");
        return { optedIn: false, source: `pod ${ns}/${name} not found in the API` };
      }
      // The same reading as the plugin's, with the API's annotations in place of the runtime's.
      const { optIn, defaultPriority, defaultPriorityProblem } = readPod(req.args, annotations);
      const yes = optIn.decision === "yes";
      this.deps.metrics?.optInLookup(yes ? "opted-in" : "not-opted-in");
      return {
        optedIn: yes,
        source: `API: ${optIn.source} (pod ${ns}/${name})`,
        ...(defaultPriority === undefined ? {} : { defaultPriority }),
        ...(defaultPriorityProblem === undefined ? {} : { defaultPriorityProblem }),
      };
    } catch (e) {
      // Fail open: a pod that did not opt in must never be blocked by an API outage.
      this.deps.metrics?.optInLookup("error");
      this.deps.log(`opt-in lookup of ${ns}/${name} failed (${errorMessage(e)}); not attaching`, {
        event: "optin.lookup_failed",
        level: "warn",
        namespace: ns,
        pod: name,
        error: errorMessage(e),
      });
      return { optedIn: false, source: `API lookup failed: ${errorMessage(e)}` };
    }
  }

  async #add(req: AgentRequest): Promise<AgentResponse> {
    const decision = await this.#decide(req);
    // The namespace the policy clamps by: read like the plugin reads it; an invalid one is
    // unknown and gets the policy's default.
    const { namespace, name: podName } = readPod(req.args, undefined);
    const who = {
      containerId: req.containerId,
      ifname: req.ifname,
      ...(namespace ? { namespace } : {}),
      ...(podName ? { pod: podName } : {}),
    };
    const label = podName ? `${namespace ?? "?"}/${podName}` : req.containerId;
    const invalid = decision.optedIn ? this.#invalidTarget(req) : null;
    if (invalid !== null) {
      this.deps.metrics?.decision?.("failed");
      this.deps.log(`refused ${label}: ${invalid}`, {
        event: "pod.attach_failed",
        level: "error",
        ...who,
        error: invalid,
      });
      return fail(ErrorCode.InvalidEnv, "invalid attachment for a tsn-proxy saver", invalid);
    }
    if (!decision.optedIn) {
      this.deps.metrics?.decision?.("skipped");
      this.deps.log(`skipped ${label}: not opted in (${decision.source})`, {
        event: "pod.skipped",
        ...who,
        reason: decision.source,
      });
      return ok({ attached: false, detail: decision.source });
    }
    const why = this.deps.datapath.notReady();
    if (why !== null) {
      this.deps.metrics?.decision?.("refused");
      this.deps.log(`refused ${label} (CNI error 11, the runtime retries): ${why}`, {
        event: "pod.refused",
        level: "warn",
        ...who,
        code: ErrorCode.TryAgainLater,
        reason: why,
      });
      return fail(ErrorCode.TryAgainLater, "tsn-proxy datapath is not ready on this node", why);
    }
    const { datapath, index } = this.deps;
    const id = attachmentId(req.network, req.containerId, req.ifname);
    const known = index.get(id);
    if (known?.status === "attached" && known.netns === req.netns && datapath.has(id)) {
      return ok({ attached: true, detail: `already attached as ${id}` });
    }
    const maxPriority = maxPriorityFor(this.#policy, namespace);
    const txtime = txtimeFor(this.#policy, namespace);
    const { defaultPriority, defaultPriorityProblem } = decision;
    if (defaultPriorityProblem !== undefined) {
      this.deps.log(`policy: ${label} gets no default class: ${defaultPriorityProblem}`, {
        event: "pod.default_priority_ignored",
        level: "warn",
        ...who,
        id,
        reason: defaultPriorityProblem,
      });
    }
    if (defaultPriority !== undefined) {
      this.deps.metrics?.defaultClass?.(namespace ?? "");
      const clamped = maxPriority !== null && defaultPriority > maxPriority;
      this.deps.log(
        `policy: ${label}'s packets without a priority of their own get ${defaultPriority}` +
          (clamped ? `, clamped to ${maxPriority}` : ""),
        { event: "policy.default_class", ...who, id, defaultPriority, maxPriority },
      );
    }
    if (maxPriority !== null) {
      const rule = namespace !== undefined && Object.hasOwn(this.#policy.namespaces, namespace)
        ? `namespaces.${namespace}`
        : "defaultMaxPriority";
      this.deps.metrics?.clamp?.(namespace ?? "");
      this.deps.log(
        `policy: ${label} may carry priorities up to ${maxPriority} (${rule}); ` +
          "higher ones are clamped",
        { event: "policy.clamp", ...who, id, maxPriority, rule },
      );
    }
    const record: AttachmentRecord = {
      id,
      network: req.network,
      containerId: req.containerId,
      ifname: req.ifname,
      netns: req.netns,
      ...(namespace ? { podNamespace: namespace } : {}),
      ...(podName ? { podName } : {}),
      maxPriority,
      ...(defaultPriority === undefined ? {} : { defaultPriority }),
      txtime: recordedTxtime(txtime),
      optInSource: decision.source,
      status: "pending",
      since: new Date().toISOString(),
    };
    index.put(record);
    try {
      datapath.attach({
        id,
        netns: req.netns,
        ifname: req.ifname,
        ...(maxPriority === null ? {} : { maxPriority }),
        ...(defaultPriority === undefined ? {} : { defaultPriority }),
        txtime,
      });
    } catch (e) {
      // Datapath.attach rolled its own steps back; drop the record unless an older attach stands.
      if (!datapath.has(id)) index.remove(id);
      this.deps.metrics?.decision?.("failed");
      this.deps.log(`cannot attach ${id} (${label}): ${errorMessage(e)}`, {
        event: "pod.attach_failed",
        level: "error",
        ...who,
        id,
        error: errorMessage(e),
      });
      return fail(
        ErrorCode.AgentFailure,
        `cannot attach the tsn-proxy saver to ${req.ifname}`,
        errorMessage(e),
      );
    }
    try {
      index.put({ ...record, status: "attached" });
    } catch (e) {
      datapath.detach(id);
      index.remove(id);
      return fail(ErrorCode.AgentFailure, "cannot record the attachment", errorMessage(e));
    }
    this.deps.metrics?.decision?.("attached");
    this.deps.log(
      `attached ${id} (${label}, max priority ${maxPriority ?? "unlimited"}, ${decision.source})`,
      {
        event: "pod.attached",
        ...who,
        id,
        netns: req.netns,
        maxPriority,
        ...(defaultPriority === undefined ? {} : { defaultPriority }),
        optInSource: decision.source,
      },
    );
    return ok({ attached: true, detail: id });
  }

  /**
   * Why a saver must not be attached where the request points, or null. The plugin checks the
   * same, but the agent does not rely on it: a saver in the node's own netns would record every
   * packet of a node interface.
   */
  #invalidTarget(req: AgentRequest): string | null {
    if (!validContainerId(req.containerId)) {
      return `container id ${JSON.stringify(req.containerId.slice(0, 80))} is not valid`;
    }
    if (!validIfname(req.ifname)) {
      return `interface name ${JSON.stringify(req.ifname.slice(0, 80))} is not valid`;
    }
    if (!req.netns.startsWith("/")) {
      return `netns ${JSON.stringify(req.netns.slice(0, 200))} is not an absolute path`;
    }
    const problem = (this.deps.netnsProblem ?? netnsPathProblem)(req.netns);
    if (problem !== null) return problem;
    if ((this.deps.isNodeNetns ?? isOwnNetns)(req.netns)) {
      return `netns ${req.netns} is the node's own network namespace, not a pod's`;
    }
    return null;
  }

  #del(req: AgentRequest): AgentResponse {
    const id = attachmentId(req.network, req.containerId, req.ifname);
    return this.#remove(id, "DEL")
      ? ok({ detail: `detached ${id}` })
      : ok({ detail: "nothing attached" });
  }

  /** Detaches and forgets an id; true when there was something. Throws on kernel errors. */
  #remove(id: string, reason: string): boolean {
    const { datapath, index } = this.deps;
    const rec = index.get(id);
    const had = datapath.has(id) ? datapath.detach(id) : false;
    const recorded = index.remove(id);
    if (had || recorded) {
      this.deps.metrics?.decision?.("detached");
      this.deps.log(`detached ${id} (${reason})`, {
        event: "pod.detached",
        id,
        reason,
        ...(rec?.podNamespace ? { namespace: rec.podNamespace } : {}),
        ...(rec?.podName ? { pod: rec.podName } : {}),
        containerId: rec?.containerId,
      });
    }
    return had || recorded;
  }

  async #check(req: AgentRequest): Promise<AgentResponse> {
    const id = attachmentId(req.network, req.containerId, req.ifname);
    const rec = this.deps.index.get(id);
    const decision = req.optIn === "unknown" && rec
      ? { optedIn: true, source: rec.optInSource }
      : await this.#decide(req);
    if (!decision.optedIn) return ok({ attached: false });
    if (!this.deps.datapath.has(id)) {
      return fail(
        ErrorCode.AttachmentMissing,
        "tsn-proxy saver missing",
        `the pod opted in (${decision.source}) but ${id} is not attached`,
      );
    }
    const missing = this.deps.datapath.missingPins(id);
    if (missing.length) {
      return fail(
        ErrorCode.AttachmentMissing,
        "tsn-proxy saver damaged",
        `missing ${missing.join(", ")}`,
      );
    }
    return ok({ attached: true });
  }

  #gc(req: AgentRequest): AgentResponse {
    const valid = new Set(
      (req.validAttachments ?? []).map((a) => attachmentId(req.network, a.containerID, a.ifname)),
    );
    const stale = this.deps.index.list().filter((r) =>
      r.network === req.network && !valid.has(r.id)
    );
    for (const r of stale) this.#remove(r.id, "GC: not in the runtime's valid attachments");
    return ok({ detail: `removed ${stale.length} stale attachment(s)` });
  }

  /**
   * Removes attachments whose netns is gone (a DEL the agent missed while it was down) and
   * pending records whose attach never completed. Returns how many it removed.
   */
  sweep(): number {
    let removed = 0;
    for (const r of this.deps.index.list()) {
      const gone = !netnsExists(r.netns);
      const unfinished = r.status === "pending" && !this.deps.datapath.has(r.id);
      if (!gone && !unfinished) continue;
      try {
        this.#remove(r.id, gone ? "sweep: its netns is gone" : "sweep: attach never completed");
        removed++;
      } catch (e) {
        this.deps.log(`sweep: cannot remove ${r.id}: ${errorMessage(e)}`, {
          event: "sweep.failed",
          level: "error",
          id: r.id,
          error: errorMessage(e),
        });
      }
    }
    this.deps.metrics?.attachments(this.#count());
    return removed;
  }
}
